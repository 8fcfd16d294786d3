"""`tickethub users` and `tickethub tokens`: accounts and API tokens."""

from __future__ import annotations

import click

from hub.services import ServiceError
from hub.services import users as user_service
from hub.services.roles import DOOR_STAFF, EMPLOYERS, ROLES

from ._app import ready_engine


@click.group("users")
def users_group() -> None:
    """Manage hub users."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option(
    "--staff-of",
    "staff_of",
    metavar="EMAIL",
    help="door_staff: the organizer (or admin) whose events this account works at.",
)
def users_create(email: str, password: str, role: str, staff_of: str | None) -> None:
    """Create a user (password hashed with scrypt)."""
    with ready_engine().connect() as conn:
        organizer_id = _employer_id(conn, staff_of) if staff_of else None
        try:
            user = user_service.create_user(conn, email, password, role, staff_of=organizer_id)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
    works_for = f", works for {staff_of}" if staff_of else ""
    click.echo(f"created user {user['id']} {user['email']} ({user['role']}{works_for})")
    if role == DOOR_STAFF and not staff_of:
        click.echo("note: door staff without --staff-of work at no event unless SINGLE_TENANT is on", err=True)


def _employer_id(conn, email: str) -> int:
    employer = user_service.get_user_by_email(conn, email)
    if employer is None or employer["role"] not in EMPLOYERS:
        raise click.ClickException(f"--staff-of {email}: no organizer or admin with that email")
    return employer["id"]


@click.group("tokens")
def tokens_group() -> None:
    """Manage API tokens (only their SHA-256 hashes are stored)."""


@tokens_group.command("create")
@click.option("--email", required=True)
@click.option("--name", default="cli", help="A note to tell tokens apart.")
def tokens_create(email: str, name: str) -> None:
    """Print a new API token for `Authorization: Bearer <token>`."""
    with ready_engine().connect() as conn:
        user = user_service.get_user_by_email(conn, email)
        if user is None:
            raise click.ClickException(f"no user {email}")
        _token_id, token = user_service.create_token(conn, user["id"], name)
    click.echo(token)


@tokens_group.command("list")
@click.option("--email", required=True)
def tokens_list(email: str) -> None:
    with ready_engine().connect() as conn:
        user = user_service.get_user_by_email(conn, email)
        if user is None:
            raise click.ClickException(f"no user {email}")
        for token in user_service.list_tokens(conn, user["id"]):
            state = f"revoked {token['revoked_at']:%Y-%m-%d}" if token["revoked_at"] else "live"
            click.echo(f"{token['id']}  {token['name']}  created {token['created_at']:%Y-%m-%d %H:%M}  {state}")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    with ready_engine().connect() as conn:
        if not user_service.revoke_token(conn, token_id):
            raise click.ClickException(f"no live token {token_id}")
    click.echo(f"revoked token {token_id}")
