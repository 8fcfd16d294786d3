"""Helpers shared by the gate-agent commands."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import SETTING, GateDataError
from ..offline_store import StoreError
from ..pipeline import Gate
from ..sync.clock import wall_clock_from_env

DATA_DIR_ENV = SETTING["GATE_DATA_DIR"].variable


def data_dir_option(func):
    return click.option(
        "--data-dir",
        required=True,
        envvar=DATA_DIR_ENV,
        show_envvar=True,
        type=click.Path(path_type=Path, file_okay=False),
        help="The gate's data folder (keyring.json, gate.json, revocations.json, gate.db).",
    )(func)


def open_gate(data_dir: Path) -> Gate:
    """Open the data folder, turning its problems into clear CLI errors."""
    try:
        return Gate.open(data_dir, wall_clock=wall_clock_from_env())
    except (GateDataError, StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
