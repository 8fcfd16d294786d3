"""The hub's command line, `tickethub`."""
from __future__ import annotations

import logging

import click

from .commands.db import db_group
from .commands.demo import demo_command
from .commands.demo_data import demo_data_command
from .commands.keys import keys_group
from .commands.serve import serve_command
from .commands.ticket import ticket_group
from .commands.users import tokens_group, users_group
from .commands.devices import devices_group


class HubGroup(click.Group):
    """Database connection failures (server down, unknown database, locked file) and
    unreadable signing keys end the command with a one-line reason instead of a traceback."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import InterfaceError, OperationalError

        from common.signing.keys import KeyFileError

        try:
            return super().invoke(ctx)
        except (OperationalError, InterfaceError) as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise click.ClickException(f"cannot use the database: {reason}") from None
        except KeyFileError as exc:  # e.g. a wrong or missing TICKETHUB_KEY_PASSPHRASE
            raise click.ClickException(str(exc)) from None


@click.group(cls=HubGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """ticketgate hub: sell seats and issue signed QR tickets."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # alembic announces each of its plugins at INFO on every command
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


main.add_command(keys_group)
main.add_command(ticket_group)
main.add_command(demo_command)
main.add_command(db_group)
main.add_command(users_group)
main.add_command(tokens_group)
main.add_command(serve_command)
main.add_command(demo_data_command)
main.add_command(devices_group)


if __name__ == "__main__":
    main()
