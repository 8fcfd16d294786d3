"""`gate-agent scan`: run image/video files or typed codes through the whole pipeline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..pipeline import scan_frames
from ._common import data_dir_option, open_gate


@click.command("scan")
@data_dir_option
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=True))
@click.option("--text", "texts", multiple=True, help="A code as text, e.g. typed from a damaged QR (repeatable).")
@click.option("--decoder", type=click.Choice(["zxing", "pyzbar"]), default="zxing", show_default=True)
def scan_command(data_dir: Path, files: tuple[Path, ...], texts: tuple[str, ...], decoder: str) -> None:
    """Check codes from FILES (images, videos, folders; '-' reads one code per stdin line).

    Prints one JSON line per scan with its verdict; every scan is recorded in
    gate.db before its line is printed. Exit status 1 if a file could not be read.
    """
    if not files and not texts:
        raise click.UsageError("give at least one FILE or --text")
    if any(not text.strip() for text in texts):
        raise click.UsageError("--text is empty: give the code printed under the QR")
    failures = 0
    with open_gate(data_dir) as gate:
        for text in texts:
            _emit(gate.check(text, source="manual").to_json())
        for path in files:
            if str(path) == "-":
                for line in sys.stdin:
                    if line.strip():
                        _emit(gate.check(line, source="stdin").to_json())
                continue
            failures += _scan_file(gate, path, decoder)
    if failures:
        raise SystemExit(1)


def _scan_file(gate, path: Path, decoder_name: str) -> int:
    """Scan one file; return 1 when it could not be read (after saying why)."""
    from ..scanner import ScanDebouncer, SourceError, make_decoder, open_source

    if not path.exists():
        click.echo(f"error: {path}: no such file or folder", err=True)
        return 1
    found = 0
    try:
        decoder = make_decoder(decoder_name)
        debouncer = ScanDebouncer(gate.config.cooldown_s)
        with open_source(str(path)) as source:
            for result in scan_frames(gate, source.frames(), decoder, debouncer):
                found += 1
                _emit({"file": str(path), **result.to_json()})
    except SourceError as exc:  # its message names the file already
        click.echo(f"error: {exc}", err=True)
        return 1
    except (OSError, ValueError, RuntimeError) as exc:
        click.echo(f"error: {path}: {exc}", err=True)
        return 1
    if not found:
        _emit({"file": str(path), "verdict": None, "error": "no_code_found", "message": "No QR code found"})
    return 0


def _emit(obj: dict) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))
    sys.stdout.flush()
