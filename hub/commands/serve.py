"""`tickethub serve`: the hub on waitress, a multi-threaded production WSGI server."""
from __future__ import annotations

import logging

import click

from ._app import cli_app, engine_of

log = logging.getLogger(__name__)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=16, show_default=True, type=click.IntRange(1, 512),
              help="Worker threads (each request holds one while it runs).")
@click.option("--no-upgrade", is_flag=True, help="Do not apply pending migrations first.")
def serve_command(host: str, port: int, threads: int, no_upgrade: bool) -> None:
    """Serve the hub (JSON API and pages) with waitress; sweeps expired holds in the background."""
    import waitress

    from hub.db import upgrade
    from hub.scheduler import start_sweeper

    app = cli_app()
    if not no_upgrade:
        upgrade(engine_of(app))
    key = app.extensions["tickethub.keys"].ensure()
    scheduler = start_sweeper(app)
    if "store" in app.blueprints:  # the web pages mail event reminders from the same scheduler
        from hub.web.mailing import start_reminders

        app.config["PUBLIC_URL"] = app.config.get("PUBLIC_URL") or f"http://{host}:{port}"
        start_reminders(app, scheduler)
    click.echo(f"tickethub serving on http://{host}:{port} ({threads} threads, signing key {key.kid})")
    waitress.serve(app, host=host, port=port, threads=threads, connection_limit=max(100, threads * 8),
                   channel_timeout=60, ident="tickethub")
