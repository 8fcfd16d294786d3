"""The gate agent's command line, `gate-agent`.

Each sub-command lives in gate_agent/commands/ and is registered below.
"""
from __future__ import annotations

import logging

import click


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """ticketgate gate agent: scan and check tickets at the door, online or offline."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# Sub-commands register here, one line each:
from .commands.init import init_command  # noqa: E402
from .commands.scan import scan_command  # noqa: E402
from .commands.status import status_command  # noqa: E402
from .commands.decode import decode_command  # noqa: E402
from .commands.run import run_command  # noqa: E402
from .commands.enroll import enroll_command  # noqa: E402
from .commands.sync import sync_command  # noqa: E402

main.add_command(init_command)
main.add_command(scan_command)
main.add_command(status_command)
main.add_command(decode_command)
main.add_command(run_command)
main.add_command(enroll_command)
main.add_command(sync_command)
