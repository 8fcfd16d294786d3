"""`gate-agent decode FILE...`: read the QR codes in image files, one JSON line per file."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
import cv2

from gate_agent.scanner import DECODER_NAMES, DecoderUnavailable, make_decoder, read_image

# Each file is a different picture with no next frame to carry on the passes: give them time.
FILE_BUDGET_MS = 100.0


def _line(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False)


def _error(file: str, code: str, message: str) -> str:
    return _line({"file": file, "error": {"code": code, "message": message}})


@click.command("decode")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True, path_type=Path))
@click.option(
    "--decoder",
    "decoder_name",
    type=click.Choice(DECODER_NAMES),
    default="zxing",
    show_default=True,
    help="QR decoder backend.",
)
@click.option(
    "--budget-ms",
    type=click.FloatRange(min=0),
    default=FILE_BUDGET_MS,
    show_default=True,
    help="Time allowed for extra passes (inverted, sharpened, ...) when the plain read misses; 0 = none.",
)
def decode_command(files: tuple[Path, ...], decoder_name: str, budget_ms: float) -> None:
    """Print {"file", "decoder", "codes", "ms"} per FILE; unreadable files get an error line.

    Exits 1 when any file could not be read (the other files are still decoded).
    """
    try:
        decoder = make_decoder(decoder_name, extra_passes_budget_ms=budget_ms)
    except DecoderUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    failed = 0
    for path in files:
        name = str(path)
        if not path.exists():
            click.echo(_error(name, "not_found", "no such file"))
        elif not path.is_file():
            click.echo(_error(name, "not_a_file", "not a regular file"))
        elif not os.access(path, os.R_OK):
            click.echo(_error(name, "permission_denied", "no permission to read this file"))
        elif (image := _read(path)) is None:
            click.echo(_error(name, "unreadable_image", "not an image OpenCV can read"))
        else:
            started = time.perf_counter()
            codes = decoder.decode(image)
            ms = (time.perf_counter() - started) * 1000.0
            click.echo(_line({"file": name, "decoder": decoder.name, "codes": codes, "ms": round(ms, 3)}))
            continue
        failed += 1
    if failed:
        raise SystemExit(1)


def _read(path: Path):
    try:
        return read_image(path)
    except (OSError, ValueError, cv2.error):  # never a traceback for one bad file
        return None
