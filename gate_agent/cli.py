"""The gate agent's command line, `gate-agent`: each sub-command lives in gate_agent/commands/."""

from __future__ import annotations

import logging

import click

from common.cli import LazyGroup

# Each sub-command's module is imported only when that command runs, so
# `gate-agent --help` and `gate-agent status` do not load OpenCV or the decoders.
COMMANDS = {
    "decode": ("gate_agent.commands.decode:decode_command", "Decode QR codes in image files and print them as JSON."),
    "enroll": (
        "gate_agent.commands.enroll:enroll_command",
        "Create this gate's key, register it with the hub, and fetch its configuration.",
    ),
    "init": (
        "gate_agent.commands.init:init_command",
        "Create a gate data folder from a public keyring and event settings.",
    ),
    "run": (
        "gate_agent.commands.run:run_command",
        "Run the gate: scan, decide offline, record, and show each verdict.",
    ),
    "scan": ("gate_agent.commands.scan:scan_command", "Check codes from files (images, videos, folders) or stdin."),
    "status": (
        "gate_agent.commands.status:status_command",
        "Show the gate's configuration, keys, revocations and scan counts.",
    ),
    "sync": ("gate_agent.commands.sync:sync_command", "Push unsynced scans and pull changes from the hub once."),
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """ticketgate gate agent: scan and check tickets at the door, online or offline."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
