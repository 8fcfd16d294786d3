"""`tickethub keys`: ticket signing keys."""

from __future__ import annotations

from pathlib import Path

import click

from common.signing import KeyMaterialError, create_key, load_signing_keys, retire_key

from ._common import key_passphrase


@click.group("keys")
def keys_group() -> None:
    """Manage the Ed25519 keys that sign tickets."""


@keys_group.command("new")
@click.option(
    "--dir",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Key directory (created 0700). Private keys are written 0600.",
)
def keys_new(directory: Path) -> None:
    """Create a signing key, print its kid and update DIR/keyring.json.

    The private key is passphrase-encrypted when TICKETHUB_KEY_PASSPHRASE is set.
    New tickets are signed with the newest key; older keys stay in the keyring
    so tickets they signed keep verifying until you retire them.
    """
    try:
        key = create_key(directory, key_passphrase())
    except (KeyMaterialError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(key.kid)


@keys_group.command("list")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
def keys_list(directory: Path) -> None:
    """List the keys in DIR, newest last (the one that signs)."""
    try:
        keys = load_signing_keys(directory, key_passphrase())
    except KeyMaterialError as exc:
        raise click.ClickException(str(exc)) from None
    for key in keys:
        click.echo(f"{key.kid}  created {key.created_at}")


@keys_group.command("retire")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("kid")
def keys_retire(directory: Path, kid: str) -> None:
    """Remove KID from the public keyring: gates refuse its tickets after their next pull.

    Retire a key only when every event it signed tickets for is over. The newest
    key cannot be retired; create its successor first.
    """
    try:
        keyring = retire_key(directory, kid, key_passphrase())
    except KeyMaterialError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"retired {kid}; keyring now holds {', '.join(e.kid for e in keyring)} (seq {keyring.seq})")
