"""Money: integer minor units of a currency everywhere inside the hub; this module turns them into
what people read (pages, mail, PDF), what spreadsheets read (CSV decimals) and back (form input).

How many decimals a currency has (EUR 2, JPY 0, KWD 3) and how its amounts are written come from
CLDR through Babel, so no currency table lives here. Every event has its own currency
(events.currency); orders record the currency they were charged in (orders.currency).
"""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision, list_currencies

from .errors import Invalid
from .validate import Checker, fail, with_schema

DEFAULT_CURRENCY = "EUR"  # what events had before each event chose its own
LOCALE = "en"  # the hub's pages and mail are English
_CURRENCIES = frozenset(c for c in list_currencies() if re.fullmatch(r"[A-Z]{3}", c))
_LETTERS_THEN_DIGIT = re.compile(r"^(-?[A-Za-z]+)(\d)")
_AMOUNT = re.compile(r"^\s*(\d{1,9})(?:[.,](\d*))?\s*$")


def exponent(currency: str) -> int:
    """Decimal places of the currency's minor unit (2 for EUR, 0 for JPY, 3 for KWD)."""
    return get_currency_precision(currency)


def to_decimal(minor: int, currency: str) -> Decimal:
    """21900 EUR -> Decimal("219.00"); 21900 JPY -> Decimal("21900")."""
    return Decimal(minor).scaleb(-exponent(currency)).quantize(Decimal(1).scaleb(-exponent(currency)))


def format_money(minor: int | None, currency: str = DEFAULT_CURRENCY) -> str:
    """An amount as people read it: "€219.00", "¥21,900", "CHF 5.50"."""
    if minor is None:
        return ""
    text = format_currency(to_decimal(minor, currency), currency, locale=LOCALE)
    # CLDR's currency spacing, which Babel does not apply: a symbol of letters ("CHF") and the number
    # are kept apart by a no-break space ("CHF 5.50", not "CHF5.50"); "€5.50" stays as it is.
    return _LETTERS_THEN_DIGIT.sub("\\1\u00a0\\2", text, count=1)


def csv_amount(minor: int, currency: str) -> str:
    """An amount as a spreadsheet reads it: a plain decimal ("219.00", "21900"), the currency in its own column."""
    return str(to_decimal(minor, currency))


def to_minor(text: str | None, currency: str, where: str = "amount") -> int:
    """What an organizer typed ("24.50", "24,5", "2450") in minor units of `currency`; Invalid when it
    is no amount or has more decimals than the currency has (e.g. "24.50" yen)."""
    found = _AMOUNT.match(text or "")
    if not found:
        raise Invalid(f"{where}: write an amount like 25 or 24.50", "invalid_amount")
    whole, fraction = found.group(1), (found.group(2) or "").rstrip("0")
    places = exponent(currency)
    if len(fraction) > places:
        raise Invalid(
            f"{where}: {currency} amounts have {places} decimal place(s)"
            if places
            else f"{where}: {currency} amounts have no decimals",
            "invalid_amount",
        )
    return int(whole) * 10**places + int((fraction + "0" * places)[:places] or 0)


def currency_code() -> Checker:
    """Checker (services.validate) for an ISO 4217 currency code such as "EUR"; lower case is accepted."""

    def check(value, where):
        code = value.strip().upper() if isinstance(value, str) else None
        if code not in _CURRENCIES:
            fail(where, "must be an ISO 4217 currency code such as EUR, USD or JPY", "invalid_currency")
        return code

    return with_schema(check, lambda: {"type": "string", "pattern": "^[A-Za-z]{3}$"})
