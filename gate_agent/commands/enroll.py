"""`gate-agent enroll`: register this gate with the hub using a one-time enrolment token."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..config import SETTING
from ..sync.enroll import EnrolmentError, enroll, parse_enrolment_text
from ..sync.identity import is_enrolled


@click.command("enroll")
@click.option(
    "--data-dir",
    required=True,
    envvar=SETTING["GATE_DATA_DIR"].variable,
    type=click.Path(path_type=Path, file_okay=False),
    help="The gate's data folder (created when missing).",
)
@click.option("--hub", "hub_url", help="The hub's base URL, e.g. https://tickets.example.org")
@click.option("--token", help="The one-time enrolment token printed by `tickethub devices create`.")
@click.option(
    "--qr",
    "qr_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A picture of the enrolment QR code (holds the hub URL and the token).",
)
@click.option("--camera", help="Read the enrolment QR from this camera (e.g. 0).")
@click.option(
    "--source", "source_spec", help="Read it from any frame source, as for `run` (picamera, a video file...)."
)
@click.option("--camera-timeout", default=60.0, show_default=True, help="Seconds to wait for the QR.")
@click.option("--force", is_flag=True, help="Enrol again over an existing enrolment.")
def enroll_command(data_dir, hub_url, token, qr_file, camera, source_spec, camera_timeout, force) -> None:
    """Create this gate's key, register it with the hub, and fetch keys, revocations and settings."""
    if is_enrolled(data_dir) and not force:
        raise click.ClickException(f"{data_dir} is already enrolled: pass --force to enrol it again")
    given = sum(bool(x) for x in (token, qr_file, camera, source_spec))
    if given != 1:
        raise click.UsageError("give exactly one of --token (with --hub), --qr FILE, --camera N or --source SPEC")
    try:
        if qr_file:
            hub_url, token = parse_enrolment_text(_decode_file(qr_file))
        elif camera or source_spec:
            spec = f"camera:{camera}" if camera else source_spec
            hub_url, token = parse_enrolment_text(_read_frames(spec, camera_timeout))
        elif not hub_url:
            raise click.UsageError("--token needs --hub URL")
        result = enroll(data_dir, hub_url, token)
    except EnrolmentError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f'enrolled {data_dir} as device {result["device"]["id"]} "{result["gate_name"]}" '
        f"(events {', '.join(map(str, result['events']))}) with hub {hub_url}"
    )


def _decode_file(path: Path) -> str:
    import cv2

    from ..scanner import make_decoder

    image = cv2.imread(str(path))
    if image is None:
        raise EnrolmentError(f"cannot read the image {path}")
    for text in make_decoder("zxing").decode(image):
        if text.startswith("TGE1:"):
            return text
    raise EnrolmentError(f"no enrolment QR code found in {path}")


def _read_frames(spec: str, timeout: float) -> str:
    """Decode frames (the camera's, or any source's) until an enrolment QR shows up."""
    from ..scanner import SourceError, make_decoder, open_source

    decoder = make_decoder("zxing")
    try:
        source = open_source(spec)
    except SourceError as exc:
        raise EnrolmentError(str(exc)) from None
    deadline = time.monotonic() + timeout
    try:
        for frame in source.frames():
            if frame.image is not None:
                for text in decoder.decode(frame.image):
                    if text.startswith("TGE1:"):
                        return text
            if time.monotonic() > deadline:
                break
    finally:
        source.close()
    raise EnrolmentError(f"no enrolment QR code seen in {spec} within {timeout:.0f} s")
