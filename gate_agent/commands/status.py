"""`gate-agent status`: configuration and scan counts of a data folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..messages import format_time
from ..peers.roster import load_roster
from ._common import data_dir_option, open_gate


@click.command("status")
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status_command(data_dir: Path, as_json: bool) -> None:
    """Show the gate's configuration, keys, revocations and scan counts."""
    with open_gate(data_dir) as gate:
        data, config, store = gate.data, gate.config, gate.store
        info = {
            "data_dir": str(data.data_dir),
            "gate": config.to_json(),
            "keys": [entry.kid for entry in data.keyring],
            "revocations": {"seq": data.revocations.seq, "count": len(data.revocations)},
            "store": {
                "path": str(store.path),
                "schema_version": store.schema_version(),
                "unsynced": store.unsynced_count(),
                "verdicts_here": store.verdict_counts(config.gate_id),
            },
            # the gate-to-gate exchange's roster (docs/peers.md)
            "peers": [{"device_id": p.device_id, "name": p.name, "address": p.address} for p in load_roster(data_dir)],
        }
    if as_json:
        click.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    now = gate.wall_clock()
    click.echo(f"Gate      {config.gate_name} ({config.gate_id}): {config.direction}, re-entry {config.reentry}")
    click.echo(f"Zones     {', '.join(map(str, sorted(config.zones))) or 'all'}")
    for event in sorted(config.events.values(), key=lambda e: e.event_id):
        window = " .. ".join(
            format_time(t, config.tz, now) if t is not None else "open" for t in (event.doors_open, event.ends)
        )
        click.echo(f"Event     {event.event_id} {event.name}  window {window}  seat labels {len(event.seat_labels)}")
    click.echo(f"Keys      {', '.join(info['keys'])}")
    click.echo(f"Revoked   {len(data.revocations)} ticket(s), list seq {data.revocations.seq}")
    click.echo(f"Hub       {config.hub_url or 'none (offline)'}")
    peers = [f"{p['name']} ({p['address'] or 'address not known yet'})" for p in info["peers"]]
    click.echo(f"Peers     {', '.join(peers) or 'none'}")
    click.echo(
        f"Store     {store.path} schema v{info['store']['schema_version']}, {info['store']['unsynced']} unsynced"
    )
    counts = info["store"]["verdicts_here"]
    click.echo("Scans     " + (", ".join(f"{v} {n}" for v, n in sorted(counts.items())) or "none yet"))
