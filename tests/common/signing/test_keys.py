"""Signing key files, key directories and keyring documents."""

from __future__ import annotations

import json
import stat

import pytest

from common.signing import (
    KeyFileError,
    Keyring,
    KeyringError,
    SigningKey,
    create_key,
    load_current_key,
    load_signing_keys,
    retire_key,
    sign_ticket,
    verify_ticket,
)
from common.signing.keys import KEYRING_FILE


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_key_file_is_0600_and_never_overwritten(tmp_path):
    key = create_key(tmp_path / "keys")
    pem = tmp_path / "keys" / f"{key.kid}.pem"
    assert _mode(pem) == 0o600
    assert _mode(tmp_path / "keys") == 0o700
    with pytest.raises(FileExistsError):
        key.save(pem)
    assert SigningKey.load(pem).public_raw == key.public_raw


def test_passphrase_protected_key(tmp_path):
    key = create_key(tmp_path, passphrase=b"correct horse")
    pem = tmp_path / f"{key.kid}.pem"
    assert b"ENCRYPTED" in pem.read_bytes()
    assert SigningKey.load(pem, b"correct horse").kid == key.kid
    with pytest.raises(KeyFileError, match="TICKETHUB_KEY_PASSPHRASE"):
        SigningKey.load(pem)
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        SigningKey.load(pem, b"wrong")


def test_keyring_holds_only_public_keys(tmp_path):
    create_key(tmp_path)
    text = (tmp_path / KEYRING_FILE).read_text()
    assert "PRIVATE" not in text and "private" not in text
    doc = json.loads(text)
    assert set(doc["keys"][0]) == {"kid", "alg", "public_key", "created_at"}


def test_rotation_keeps_old_tickets_valid_and_signs_with_the_newest(tmp_path):
    old = create_key(tmp_path)
    old_ticket = sign_ticket(load_current_key(tmp_path), event_id=1, ticket_id=1, ticket_type=1)
    new = create_key(tmp_path)
    assert load_current_key(tmp_path).kid == new.kid
    assert [k.kid for k in load_signing_keys(tmp_path)] == [old.kid, new.kid]
    keyring = Keyring.load(tmp_path / KEYRING_FILE)
    assert len(keyring) == 2
    new_ticket = sign_ticket(load_current_key(tmp_path), event_id=1, ticket_id=2, ticket_type=1)
    assert verify_ticket(old_ticket, keyring, 0).valid
    assert verify_ticket(new_ticket, keyring, 0).ticket.kid == new.kid
    retired = keyring.without(old.kid)
    assert verify_ticket(old_ticket, retired, 0).reason.value == "unknown_key"


def test_keys_made_within_one_second_still_have_a_clear_newest(tmp_path):
    kids = [create_key(tmp_path).kid for _ in range(5)]
    assert [e.kid for e in Keyring.load(tmp_path / KEYRING_FILE)] == kids
    assert load_current_key(tmp_path).kid == kids[-1]


def test_missing_key_directory_gives_a_clear_error(tmp_path):
    with pytest.raises(KeyFileError, match="tickethub keys new"):
        load_current_key(tmp_path)


def test_signed_keyring_is_accepted_only_from_a_trusted_key():
    root = SigningKey.from_seed(bytes(32), created_at=1)
    stranger = SigningKey.from_seed(bytes([9]) * 32, created_at=1)
    trusted = Keyring([root.public_entry()])
    rotated = trusted.with_entry(SigningKey.from_seed(bytes([3]) * 32, created_at=2).public_entry())
    doc = rotated.to_document(signer=root)
    accepted = Keyring.from_document(doc, trusted=trusted)
    assert len(accepted) == 2 and accepted.seq == 1
    with pytest.raises(KeyringError, match="unknown key"):
        Keyring.from_document(rotated.to_document(signer=stranger), trusted=trusted)
    tampered = json.loads(json.dumps(doc))
    tampered["seq"] = 99
    with pytest.raises(KeyringError, match="does not verify"):
        Keyring.from_document(tampered, trusted=trusted)
    with pytest.raises(KeyringError, match="not signed"):
        Keyring.from_document(rotated.to_document(), trusted=trusted)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda e: e.update(alg="RS256"), "unsupported key algorithm"),
        (lambda e: e.update(kid="0000"), "does not match"),
        (lambda e: e.update(public_key="AAAA"), "32-byte"),
        (lambda e: e.update(created_at="yesterday"), "created_at"),
    ],
)
def test_keyring_entries_are_checked(mutate, message):
    doc = Keyring([SigningKey.from_seed(bytes(32), created_at=1).public_entry()]).to_document()
    mutate(doc["keys"][0])
    with pytest.raises(KeyringError, match=message):
        Keyring.from_document(doc)


@pytest.mark.parametrize(
    "content", ["not json", "[]", '{"type": "other"}', '{"type": "ticketgate.keyring", "version": 2}']
)
def test_bad_keyring_files(tmp_path, content):
    path = tmp_path / "keyring.json"
    path.write_text(content)
    with pytest.raises(KeyringError):
        Keyring.load(path)


def test_retiring_a_key_drops_it_from_the_keyring_but_keeps_the_file(tmp_path):
    old = create_key(tmp_path)
    new = create_key(tmp_path)
    with pytest.raises(KeyFileError, match="create a new key"):
        retire_key(tmp_path, new.kid)
    with pytest.raises(KeyFileError, match="no key"):
        retire_key(tmp_path, "ffff" if "ffff" not in (old.kid, new.kid) else "fffe")
    before = Keyring.load(tmp_path / KEYRING_FILE)
    remaining = retire_key(tmp_path, old.kid)
    assert [e.kid for e in remaining] == [new.kid] and remaining.seq > before.seq
    # the published keyring is signed by the current key, so gates can check it
    published = Keyring.load(tmp_path / KEYRING_FILE, trusted=Keyring([new.public_entry()]))
    assert old.kid not in published
    retired = tmp_path / f"{old.kid}.pem.retired"
    assert _mode(retired) == 0o600 and not (tmp_path / f"{old.kid}.pem").exists()
    assert load_current_key(tmp_path).kid == new.kid
