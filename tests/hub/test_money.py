"""services.money: amounts in each currency's own format and decimals, and back from what organizers type."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.services.errors import Invalid
from hub.services.money import csv_amount, currency_code, format_money, to_minor


@pytest.mark.parametrize(
    ("minor", "currency", "shown", "decimal"),
    [
        (21900, "EUR", "€219.00", "219.00"),
        (21900, "JPY", "¥21,900", "21900"),
        (5, "KWD", "KWD\u00a00.005", "0.005"),
        (150, "USD", "$1.50", "1.50"),
        (123456789, "CHF", "CHF\u00a01,234,567.89", "1234567.89"),
        (0, "EUR", "€0.00", "0.00"),
    ],
)
def test_amounts_in_the_currencys_format_and_decimals(minor, currency, shown, decimal):
    assert format_money(minor, currency) == shown
    assert csv_amount(minor, currency) == decimal
    assert to_minor(decimal, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("24.5", "EUR", 2450),
        ("24,50", "EUR", 2450),
        (" 25 ", "EUR", 2500),
        ("2450", "JPY", 2450),
        ("2450.0", "JPY", 2450),
    ],
)
def test_what_organizers_type(text, currency, minor):
    assert to_minor(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"), [("24.50", "JPY"), ("1.234", "EUR"), ("", "EUR"), ("-1", "EUR"), ("1e3", "EUR")]
)
def test_amounts_the_currency_cannot_have_are_refused(text, currency):
    with pytest.raises(Invalid) as refused:
        to_minor(text, currency)
    assert refused.value.code == "invalid_amount"


def test_currency_codes_are_iso_4217():
    check = currency_code()
    assert check("jpy", "currency") == "JPY"
    for bad in ("EURO", "ZZZ", "", 978, None, "€"):
        with pytest.raises(Invalid) as refused:
            check(bad, "currency")
        assert refused.value.code == "invalid_currency"


def test_migration_0009_gives_existing_events_and_orders_euros_and_goes_down_and_up(database_url):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import hub.schema_queue  # noqa: F401  (its tables join the metadata)
    from hub.db import alembic_config, current_revision, make_engine, upgrade
    from hub.schema import metadata

    engine = make_engine(database_url)
    ours = {("events", "currency"), ("events", "cancelled_at"), ("orders", "currency")}
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    flat = [d for diff in diffs for d in (diff if isinstance(diff, list) else [diff])]
    assert [d for d in flat if (d[2], d[3]) in ours] == []  # the migration makes what the schema says
    config = alembic_config(database_url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0008")
    assert current_revision(engine) == "0008"
    with engine.connect() as conn:
        conn.exec_driver_sql(
            "INSERT INTO events (title, artist, location, description, category, starts_at, "
            "ticket_release_at, service_fee, created_at) VALUES ('kept', '', '', '', '', "
            "'2031-01-01 20:00:00', '2031-01-01 10:00:00', 0, '2030-01-01 00:00:00')"
        )
        conn.commit()
    upgrade(engine)
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT title, currency, cancelled_at FROM events").one()
    engine.dispose()
    assert tuple(row) == ("kept", "EUR", None)


@given(st.text(max_size=30), st.sampled_from(["EUR", "JPY", "KWD"]))
@settings(max_examples=300, deadline=None)
def test_any_typed_amount_is_accepted_or_explained(text, currency):
    try:
        minor = to_minor(text, currency)
    except Invalid as exc:
        assert exc.code == "invalid_amount" and exc.message
    else:
        assert minor >= 0 and to_minor(csv_amount(minor, currency), currency) == minor
