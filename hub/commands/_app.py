"""Build the hub app for CLI commands (config from the file and TICKETHUB_* variables)."""

from __future__ import annotations

import click
from flask import Flask


def cli_app() -> Flask:
    """The hub app; a bad setting or database URL is a one-line error, not a traceback."""
    from sqlalchemy.exc import ArgumentError

    from hub import create_app
    from hub.config import ConfigError

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except ArgumentError as exc:
        raise click.ClickException(f"TICKETHUB_DATABASE_URL is not a database URL ({exc})") from None


def engine_of(app: Flask):
    return app.extensions["tickethub.engine"]


def ready_engine():
    """The engine of a database whose schema is current, else the fix (`tickethub db upgrade`)."""
    from hub.db import schema_problem

    engine = engine_of(cli_app())
    problem = schema_problem(engine)
    if problem:
        raise click.ClickException(problem)
    return engine
