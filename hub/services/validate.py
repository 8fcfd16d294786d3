"""Small checkers for JSON input: exact types, bounds, no unknown fields.

Each checker is ``check(value, where) -> cleaned`` and raises Invalid naming the
field path, so both the API and the web forms give precise 4xx errors. Each also
says what it accepts as a JSON Schema, ``check.json_schema()``: the API's OpenAPI
document describes request bodies with it, so their bounds live here only.
"""

from __future__ import annotations

import string as _ascii
import unicodedata
from collections.abc import Callable
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common.pin import PIN_MAX_DIGITS, PIN_MIN_DIGITS, valid_pin

from .clock import parse_iso
from .errors import Invalid

Checker = Callable[[Any, str], Any]
MISSING = object()
MAX_INTEGER = 2**63 - 1  # the largest integer (id) the databases store


def fail(where: str, message: str, code: str = "invalid_field"):
    raise Invalid(f"{where}: {message}", code)


def with_schema(check, schema: Callable[[], dict]) -> Checker:
    """`check` with its JSON Schema (a function, so nested checkers are asked when the document is built).
    A checker made here has one already; a hand-written one that wraps another gives its own."""
    check.json_schema = schema
    return check


def _text_schema(max_len: int, min_len: int) -> dict:
    schema: dict[str, Any] = {"type": "string", "maxLength": max_len}
    if min_len:  # surrounding spaces are stripped before the length is checked
        schema.update(minLength=min_len, pattern=r"\S")
    return schema


def string(max_len: int = 200, min_len: int = 0) -> Checker:
    def check(value, where):
        if not isinstance(value, str):
            fail(where, "must be a string")
        value = value.strip()
        if len(value) < min_len:
            fail(where, "must not be empty" if min_len == 1 else f"needs at least {min_len} characters")
        if len(value) > max_len:
            fail(where, f"is longer than {max_len} characters")
        return value

    return with_schema(check, lambda: _text_schema(max_len, min_len))


# Control characters, lone surrogates and line/paragraph separators: never part of a
# name or an address, and CR/LF in a mail header makes building the message fail.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(c) in _CONTROL_CATEGORIES for c in text)


def plain_text(max_len: int = 200, min_len: int = 0) -> Checker:
    """A one-line text such as a person's name: a string without control characters or line breaks."""
    base = string(max_len, min_len)

    def check(value, where):
        value = base(value, where)
        if has_control_characters(value):
            fail(where, "must not contain line breaks or control characters", "control_characters")
        return value

    return with_schema(check, base.json_schema)


MAX_EMAIL = 320
_LOCAL_CHARS = frozenset(_ascii.ascii_letters + _ascii.digits + "!#$%&'*+-/=?^_`{|}~.")
_LABEL_CHARS = frozenset(_ascii.ascii_letters + _ascii.digits + "-")


def normal_email(text: str) -> str:
    """One plain address (name@example.org) as the mailer can send to it, or ValueError saying why not.

    The domain may be internationalised; it is returned in its ASCII (xn--) form.
    The part before @ must be ASCII: mailing a non-ASCII one needs SMTPUTF8,
    which neither the hub's mailer nor most servers speak.
    """
    text = text.strip()
    if not 3 <= len(text) <= MAX_EMAIL:
        raise ValueError(f"an address has 3 to {MAX_EMAIL} characters")
    if any(c.isspace() for c in text) or has_control_characters(text):
        raise ValueError("an address has no spaces, line breaks or control characters")
    local, at, domain = text.rpartition("@")
    if not at or "@" in local:
        raise ValueError("give one address with one @, like name@example.org")
    if not 1 <= len(local) <= 64:
        raise ValueError("the part before @ has 1 to 64 characters")
    if not set(local) <= _LOCAL_CHARS or local[0] == "." or local[-1] == "." or ".." in local:
        raise ValueError(
            "the part before @ may have letters a-z, digits, dots (not first, last or twice) and !#$%&'*+-/=?^_`{|}~"
        )
    domain = _ascii_domain(domain)
    try:
        Address(addr_spec=f"{local}@{domain}")  # the parser the mailer builds its headers with
    except (HeaderParseError, ValueError, IndexError):
        raise ValueError("not an email address") from None
    return f"{local}@{domain}"


def _ascii_domain(domain: str) -> str:
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("the part after @ is not a domain name") from None
    labels = ascii_domain.split(".")
    if (
        len(ascii_domain) > 253
        or len(labels) < 2
        or labels[-1].isdigit()
        or not all(
            1 <= len(label) <= 63 and set(label) <= _LABEL_CHARS and label[0] != "-" and label[-1] != "-"
            for label in labels
        )
    ):
        raise ValueError("the part after @ must be a domain name like example.org")
    return ascii_domain


