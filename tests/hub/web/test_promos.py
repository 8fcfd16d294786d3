"""Promo codes: percent and fixed discounts, usage limit, validity window; shown before paying, charged in the order."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from hub.services import promos
from hub.services.clock import utcnow
from hub.services.errors import Conflict, Invalid, NotFound
from hub.services.holds import hold_seats
from hub.services.orders import purchase


def _hold(web, event, seat):
    web.get(f"/events/{event['id']}")
    return web.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": [str(seat)]}).headers["Location"]


def test_percent_code_shown_at_checkout_and_charged(browser_client, engine, event):
    with engine.connect() as conn:
        promos.create_promo(conn, event["id"], "spring20", "percent", 20)
    web = browser_client
    checkout = _hold(web, event, 0)
    web.get(checkout)
    applied = web.post(checkout, {"name": "A", "email": "a@example.org", "promo_code": "Spring20", "action": "apply"})
    page = applied.get_data(as_text=True)
    assert "Promo code SPRING20" in page and "−€5.00" in page and "€21.50" in page  # 25.00 - 5.00 + 1.50 fee
    bought = web.post(
        checkout,
        {
            "name": "A",
            "email": "a@example.org",
            "promo_code": "spring20",
            "payment_method": "box_office",
            "action": "buy",
        },
    )
    order = web.get(bought.headers["Location"]).get_data(as_text=True)
    assert "Total €21.50" in order and "promo SPRING20 −€5.00" in order


def test_unknown_or_used_up_code_blocks_the_purchase_with_a_reason(browser_client, engine, event):
    with engine.connect() as conn:
        promos.create_promo(conn, event["id"], "ONCE", "fixed", 1000, max_uses=1)
    web = browser_client
    checkout = _hold(web, event, 0)
    web.get(checkout)
    unknown = web.post(
        checkout,
        {"name": "A", "email": "a@example.org", "promo_code": "NOPE", "payment_method": "box_office", "action": "buy"},
    )
    assert unknown.status_code == 200 and "unknown promo code NOPE" in unknown.get_data(as_text=True)
    first = web.post(
        checkout,
        {"name": "A", "email": "a@example.org", "promo_code": "once", "payment_method": "box_office", "action": "buy"},
    )
    assert "Total €16.50" in web.get(first.headers["Location"]).get_data(as_text=True)
    second_checkout = _hold(web, event, 1)
    web.get(second_checkout)
    used = web.post(
        second_checkout,
        {"name": "B", "email": "b@example.org", "promo_code": "ONCE", "payment_method": "box_office", "action": "buy"},
    )
    assert "has been used up" in used.get_data(as_text=True)


def test_validity_window_and_fixed_discount_never_exceeds_subtotal(engine, event):
    now = utcnow()
    with engine.connect() as conn:
        promos.create_promo(conn, event["id"], "LATER", "percent", 50, valid_from=now + timedelta(days=1))
        promos.create_promo(conn, event["id"], "OVER", "percent", 50, valid_until=now - timedelta(seconds=1))
        promos.create_promo(conn, event["id"], "HUGE", "fixed", 10**6)
        with pytest.raises(Conflict, match="not valid yet"):
            promos.quote(conn, event["id"], "LATER", 2500, now)
        with pytest.raises(Conflict, match="expired"):
            promos.quote(conn, event["id"], "OVER", 2500, now)
        assert promos.quote(conn, event["id"], "LATER", 2500, now + timedelta(days=2))["discount"] == 1250
        assert promos.quote(conn, event["id"], "HUGE", 2500, now)["discount"] == 2500
        with pytest.raises(NotFound):
            promos.quote(conn, event["id"] + 1000, "HUGE", 2500, now)
        with pytest.raises(Conflict):
            promos.create_promo(conn, event["id"], "huge", "percent", 5)
        for bad in [("X", "percent", 5), ("OK-1", "percent", 101), ("OK-2", "fixed", 0), ("OK-3", "gift", 5)]:
            with pytest.raises(Invalid):
                promos.create_promo(conn, event["id"], *bad)


def test_usage_limit_holds_under_concurrent_purchases(app, engine, event):
    """Eight buyers race for a code that may be used three times: exactly three get it."""
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        promos.create_promo(conn, event["id"], "RACE", "percent", 10, max_uses=3)
        holds = [hold_seats(conn, event["id"], [("A", "1", str(n + 1))]) for n in range(8)]
    outcomes = []
    start = threading.Barrier(len(holds))

    def buy(hold):
        with engine.connect() as conn:
            start.wait()
            try:
                order = purchase(
                    conn,
                    hold["hold_id"],
                    hold["hold_token"],
                    {"name": "R", "email": "r@example.org"},
                    "box_office",
                    signer,
                    promo_code="RACE",
                )
                outcomes.append(order["total"])
            except Conflict as exc:
                outcomes.append(exc.code)

    threads = [threading.Thread(target=buy, args=(h,)) for h in holds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(map(str, outcomes)) == sorted(["2400"] * 3 + ["promo_used_up"] * 5)
    with engine.connect() as conn:
        assert promos.list_promos(conn, event["id"])[0]["used"] == 3
