"""`tickethub db`: schema migrations (Alembic)."""

from __future__ import annotations

import click

from ._app import cli_app, engine_of


@click.group("db")
def db_group() -> None:
    """Manage the hub database."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations and make sure a ticket signing key exists."""
    from hub.db import current_revision, upgrade

    app = cli_app()
    engine = engine_of(app)
    click.echo(f"database {engine.url.render_as_string(hide_password=True)}")
    upgrade(engine, revision)
    click.echo(f"schema at revision {current_revision(engine)}")
    key = app.extensions["tickethub.keys"].ensure()
    click.echo(f"signing key {key.kid} in {app.config['KEYS_DIR']}")


@db_group.command("current")
def db_current() -> None:
    """Print the schema revision."""
    from hub.db import current_revision

    click.echo(current_revision(engine_of(cli_app())) or "empty")
