"""Base45 (RFC 9285), the text encoding that keeps ticket QR codes in alphanumeric mode.

Encoding uses the ``base45`` package. Decoding is done here with a lookup table
because it sits on the gate's hot path (once per scan) and must reject every
input that is not canonical base45 with one exception type.
"""

from __future__ import annotations

import struct

import base45

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INVALID = 0xFF
# byte -> base45 digit value, or 0xFF for bytes outside the alphabet
_TABLE = bytes(ALPHABET.index(chr(b)) if chr(b) in ALPHABET else _INVALID for b in range(256))


class Base45Error(ValueError):
    """The text is not valid base45."""


def encode(data: bytes) -> str:
    return base45.b45encode(data).decode("ascii")


def decode(text: str) -> bytes:
    """Decode base45 text; raise Base45Error for anything RFC 9285 does not allow."""
    if len(text) % 3 == 1:
        raise Base45Error("base45 length leaves a single character")
    try:
        digits = text.encode("ascii").translate(_TABLE)
    except UnicodeEncodeError:
        raise Base45Error("base45 text must be ASCII") from None
    if _INVALID in digits:
        raise Base45Error("character outside the base45 alphabet")
    full = len(digits) - len(digits) % 3
    words = [a + b * 45 + c * 2025 for a, b, c in zip(digits[0:full:3], digits[1:full:3], digits[2:full:3])]
    if words and max(words) > 0xFFFF:
        raise Base45Error("base45 triple exceeds 65535")
    out = struct.pack(f">{len(words)}H", *words)
    if full != len(digits):
        last = digits[full] + digits[full + 1] * 45
        if last > 0xFF:
            raise Base45Error("base45 pair exceeds 255")
        out += bytes((last,))
    return out
