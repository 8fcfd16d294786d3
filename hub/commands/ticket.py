"""`tickethub ticket`: sign, verify and render single tickets (for operators and tests)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from common.signing import KeyMaterialError, Keyring, load_current_key, sign_ticket, verify_ticket
from common.signing.qr import save_qr

from ._common import key_passphrase, parse_iso, parse_zones


@click.group("ticket")
def ticket_group() -> None:
    """Sign, verify and render ticket codes."""


@ticket_group.command("encode")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--event", "event_id", required=True, type=click.IntRange(0))
@click.option("--ticket", "ticket_id", required=True, type=click.IntRange(0))
@click.option("--type", "ticket_type", required=True, type=click.IntRange(0))
@click.option("--zones", default=None, help="Entry zones 1-16, e.g. 1,2 (none: every zone).")
@click.option("--seat", type=click.IntRange(0), default=None, help="Seat index in the event's seat map.")
@click.option("--not-before", default=None, help="ISO 8601; UTC when no zone is given.")
@click.option("--not-after", default=None, help="ISO 8601; UTC when no zone is given.")
def ticket_encode(directory, event_id, ticket_id, ticket_type, zones, seat, not_before, not_after) -> None:
    """Print the signed text of one ticket, signed with the newest key in DIR."""
    try:
        key = load_current_key(directory, key_passphrase())
    except KeyMaterialError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        text = sign_ticket(
            key,
            event_id=event_id,
            ticket_id=ticket_id,
            ticket_type=ticket_type,
            zones=parse_zones(zones),
            seat=seat,
            not_before=parse_iso(not_before, "--not-before"),
            not_after=parse_iso(not_after, "--not-after"),
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(text)


@ticket_group.command("verify")
@click.option("--keyring", "keyring_path", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--at", default=None, help="Check validity at this ISO 8601 time (default: now).")
@click.argument("text")
def ticket_verify(keyring_path: Path, at: str | None, text: str) -> None:
    """Print one JSON object: {"valid": true, ...fields} or {"valid": false, "reason": ...}.

    Exits 0 whatever the verdict; 2 only for usage errors.
    """
    try:
        keyring = Keyring.load(keyring_path)
    except KeyMaterialError as exc:
        raise click.BadParameter(str(exc), param_hint="--keyring") from None
    when = parse_iso(at, "--at") or time.time()
    click.echo(json.dumps(verify_ticket(text, keyring, when).to_json()))


@ticket_group.command("qr")
@click.argument("text")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="FILE.png or FILE.svg")
@click.option("--scale", default=10, type=click.IntRange(1, 100), help="Pixels per module.")
def ticket_qr(text: str, out: Path, scale: int) -> None:
    """Write the QR of TEXT and print its version and error-correction level."""
    if out.suffix.lower() not in (".png", ".svg"):
        raise click.BadParameter("the file name must end in .png or .svg", param_hint="--out")
    qr = save_qr(text, out, scale=scale)
    click.echo(
        f"version {qr.version} ({qr.symbol_size(border=0)[0]}x{qr.symbol_size(border=0)[1]}), ECC {qr.error}, mode {qr.mode}"
    )
