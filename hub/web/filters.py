"""Jinja filters for the pages."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask

from common.protocol import INVALID_TIME, to_utc

from ..services.money import csv_amount, format_money


def when(value: datetime | str | None) -> str:
    """ "Sat 1 May 2026, 19:30 UTC" for a datetime or an ISO text; total: INVALID_TIME for
    anything that is no time, so one bad row never breaks a page."""
    if value is None or value == "":
        return ""
    moment = to_utc(value)
    if moment is None:
        return INVALID_TIME
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M} UTC"


def time_of_day(value: datetime | str | None) -> str:
    """ "19:30:05" (UTC) of a datetime or an ISO text; "" for none, INVALID_TIME for no time."""
    if value is None or value == "":
        return ""
    moment = to_utc(value)
    return INVALID_TIME if moment is None else f"{moment:%H:%M:%S}"


def day(value: str) -> str:
    """ "Mon 30 Nov" of an ISO date ("2026-11-30")."""
    moment = date.fromisoformat(value)
    return f"{moment:%a} {moment.day} {moment:%b}"


def money_by_currency(amounts: dict[str, int]) -> str:
    """ "€42.00 · ¥300" of {currency: minor units}: sums in different currencies stay apart."""
    return " · ".join(format_money(amount, currency) for currency, amount in amounts.items())


def register_filters(app: Flask) -> None:
    app.jinja_env.filters["day"] = day
    app.jinja_env.filters["money"] = format_money  # {{ amount|money(currency) }}: "€219.00"
    app.jinja_env.filters["moneys"] = money_by_currency  # {{ {"EUR": 4200, "JPY": 300}|moneys }}
    app.jinja_env.filters["amount"] = csv_amount  # {{ amount|amount(currency) }}: "219.00", for form inputs
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["time_of_day"] = time_of_day
