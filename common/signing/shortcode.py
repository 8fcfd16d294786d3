"""The short code printed under every QR: a ticket number door staff can type when the QR is damaged.

A short code is the ticket id in base 32 over an alphabet without look-alikes (no 0, O, 1 or I: see
:data:`ALPHABET`), at least :data:`MIN_DATA_CHARS` digits, followed by :data:`CHECK_CHARS` check
characters: 6 to 12 characters in all (docs/ticket-format.md, "Short code").

The check value is ``sum(d_i * W**(i+1)) mod P`` over the digit values ``d_i``, written as two
base-32 characters. P is a prime above the largest digit difference, so every single wrong
character (a data or a check character) and every swap of two neighbouring characters changes it:
both are always detected. Anything else gets through with a chance of about 1 in P.

It carries no signature: a gate resolves it against the ticket list it pulled from the hub and then
checks that ticket's signed text like a scanned one. Reading is forgiving: any case, spaces and
dashes anywhere.
"""

from __future__ import annotations

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 2-9 and A-Z without I and O (no 0/1 either): 32 symbols
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
BASE = len(ALPHABET)
CHECK_CHARS = 2
MIN_DATA_CHARS = 4
MAX_DATA_CHARS = 10
MAX_LENGTH = MAX_DATA_CHARS + CHECK_CHARS  # 12
MAX_TICKET_ID = BASE**MAX_DATA_CHARS - 1  # 2**50 - 1: larger ticket ids have no short code
_P = 1021  # prime, < BASE**CHECK_CHARS
_W = 37
_SEPARATORS = str.maketrans("", "", " -\t")


def _check(digits: list[int]) -> int:
    total, weight = 0, 1
    for d in digits:
        weight = weight * _W % _P
        total = (total + d * weight) % _P
    return total


def _base32(value: int, width: int) -> str:
    out = []
    while value or len(out) < width:
        value, d = divmod(value, BASE)
        out.append(ALPHABET[d])
    return "".join(reversed(out))


def short_code(ticket_id: int) -> str:
    """The short code of ``ticket_id`` (0..MAX_TICKET_ID), e.g. ``"222F9M"``; ValueError outside that."""
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int) or not 0 <= ticket_id <= MAX_TICKET_ID:
        raise ValueError(f"a short code needs a ticket id from 0 to {MAX_TICKET_ID}, got {ticket_id!r}")
    data = _base32(ticket_id, MIN_DATA_CHARS)
    return data + _base32(_check([_VALUE[c] for c in data]), CHECK_CHARS)


def grouped(code: str) -> str:
    """A short code as printed: groups of three or four joined by dashes ("222-F9M", "23QM-K7TH-9A")."""
    size = 3 if len(code) <= 6 else 4
    return "-".join(code[i : i + size] for i in range(0, len(code), size))


def normalise(text: str) -> str:
    """Upper case without spaces, tabs and dashes: what is left to read of a typed short code."""
    return text.translate(_SEPARATORS).upper()


def parse_short_code(text: object) -> int | None:
    """The ticket id a typed short code names, or None when ``text`` is not one (a wrong check
    character, a look-alike letter, too short or too long). Never raises."""
    if not isinstance(text, str) or len(text) > 4 * MAX_LENGTH:
        return None
    code = normalise(text)
    if not MIN_DATA_CHARS + CHECK_CHARS <= len(code) <= MAX_LENGTH or not all(c in _VALUE for c in code):
        return None
    data, check = code[:-CHECK_CHARS], code[-CHECK_CHARS:]
    digits = [_VALUE[c] for c in data]
    if _base32(_check(digits), CHECK_CHARS) != check:
        return None
    value = 0
    for d in digits:
        value = value * BASE + d
    if len(data) > MIN_DATA_CHARS and digits[0] == 0:  # only one spelling per ticket: no extra leading zeros
        return None
    return value
