"""`gate-agent init`: create a data folder without the hub (tests, operators)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import click

from common.protocol import DEFAULT_DIRECTION, DIRECTIONS

from ..config import (
    CONFIG_FILE,
    KEYRING_FILE,
    REENTRY_POLICIES,
    REVOCATIONS_FILE,
    EventConfig,
    GateConfig,
    GateDataError,
    config_from_json,
    load_keyring,
    load_revocations,
    parse_time,
    parse_zones,
    write_config,
)
from ..offline_store import OfflineStore, StoreError


@click.command("init")
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to create (or complete).",
)
@click.option(
    "--keyring",
    "keyring_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The hub's public keyring.json.",
)
@click.option(
    "--event",
    "event_ids",
    required=True,
    multiple=True,
    type=click.IntRange(min=0),
    help="Event id this gate admits (repeatable).",
)
@click.option("--doors-open", help="ISO 8601 time doors open, for tickets without their own window.")
@click.option("--ends", help="ISO 8601 time the event ends, for tickets without their own window.")
@click.option(
    "--seat-labels",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="JSON list of seat labels (index = seat number) for the events.",
)
@click.option("--zones", default="", help="Zones this gate admits, e.g. 1,2 (default: every zone).")
@click.option("--direction", type=click.Choice(DIRECTIONS), default=DEFAULT_DIRECTION, show_default=True)
@click.option(
    "--reentry",
    type=click.Choice(REENTRY_POLICIES),
    default="single",
    show_default=True,
    help="single entry, re-entry after an exit, or unlimited.",
)
@click.option("--gate-name", default="Gate", show_default=True, help="Shown to staff, e.g. 'Gate B'.")
@click.option("--gate-id", help="Stable id recorded with each scan (default: from the name).")
@click.option("--timezone", "tz", help="IANA time zone for the screen (default: this machine's).")
@click.option(
    "--revocations",
    "revocations_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A signed revocations.json to install.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing gate.json / keyring.json.")
def init_command(
    data_dir,
    keyring_file,
    event_ids,
    doors_open,
    ends,
    seat_labels,
    zones,
    direction,
    reentry,
    gate_name,
    gate_id,
    tz,
    revocations_file,
    force,
) -> None:
    """Create a gate data folder from a public keyring and event settings."""
    try:
        keyring = load_keyring(keyring_file)
        if revocations_file:
            load_revocations(revocations_file, keyring)  # refuse an unsigned or forged list now
        labels = _read_labels(seat_labels) if seat_labels else ()
        opened = parse_time(doors_open, "--doors-open")
        ended = parse_time(ends, "--ends")
        if opened is not None and ended is not None and opened > ended:
            raise click.BadParameter("doors open after the event ends", param_hint="--doors-open")
        events = {eid: EventConfig(eid, "", opened, ended, labels) for eid in event_ids}
        config = GateConfig(
            gate_id=gate_id or _slug(gate_name),
            gate_name=gate_name,
            events=events,
            zones=parse_zones(zones),
            direction=direction,
            reentry=reentry,
        )
        config = config_from_json({**config.to_json(), "timezone": tz})  # validates every field
    except GateDataError as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None

    if (data_dir / CONFIG_FILE).exists() and not force:
        raise click.ClickException(f"{data_dir / CONFIG_FILE} already exists: pass --force to replace it")
    data_dir.mkdir(parents=True, exist_ok=True)
    if keyring_file.resolve() != (data_dir / KEYRING_FILE).resolve():
        shutil.copyfile(keyring_file, data_dir / KEYRING_FILE)
    if revocations_file:
        shutil.copyfile(revocations_file, data_dir / REVOCATIONS_FILE)
    write_config(data_dir, config)
    try:
        with OfflineStore(data_dir / "gate.db") as store:
            version = store.schema_version()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"gate data folder {data_dir}: {config.gate_name} ({config.direction}, {config.reentry}), "
        f"events {', '.join(map(str, sorted(events)))}, {len(keyring)} key(s), store schema v{version}"
    )


def _read_labels(path: Path) -> tuple[str, ...]:
    try:
        labels = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read seat labels {path}: {exc}") from None
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise click.ClickException(f"{path} must hold a JSON list of strings (index = seat number)")
    return tuple(labels)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "gate"
