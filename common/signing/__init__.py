"""The ticketgate ticket format: Ed25519-signed compact tickets as base45 QR text.

Pure Python: no Flask, no database. See docs/ticket-format.md.
"""

from . import b45
from .keys import (
    ALGORITHM,
    KEYRING_FILE,
    KeyFileError,
    KeyMaterialError,
    Keyring,
    KeyringError,
    PublicKeyEntry,
    SigningKey,
    create_key,
    kid_for,
    load_current_key,
    load_signing_keys,
    retire_key,
    write_keyring,
)
from .revocation import Revocation, RevocationList, RevocationListError
from .shortcode import parse_short_code, short_code
from .ticket import (
    MAX_TEXT_LENGTH,
    TEXT_PREFIX,
    Reason,
    Ticket,
    VerifyResult,
    looks_like_ticket,
    sign_ticket,
    verify_ticket,
)

__all__ = [
    "b45",
    "ALGORITHM",
    "KEYRING_FILE",
    "KeyFileError",
    "KeyMaterialError",
    "Keyring",
    "KeyringError",
    "PublicKeyEntry",
    "SigningKey",
    "create_key",
    "kid_for",
    "load_current_key",
    "load_signing_keys",
    "retire_key",
    "write_keyring",
    "Revocation",
    "RevocationList",
    "RevocationListError",
    "MAX_TEXT_LENGTH",
    "TEXT_PREFIX",
    "Reason",
    "Ticket",
    "VerifyResult",
    "looks_like_ticket",
    "sign_ticket",
    "short_code",
    "parse_short_code",
    "verify_ticket",
]
