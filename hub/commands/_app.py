"""Build the hub app for CLI commands (config from the file and TICKETHUB_* variables)."""
from __future__ import annotations

from flask import Flask


def cli_app() -> Flask:
    from hub import create_app

    return create_app()


def engine_of(app: Flask):
    return app.extensions["tickethub.engine"]
