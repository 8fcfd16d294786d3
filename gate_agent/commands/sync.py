"""`gate-agent sync`: one push and one pull now; exit 0 only when both succeeded."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import GateDataError
from ..sync.client import DeviceRevoked, SyncClient, SyncError
from ..sync.clock import wall_clock_from_env
from ._common import data_dir_option, open_gate


@click.command("sync")
@data_dir_option
def sync_command(data_dir: Path) -> None:
    """Push unsynced scans and pull changes from the hub once (for operators and scripts)."""
    with open_gate(data_dir) as gate:
        try:
            client = SyncClient(data_dir, gate.store, gate, wall_clock=wall_clock_from_env())
        except GateDataError as exc:
            raise click.ClickException(str(exc)) from None
        failures = []
        try:
            for name, op in (("push", client.push_once), ("pull", client.pull_once)):
                try:
                    result = op()
                except DeviceRevoked as exc:
                    raise click.ClickException(str(exc)) from None
                except (SyncError, GateDataError) as exc:
                    failures.append(name)
                    click.echo(f"{name}: failed: {exc}", err=True)
                    continue
                click.echo(f"{name}: ok {_describe(result)}")
        finally:
            client.close()
        click.echo(f"backlog: {gate.store.unsynced_count()} unsynced scan(s)")
    if failures:
        raise SystemExit(1)


def _describe(result) -> str:
    return ", ".join(f"{k} {v}" for k, v in vars(result).items())
