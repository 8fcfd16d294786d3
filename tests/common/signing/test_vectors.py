"""Published test vectors, checked through the project's own code paths."""

from __future__ import annotations

import importlib.util
import json

import pytest

from common.signing import Keyring, RevocationList, SigningKey, b45, sign_ticket, verify_ticket
from common.signing.keys import PublicKeyEntry
from tests.support import REPO

DOCS = REPO / "docs"
VECTORS = json.loads((DOCS / "ticket-vectors.json").read_text("utf-8"))

# RFC 8032 section 7.1, TEST 1-3: secret key, public key, message, signature.
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]

# RFC 9285 section 4.3 / 4.4 examples.
RFC9285 = [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"), (b"ietf!", "QED8WEX0")]


@pytest.mark.parametrize("secret, public, message, signature", RFC8032)
def test_rfc8032_ed25519_vectors(secret, public, message, signature):
    key = SigningKey.from_seed(bytes.fromhex(secret))
    assert key.public_raw.hex() == public
    assert key.sign(bytes.fromhex(message)).hex() == signature
    entry = key.public_entry()
    assert entry.verify(bytes.fromhex(signature), bytes.fromhex(message))
    assert not entry.verify(bytes.fromhex(signature), bytes.fromhex(message) + b"\x00")


@pytest.mark.parametrize("raw, text", RFC9285)
def test_rfc9285_base45_examples(raw, text):
    assert b45.encode(raw) == text
    assert b45.decode(text) == raw


@pytest.mark.parametrize("bad", ["GGW", "ZZZ", "a", "BB8a", "ABCD", "::", "é00", "bb8"])
def test_base45_rejects_what_rfc9285_forbids(bad):
    # GGW and ZZZ exceed 65535 (RFC 9285 section 4.4), "::" exceeds 255, lower case
    # and non-ASCII are outside the alphabet, a length of 3n+1 leaves a lone character.
    with pytest.raises(b45.Base45Error):
        b45.decode(bad)


def test_project_key_vector():
    key = SigningKey.from_seed(bytes.fromhex(VECTORS["seed_hex"]))
    assert key.public_raw.hex() == VECTORS["public_key_hex"]
    assert key.kid == VECTORS["kid"]
    keyring = Keyring.from_document(VECTORS["keyring"], trusted=Keyring([key.public_entry()]))
    assert keyring.get(key.kid).public_raw == key.public_raw


@pytest.mark.parametrize("vector", VECTORS["tickets"], ids=lambda v: v["name"])
def test_project_ticket_vectors(vector):
    key = SigningKey.from_seed(bytes.fromhex(VECTORS["seed_hex"]))
    assert sign_ticket(key, **vector["fields"]) == vector["text"]
    keyring = Keyring([PublicKeyEntry.from_json(VECTORS["keyring"]["keys"][0])])
    fields = vector["fields"]
    inside = fields.get("not_before") or 0
    result = verify_ticket(vector["text"], keyring, inside)
    assert result.valid, result
    ticket = result.ticket
    assert (ticket.event_id, ticket.ticket_id, ticket.ticket_type, ticket.seat) == (
        fields["event_id"],
        fields["ticket_id"],
        fields["ticket_type"],
        fields["seat"],
    )
    assert ticket.zones == frozenset(fields["zones"])
    assert b45.decode(vector["text"][4:]).hex() == vector["payload_hex"] + vector["signature_hex"]


def test_project_revocation_vector():
    keyring = Keyring.from_document(VECTORS["keyring"])
    revocations = RevocationList.from_document(VECTORS["revocations"], keyring)
    assert revocations.seq == 2
    assert revocations.is_revoked(42, 1001) and revocations.is_revoked(7, 5)
    assert not revocations.is_revoked(42, 1002)


def test_vector_file_matches_generator_and_docs():
    spec = importlib.util.spec_from_file_location("make_vectors", DOCS / "make_ticket_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == VECTORS
    prose = (DOCS / "ticket-format.md").read_text("utf-8")
    for vector in VECTORS["tickets"]:
        assert vector["text"] in prose, f"docs/ticket-format.md lacks the vector {vector['name']!r}"
