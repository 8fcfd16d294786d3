"""Secrets that clients send back (hold tokens, order access tokens): hashed and compared safely.

A client can send any text, including non-ASCII characters and (in JSON)
lone surrogates; `hmac.compare_digest` refuses non-ASCII `str` with a
TypeError and `str.encode` refuses surrogates, so both would be a 500.
Everything is compared as UTF-8 bytes (surrogates passed through) instead.
"""

from __future__ import annotations

import hashlib
import hmac


def as_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(as_bytes(text)).hexdigest()


def same_secret(expected: str, given: str | None) -> bool:
    """Constant-time equality of a stored secret and what the client sent (False for nothing sent)."""
    if not given or not isinstance(given, str):
        return False
    return hmac.compare_digest(as_bytes(expected), as_bytes(given))
