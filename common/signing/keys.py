"""Ed25519 signing keys (hub only) and public keyrings (hub and gates).

A key id (kid) is the first two bytes of SHA-256 over the raw 32-byte public
key, written as four lower-case hex digits; tickets carry the two raw bytes.
The kid only selects a key (the signature does the proving), so two bytes are
enough as long as no two keys in one keyring share one: create_key ensures that.
The algorithm belongs to the keyring entry; tickets never name one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .canonical import b64decode, b64encode, canonical_bytes, read_json_document

ALGORITHM = "Ed25519"
KID_BYTES = 2
KEYRING_TYPE = "ticketgate.keyring"
KEYRING_DOMAIN = b"ticketgate/keyring/v1\x00"
KEYRING_FILE = "keyring.json"


class KeyMaterialError(Exception):
    """Base for key and keyring problems (not a ticket verdict)."""


class KeyFileError(KeyMaterialError):
    """A private key file is missing, unreadable or the passphrase is wrong."""


class KeyringError(KeyMaterialError):
    """A keyring document is malformed, unsigned where a signature is required, or forged."""


def kid_for(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).digest()[:KID_BYTES].hex()


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class SigningKey:
    """A private Ed25519 key with its kid. Lives on the hub only."""

    def __init__(self, private_key: Ed25519PrivateKey, created_at: int | None = None):
        self._private = private_key
        self.public_key = private_key.public_key()
        self.public_raw = _raw_public(self.public_key)
        self.kid = kid_for(self.public_raw)
        self.kid_bytes = bytes.fromhex(self.kid)
        self.created_at = int(time.time()) if created_at is None else created_at

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes, created_at: int | None = None) -> SigningKey:
        """Deterministic key from a 32-byte seed (RFC 8032 "secret key"); for test vectors."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed), created_at)

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def public_entry(self) -> PublicKeyEntry:
        return PublicKeyEntry(self.kid, ALGORITHM, self.public_key, self.public_raw, self.created_at)

    def to_pem(self, passphrase: bytes | None = None) -> bytes:
        encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
        return self._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

    def save(self, path: Path, passphrase: bytes | None = None) -> None:
        """Write the key as PKCS#8 PEM, created with mode 0600 and never overwritten."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.to_pem(passphrase))

    @classmethod
    def load(cls, path: Path, passphrase: bytes | None = None, created_at: int | None = None) -> SigningKey:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
        try:
            key = serialization.load_pem_private_key(data, password=passphrase or None)
        except TypeError:
            raise KeyFileError(
                f"{path} is passphrase-protected: set TICKETHUB_KEY_PASSPHRASE"
                if not passphrase
                else f"{path} is not encrypted but a passphrase was given"
            ) from None
        except ValueError:
            raise KeyFileError(f"{path}: wrong passphrase or not a PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{path} is not an Ed25519 key")
        return cls(key, created_at)


@dataclass(frozen=True)
class PublicKeyEntry:
    kid: str
    alg: str
    public_key: Ed25519PublicKey
    public_raw: bytes
    created_at: int

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": self.alg,
            "public_key": b64encode(self.public_raw),
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, item: Any) -> PublicKeyEntry:
        if not isinstance(item, dict):
            raise KeyringError("keyring entry is not an object")
        alg = item.get("alg")
        if alg != ALGORITHM:
            raise KeyringError(f"unsupported key algorithm {alg!r}")
        try:
            raw = b64decode(item["public_key"])
            public_key = Ed25519PublicKey.from_public_bytes(raw)
        except (KeyError, TypeError, ValueError):
            raise KeyringError("keyring entry has no valid 32-byte public_key") from None
        kid = item.get("kid")
        if kid != kid_for(raw):
            raise KeyringError(f"kid {kid!r} does not match its public key")
        created_at = item.get("created_at", 0)
        if not isinstance(created_at, int):
            raise KeyringError("created_at must be an integer")
        return cls(kid, alg, public_key, raw, created_at)


class Keyring:
    """The public keys a gate accepts tickets from, by kid. Several may be valid at once."""

    def __init__(self, entries: Iterable[PublicKeyEntry] = (), seq: int = 0):
        self.seq = seq
        self._entries: dict[str, PublicKeyEntry] = {}
        self._by_raw_kid: dict[bytes, PublicKeyEntry] = {}
        for entry in entries:
            self._entries[entry.kid] = entry
            self._by_raw_kid[bytes.fromhex(entry.kid)] = entry

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, kid: str) -> bool:
        return kid in self._entries

    def __iter__(self):
        return iter(sorted(self._entries.values(), key=lambda e: (e.created_at, e.kid)))

    def get(self, kid: str) -> PublicKeyEntry | None:
        return self._entries.get(kid)

    def get_raw(self, kid_bytes: bytes) -> PublicKeyEntry | None:
        return self._by_raw_kid.get(kid_bytes)

    def with_entry(self, entry: PublicKeyEntry) -> Keyring:
        return Keyring([*self._entries.values(), entry], self.seq + 1)

    def without(self, kid: str) -> Keyring:
        return Keyring([e for e in self._entries.values() if e.kid != kid], self.seq + 1)

    # --- documents -------------------------------------------------------
    def to_document(self, signer: SigningKey | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": KEYRING_TYPE,
            "version": 1,
            "seq": self.seq,
            "keys": [entry.to_json() for entry in self],
        }
        if signer is not None:
            doc["signature"] = {
                "kid": signer.kid,
                "value": b64encode(signer.sign(canonical_bytes(doc, KEYRING_DOMAIN))),
            }
        return doc

    @classmethod
    def from_document(cls, doc: Any, trusted: Keyring | None = None) -> Keyring:
        """Parse a keyring document. With ``trusted``, it must be signed by a key in it."""
        if not isinstance(doc, dict) or doc.get("type") != KEYRING_TYPE:
            raise KeyringError("not a ticketgate keyring document")
        if doc.get("version") != 1:
            raise KeyringError(f"unsupported keyring version {doc.get('version')!r}")
        seq = doc.get("seq", 0)
        keys = doc.get("keys")
        if not isinstance(seq, int) or not isinstance(keys, list):
            raise KeyringError("keyring needs an integer seq and a list of keys")
        if trusted is not None:
            verify_document_signature(doc, KEYRING_DOMAIN, trusted)
        return cls([PublicKeyEntry.from_json(item) for item in keys], seq)

    @classmethod
    def load(cls, path: Path, trusted: Keyring | None = None) -> Keyring:
        return cls.from_document(read_json_document(path, KeyringError), trusted)


def verify_document_signature(doc: dict[str, Any], domain: bytes, keyring: Keyring) -> PublicKeyEntry:
    """Check a signed JSON document against a keyring; return the key that signed it."""
    sig = doc.get("signature")
    if not isinstance(sig, dict):
        raise KeyringError("document is not signed")
    entry = keyring.get(sig.get("kid")) if isinstance(sig.get("kid"), str) else None
    if entry is None:
        raise KeyringError(f"document signed by unknown key {sig.get('kid')!r}")
    try:
        signature = b64decode(sig.get("value", ""))
    except (TypeError, ValueError):
        raise KeyringError("signature is not base64") from None
    if not entry.verify(signature, canonical_bytes(doc, domain)):
        raise KeyringError("document signature does not verify")
    return entry


# --- key directories (hub side) ------------------------------------------


def create_key(directory: Path, passphrase: bytes | None = None) -> SigningKey:
    """Generate a key into ``directory`` (0700) and add it to ``directory/keyring.json``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    keyring = _read_local_keyring(directory)
    key = SigningKey.generate()
    while key.kid in keyring:  # a 16-bit kid can collide: draw again
        key = SigningKey.generate()
    # The newest key signs: keep creation times strictly increasing even for
    # keys made within one second (or with a clock that stepped back).
    key.created_at = max([key.created_at] + [entry.created_at + 1 for entry in keyring])
    key.save(directory / f"{key.kid}.pem", passphrase)
    keyring = keyring.with_entry(key.public_entry())
    write_keyring(directory / KEYRING_FILE, keyring, signer=key)
    return key


