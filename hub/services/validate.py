"""Small checkers for JSON input: exact types, bounds, no unknown fields.

Each checker is ``check(value, where) -> cleaned`` and raises Invalid naming the
field path, so both the API and the web forms give precise 4xx errors.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from .clock import parse_iso
from .errors import Invalid

Checker = Callable[[Any, str], Any]
MISSING = object()
MAX_INTEGER = 2**63 - 1  # the largest integer (id) the databases store


def fail(where: str, message: str, code: str = "invalid_field"):
    raise Invalid(f"{where}: {message}", code)


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
    return check


def integer(lo: int | None = None, hi: int | None = MAX_INTEGER) -> Checker:
    def check(value, where):
        if isinstance(value, bool) or not isinstance(value, int):
            fail(where, "must be an integer")
        if lo is not None and value < lo:
            fail(where, f"must be at least {lo}")
        if hi is not None and value > hi:
            fail(where, f"must be at most {hi}")
        return value
    return check


def one_of(*choices: str) -> Checker:
    def check(value, where):
        if value not in choices:
            fail(where, f"must be one of {', '.join(choices)}")
        return value
    return check


def timestamp() -> Checker:
    def check(value, where) -> datetime:
        try:
            return parse_iso(value)
        except (ValueError, TypeError):
            fail(where, "must be an ISO 8601 date-time such as 2026-05-01T19:30:00Z")
    return check


def list_of(item: Checker, max_items: int = 1000, min_items: int = 0) -> Checker:
    def check(value, where):
        if not isinstance(value, list):
            fail(where, "must be a list")
        if len(value) < min_items:
            fail(where, f"needs at least {min_items} item(s)")
        if len(value) > max_items:
            fail(where, f"has more than {max_items} items")
        return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return check


def either(*checkers: Checker) -> Checker:
    """The first checker that accepts the value; the last one's error otherwise."""
    def check(value, where):
        for checker in checkers[:-1]:
            try:
                return checker(value, where)
            except Invalid:
                pass
        return checkers[-1](value, where)
    return check


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
    return check
