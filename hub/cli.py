"""The hub's command line, `tickethub`."""

from __future__ import annotations

import logging
import sys

import click

from common.cli import LazyGroup

# Each sub-command's module is imported only when that command runs: `tickethub
# ticket verify` and `tickethub keys ...` never import Flask or SQLAlchemy.
COMMANDS = {
    "db": ("hub.commands.db:db_group", "Manage the hub database."),
    "demo": ("hub.commands.demo:demo_command", "Run the hub and a gate with a simulated camera; print the URLs."),
    "demo-data": (
        "hub.commands.demo_data:demo_data_command",
        "Create a demo organizer (with an API token), a venue and two events.",
    ),
    "devices": ("hub.commands.devices:devices_group", "Enrol, list, rename, reassign and revoke gate devices."),
    "keys": ("hub.commands.keys:keys_group", "Manage the Ed25519 keys that sign tickets."),
    "serve": ("hub.commands.serve:serve_command", "Serve the hub (JSON API and pages) with waitress."),
    "ticket": ("hub.commands.ticket:ticket_group", "Sign, verify and render ticket codes."),
    "tokens": ("hub.commands.users:tokens_group", "Manage API tokens (only their SHA-256 hashes are stored)."),
    "users": ("hub.commands.users:users_group", "Manage hub users."),
}


class HubGroup(LazyGroup):
    """Database connection failures (server down, unknown database, locked file) and
    unreadable signing keys end the command with a one-line reason instead of a traceback."""

    def invoke(self, ctx: click.Context):
        from common.signing.keys import KeyFileError

        try:
            return super().invoke(ctx)
        except KeyFileError as exc:  # e.g. a wrong or missing TICKETHUB_KEY_PASSPHRASE
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            reason = _database_failure(exc)
            if reason is None:
                raise
            raise click.ClickException(f"cannot use the database: {reason}") from None


def _database_failure(exc: Exception) -> str | None:
    """The one-line reason when `exc` is a database connection failure, else None.

    SQLAlchemy is asked only when a command has already imported it, so commands
    that never touch the database do not pay for importing it."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is None or not isinstance(exc, (sqlalchemy_exc.OperationalError, sqlalchemy_exc.InterfaceError)):
        return None
    return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)


@click.group(cls=HubGroup, lazy_commands=COMMANDS)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """ticketgate hub: sell seats and issue signed QR tickets."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # alembic announces each of its plugins at INFO on every command
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


if __name__ == "__main__":
    main()