def write_keyring(path: Path, keyring: Keyring, signer: SigningKey | None = None) -> None:
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(keyring.to_document(signer), indent=2) + "\n", "utf-8")
    os.replace(tmp, path)


def _read_local_keyring(directory: Path) -> Keyring:
    path = directory / KEYRING_FILE
    return Keyring.load(path) if path.exists() else Keyring()


def load_signing_keys(directory: Path, passphrase: bytes | None = None) -> list[SigningKey]:
    """All private keys listed in the directory's keyring, oldest first."""
    directory = Path(directory)
    keyring = _read_local_keyring(directory)
    keys = []
    for entry in keyring:
        path = directory / f"{entry.kid}.pem"
        if path.exists():
            keys.append(SigningKey.load(path, passphrase, entry.created_at))
    return keys


def load_current_key(directory: Path, passphrase: bytes | None = None) -> SigningKey:
    """The newest key in the directory: the one new tickets are signed with."""
    keyring = _read_local_keyring(Path(directory))
    entries = list(keyring)
    if not entries:
        raise KeyFileError(f"no signing key in {directory}: run `tickethub keys new --dir {directory}`")
    newest = entries[-1]
    return SigningKey.load(Path(directory) / f"{newest.kid}.pem", passphrase, newest.created_at)


def retire_key(directory: Path, kid: str, passphrase: bytes | None = None) -> Keyring:
    """Drop ``kid`` from ``directory/keyring.json`` so gates stop accepting its tickets.

    The newest key signs and cannot be retired (create its successor first). The
    private key file is kept, renamed ``<kid>.pem.retired`` (still 0600), so tickets
    can be audited later; it is never loaded again.
    """
    directory = Path(directory)
    keyring = _read_local_keyring(directory)
    entries = list(keyring)
    if kid not in keyring:
        raise KeyFileError(f"no key {kid!r} in {directory / KEYRING_FILE}")
    if entries[-1].kid == kid:
        raise KeyFileError(f"{kid} is the key that signs new tickets: create a new key before retiring it")
    remaining = keyring.without(kid)
    signer = load_current_key(directory, passphrase)
    write_keyring(directory / KEYRING_FILE, remaining, signer=signer)
    pem = directory / f"{kid}.pem"
    if pem.exists():
        os.replace(pem, directory / f"{kid}.pem.retired")
    return remaining
