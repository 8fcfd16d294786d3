"""The supervisor PIN of an event (undo and override at the door): set on the hub, checked offline by gates.

The hub stores and sends only ``hash_pin``'s text (scrypt with a random salt); a gate checks a typed
PIN against it with :func:`check_pin` in constant time. A PIN of a few digits cannot resist someone
who has the gate's disk (they can try every PIN): it keeps door staff from overriding a verdict on
their own, it is not a secret against a stolen gate (docs/operations.md, "Supervisor PIN").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 12
_N, _R, _P = 2**14, 8, 1  # about 20 ms on a Raspberry Pi 4: fine once per supervisor action
_SCHEME = "scrypt"


def valid_pin(pin: object) -> bool:
    return isinstance(pin, str) and pin.isascii() and pin.isdigit() and PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS


def _derive(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, dklen=32)


def hash_pin(pin: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64 salt and hash) for a PIN of 4 to 12 digits; ValueError otherwise."""
    if not valid_pin(pin):
        raise ValueError(f"a supervisor PIN is {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits")
    salt = secrets.token_bytes(16)
    digest = _derive(pin, salt, _N, _R, _P)
    return "$".join(
        [_SCHEME, str(_N), str(_R), str(_P), base64.b64encode(salt).decode(), base64.b64encode(digest).decode()]
    )


def check_pin(pin: object, stored: object) -> bool:
    """Whether ``pin`` is the PIN ``stored`` (a :func:`hash_pin` text) was made from. Never raises;
    False for no PIN set, a malformed hash or a PIN that is not digits."""
    if not valid_pin(pin) or not isinstance(stored, str):
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME or not (int(n) <= 2**20 and int(r) <= 16 and int(p) <= 4):
            return False
        expected = base64.b64decode(digest, validate=True)
        return hmac.compare_digest(
            _derive(pin, base64.b64decode(salt, validate=True), int(n), int(r), int(p)), expected
        )
    except (ValueError, TypeError):
        return False
