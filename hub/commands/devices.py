"""`tickethub devices`: gate devices and their one-time enrolment tokens."""

from __future__ import annotations

import json
from pathlib import Path

import click

from common.protocol import DEFAULT_DIRECTION, DIRECTIONS
from common.signing.qr import save_qr
from hub.services import ServiceError
from hub.services import devices as device_service

from ._app import ready_engine
from ._common import parse_zones

HUB_URL_ENV = "TICKETHUB_PUBLIC_URL"


def enrolment_text(hub_url: str, token: str) -> str:
    from hub.api.devices import enrolment_text as text

    return text(hub_url, token)


@click.group("devices")
def devices_group() -> None:
    """Enrol, list, rename, reassign and revoke gate devices."""


def _print_token(device: dict, token: str, hub_url: str, qr: Path | None) -> None:
    click.echo(f'device {device["id"]} "{device["name"]}" (event {device["event_id"]}, {device["direction"]})')
    click.echo(f"enrolment token (works once, expires in {device_service.ENROLMENT_TTL}): {token}")
    click.echo(f"on the gate: gate-agent enroll --data-dir DATA --hub {hub_url} --token {token}")
    if qr is not None:
        save_qr(enrolment_text(hub_url, token), qr)
        click.echo(f"enrolment QR (hub URL and token) written to {qr}")


@devices_group.command("create")
@click.option("--name", required=True, help="Shown at the door and in reports, e.g. 'Gate A'.")
@click.option("--event", "event_id", required=True, type=click.IntRange(min=1), help="Event id the gate admits.")
@click.option("--zones", default="", help="Zones the gate admits, e.g. 1,2 (default: every zone).")
@click.option("--direction", type=click.Choice(DIRECTIONS), default=DEFAULT_DIRECTION, show_default=True)
@click.option(
    "--hub-url",
    envvar=HUB_URL_ENV,
    default="http://127.0.0.1:8080",
    show_default=True,
    help="The URL gates use to reach this hub (goes into the QR).",
)
@click.option(
    "--qr",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the enrolment QR to this PNG/SVG file (default: device-<id>-enrol.png).",
)
def devices_create(name, event_id, zones, direction, hub_url, qr) -> None:
    """Create a device and print its one-time enrolment token (and write it as a QR)."""
    with ready_engine().connect() as conn:
        try:
            device, token = device_service.create_device(
                conn, {"name": name, "event_id": event_id, "zones": parse_zones(zones), "direction": direction}
            )
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
    _print_token(device, token, hub_url, qr or Path(f"device-{device['id']}-enrol.png"))


@devices_group.command("token")
@click.argument("device_id", type=int)
@click.option("--hub-url", envvar=HUB_URL_ENV, default="http://127.0.0.1:8080", show_default=True)
@click.option("--qr", type=click.Path(path_type=Path, dir_okay=False))
def devices_token(device_id, hub_url, qr) -> None:
    """A new enrolment token for an existing device (e.g. a replaced SD card)."""
    with ready_engine().connect() as conn:
        try:
            token = device_service.new_enrolment_token(conn, device_id)
            device = device_service.get_device(conn, device_id)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
    _print_token(device, token, hub_url, qr)


@devices_group.command("list")
@click.option("--event", "event_id", type=int, help="Only this event's devices.")
@click.option("--json", "as_json", is_flag=True)
def devices_list(event_id, as_json) -> None:
    """Devices with their state, last sync, clock offset and backlog."""
    with ready_engine().connect() as conn:
        items = device_service.list_devices(conn, event_id)
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for d in items:
        offset = f"{d['clock_offset_s']:+.2f}s" if d["clock_offset_s"] is not None else "-"
        click.echo(
            f"{d['id']:>4}  {d['name']:<20} event {d['event_id']:<5} {d['direction']:<5} {d['status']:<8} "
            f"last sync {d['last_sync_at'] or 'never'}  offset {offset}  backlog {d['backlog'] or 0}"
        )


@devices_group.command("rename")
@click.argument("device_id", type=int)
@click.argument("name")
def devices_rename(device_id, name) -> None:
    _change(device_id, {"name": name})


@devices_group.command("reassign")
@click.argument("device_id", type=int)
@click.option("--event", "event_id", type=click.IntRange(min=1))
@click.option("--zones", help="e.g. 1,2; empty string for every zone")
@click.option("--direction", type=click.Choice(DIRECTIONS))
def devices_reassign(device_id, event_id, zones, direction) -> None:
    """Move a device to another event, zones or direction (applied at its next pull)."""
    changes = {"event_id": event_id, "direction": direction}
    if zones is not None:
        changes["zones"] = parse_zones(zones)
    _change(device_id, {k: v for k, v in changes.items() if v is not None})


@devices_group.command("revoke")
@click.argument("device_id", type=int)
def devices_revoke(device_id) -> None:
    """Lock a device out: every later call gets 401 and the gate stops admitting."""
    with ready_engine().connect() as conn:
        try:
            device = device_service.revoke_device(conn, device_id)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(f'device {device["id"]} "{device["name"]}" revoked')


def _change(device_id: int, changes: dict) -> None:
    with ready_engine().connect() as conn:
        try:
            device = device_service.change_device(conn, device_id, changes)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(
        f'device {device["id"]} "{device["name"]}": event {device["event_id"]}, zones '
        f"{device['zones'] or 'all'}, {device['direction']} (config version {device['config_version']})"
    )