def email_address() -> Checker:
    def check(value, where):
        if not isinstance(value, str):
            fail(where, "must be a string")
        try:
            return normal_email(value)
        except ValueError as exc:
            fail(where, f"not an email address: {exc}", "invalid_email")

    return with_schema(check, lambda: {**_text_schema(MAX_EMAIL, 3), "format": "email"})


def integer(lo: int | None = None, hi: int | None = MAX_INTEGER) -> Checker:
    def check(value, where):
        if isinstance(value, bool) or not isinstance(value, int):
            fail(where, "must be an integer")
        if lo is not None and value < lo:
            fail(where, f"must be at least {lo}")
        if hi is not None and value > hi:
            fail(where, f"must be at most {hi}")
        return value

    def schema() -> dict:
        out: dict[str, Any] = {"type": "integer"}
        if lo is not None:
            out["minimum"] = lo
        if hi is not None:
            out["maximum"] = hi
        return out

    return with_schema(check, schema)


def boolean() -> Checker:
    def check(value, where):
        if not isinstance(value, bool):
            fail(where, "must be true or false")
        return value

    return with_schema(check, lambda: {"type": "boolean"})


def one_of(*choices: str) -> Checker:
    def check(value, where):
        if value not in choices:
            fail(where, f"must be one of {', '.join(choices)}")
        return value

    return with_schema(check, lambda: {"enum": list(choices)})


def timestamp() -> Checker:
    def check(value, where) -> datetime:
        try:
            return parse_iso(value)
        except (ValueError, TypeError):
            fail(where, "must be an ISO 8601 date-time such as 2026-05-01T19:30:00Z")

    return with_schema(check, lambda: {"type": "string", "format": "date-time"})


def time_zone() -> Checker:
    """An IANA time zone name the system knows, e.g. "Europe/Vienna"."""

    def check(value, where) -> str:
        if not isinstance(value, str) or not 1 <= len(value) <= 64:
            fail(where, "must be an IANA time zone name such as Europe/Vienna")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            fail(where, f"{value!r} is not a time zone this system knows (e.g. Europe/Vienna)")
        return value

    return with_schema(check, lambda: {"type": "string", "maxLength": 64, "examples": ["Europe/Vienna"]})


def pin() -> Checker:
    """A supervisor PIN: 4 to 12 digits (common.pin)."""

    def check(value, where) -> str:
        if not valid_pin(value):
            fail(where, f"must be {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits")
        return value

    return with_schema(check, lambda: {"type": "string", "pattern": f"^[0-9]{{{PIN_MIN_DIGITS},{PIN_MAX_DIGITS}}}$"})


def list_of(item: Checker, max_items: int = 1000, min_items: int = 0) -> Checker:
    def check(value, where):
        if not isinstance(value, list):
            fail(where, "must be a list")
        if len(value) < min_items:
            fail(where, f"needs at least {min_items} item(s)")
        if len(value) > max_items:
            fail(where, f"has more than {max_items} items")
        return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]

    def schema() -> dict:
        out = {"type": "array", "items": item.json_schema(), "maxItems": max_items}
        if min_items:
            out["minItems"] = min_items
        return out

    return with_schema(check, schema)


def either(*checkers: Checker) -> Checker:
    """The first checker that accepts the value; the last one's error otherwise."""

    def check(value, where):
        for checker in checkers[:-1]:
            try:
                return checker(value, where)
            except Invalid:
                pass
        return checkers[-1](value, where)

    return with_schema(check, lambda: {"oneOf": [checker.json_schema() for checker in checkers]})


def obj(required: dict[str, Checker] | None = None, optional: dict[str, Checker] | None = None) -> Checker:
    required, optional = required or {}, optional or {}

    def check(value, where):
        if not isinstance(value, dict):
            fail(where, "must be an object")
        unknown = sorted(set(value) - set(required) - set(optional))
        if unknown:
            fail(where, f"unknown field(s) {', '.join(map(repr, unknown))}", "unknown_field")
        out = {}
        for name, checker in required.items():
            if name not in value:
                fail(where, f"missing field {name!r}", "missing_field")
            out[name] = checker(value[name], f"{where}.{name}")
        for name, checker in optional.items():
            if name in value and value[name] is not None:
                out[name] = checker(value[name], f"{where}.{name}")
        return out

    def schema() -> dict:
        out: dict[str, Any] = {
            "type": "object",
            "additionalProperties": False,
            "properties": {name: checker.json_schema() for name, checker in {**required, **optional}.items()},
        }
        if required:
            out["required"] = sorted(required)
        return out

    return with_schema(check, schema)
