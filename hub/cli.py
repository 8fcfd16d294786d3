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


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """ticketgate hub: sell seats and issue signed QR tickets."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


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
