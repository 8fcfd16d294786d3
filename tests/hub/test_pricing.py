"""What a hold costs (hub.services.pricing): the rule itself, and that the checkout page shows what the
purchase then charges and records."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.schema_web import order_promos
from hub.services import holds, orders, pricing, promos
from hub.services.errors import Conflict, NotFound
from tests.hub.web.support import Browser

from .helpers import create_event, ga_type

FEE = 150


def _two_priced_sections(client, organizer) -> dict:
    """Section A sells at 25.00, section B at 40.00 (the cheaper type on sale in each), standing at 12.00."""
    return create_event(
        client,
        organizer,
        rows=2,
        seats=4,
        sections=("A", "B"),
        price=9900,
        service_fee=FEE,
        ga_capacity=10,
        ga_price=1200,
        extra_types=[
            {"name": "Stalls", "kind": "seated", "price": 2500, "sections": ["A"]},
            {"name": "Circle", "kind": "seated", "price": 4000, "sections": ["B"]},
        ],
    )


def _hold_row(conn, held: dict):
    return holds.find_hold(conn, held["hold_id"], held["hold_token"])


def test_a_price_is_each_ticket_plus_the_fee_per_ticket_less_a_discount_on_the_tickets_only(app, client, organizer):
    event = _two_priced_sections(client, organizer)
    now = datetime.now(UTC)
    with app.extensions["tickethub.engine"].connect() as conn:
        held = holds.hold_seats(conn, event["id"], [("B", "1", "2"), ("A", "2", "3")], now=now)
        hold = _hold_row(conn, held)
        price = pricing.hold_price(conn, hold, now)
        assert [(i["label"], i["ticket_type"], i["price"]) for i in price.items] == [
            ("Section A · Row 2 · Seat 3", "Stalls", 2500),
            ("Section B · Row 1 · Seat 2", "Circle", 4000),
        ]
        assert (price.subtotal, price.fees, price.discount, price.total, price.currency) == (6500, 300, 0, 6800, "EUR")
        promos.create_promo(conn, event["id"], "TEN", "percent", 15)
        promos.create_promo(conn, event["id"], "ALL", "fixed", 10**6)
        assert pricing.hold_price(conn, hold, now, "ten").total == 6500 - 975 + 300  # 15 % of 65.00, rounded down
        everything = pricing.hold_price(conn, hold, now, "ALL")
        assert (everything.discount, everything.total) == (6500, 300)  # the fees are never discounted
        with pytest.raises(NotFound):
            pricing.hold_price(conn, hold, now, "NOPE")
        # standing: quantity times the type's price
        standing = holds.hold_ga(conn, event["id"], ga_type(event), 3, now=now)
        ga_price = pricing.hold_price(conn, _hold_row(conn, standing), now)
        assert [i["label"] for i in ga_price.items] == ["General admission"] * 3
        assert (ga_price.subtotal, ga_price.fees, ga_price.total) == (3600, 450, 4050)


def test_a_hold_that_no_longer_keeps_its_seats_has_no_price(app, client, organizer):
    event = _two_priced_sections(client, organizer)
    now = datetime.now(UTC)
    with app.extensions["tickethub.engine"].connect() as conn:
        hold = _hold_row(conn, holds.hold_seats(conn, event["id"], [("A", "1", "1")], ttl_seconds=60, now=now))
        assert pricing.hold_price(conn, hold, now + timedelta(seconds=59)).total == 2500 + FEE
        with pytest.raises(Conflict) as lost:
            pricing.hold_price(conn, hold, now + timedelta(seconds=60))
        assert lost.value.code == "hold_expired"


@pytest.mark.parametrize("kind", ["seats", "ga"])
def test_the_purchase_charges_and_records_the_price(app, client, organizer, kind):
    event = _two_priced_sections(client, organizer)
    now = datetime.now(UTC)
    signer = app.extensions["tickethub.keys"].current()
    with app.extensions["tickethub.engine"].connect() as conn:
        promos.create_promo(conn, event["id"], "SAVE7", "percent", 7)
        held = (
            holds.hold_seats(conn, event["id"], [("A", "1", "1"), ("B", "2", "4")], now=now)
            if kind == "seats"
            else holds.hold_ga(conn, event["id"], ga_type(event), 3, now=now)
        )
        price = pricing.hold_price(conn, _hold_row(conn, held), now, "SAVE7")
        order = orders.purchase(
            conn,
            held["hold_id"],
            held["hold_token"],
            {"name": "B", "email": "b@example.org"},
            "box_office",
            signer,
            now=now,
            promo_code="save7",
        )
        recorded = conn.execute(select(order_promos.c.discount).where(order_promos.c.order_id == order["id"])).scalar()
    assert (order["subtotal"], order["fees"], order["total"], order["currency"]) == (
        price.subtotal,
        price.fees,
        price.total,
        price.currency,
    )
    assert recorded == price.discount > 0


def _money(page: str, element_id: str) -> int:
    match = re.search(rf'id="{element_id}">−?€([\d,]+)\.(\d\d)<', page)
    assert match, f"no #{element_id} on the page"
    return int(match.group(1).replace(",", "")) * 100 + int(match.group(2))


def test_the_checkout_page_shows_what_the_purchase_charges(app, client, organizer, engine):
    event = _two_priced_sections(client, organizer)
    with engine.connect() as conn:
        promos.create_promo(conn, event["id"], "SPRING", "percent", 15)
    web = Browser(app.test_client())
    web.get(f"/events/{event['id']}")
    seat_b = 2 * 4 + 1  # section B, row 1, seat 2 in seat-map order
    checkout = web.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": ["0", str(seat_b)]}).headers[
        "Location"
    ]
    web.get(checkout)
    page = web.post(
        checkout, {"name": "Ada", "email": "ada@example.org", "promo_code": "spring", "action": "apply"}
    ).get_data(as_text=True)
    shown = {key: _money(page, key) for key in ("fees", "discount", "total")}
    assert shown == {"fees": 2 * FEE, "discount": 6500 * 15 // 100, "total": 6500 - 975 + 2 * FEE}
    assert f"Pay €{shown['total'] // 100:,}.{shown['total'] % 100:02d}" in page
    bought = web.post(
        checkout,
        {
            "name": "Ada",
            "email": "ada@example.org",
            "promo_code": "spring",
            "payment_method": "box_office",
            "action": "buy",
        },
    )
    assert bought.status_code == 302, bought.get_data(as_text=True)[:500]
    order_id = int(re.search(r"/orders/(\d+)/", bought.headers["Location"]).group(1))
    with engine.connect() as conn:
        order = orders.get_order(conn, order_id)
        assert (order["fees"], order["total"]) == (shown["fees"], shown["total"])
        assert promos.order_discount(conn, order_id)["discount"] == shown["discount"]


def test_the_recorded_discount_is_what_the_order_took_off():
    from types import SimpleNamespace

    from hub.services.pricing import recorded_discount

    assert recorded_discount(SimpleNamespace(subtotal=9000, fees=300, total=8400)) == 900
    assert recorded_discount(SimpleNamespace(subtotal=9000, fees=300, total=9300)) == 0
