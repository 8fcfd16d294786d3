"""Expired orders on the pages: the buyer's order page says so, and "Mark paid" on an expired order whose
seat was sold again explains why nothing happened (no error page)."""

from __future__ import annotations

import re
from datetime import timedelta

from hub.services import holds
from hub.services import orders as order_service
from hub.services.clock import utcnow


def test_marking_an_expired_order_paid_after_its_seat_was_resold_changes_nothing(
    app, browser_client, new_browser, engine, event
):
    web = browser_client
    web.get(f"/events/{event['id']}")
    checkout = web.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": ["0"]})
    web.get(checkout.headers["Location"])
    bought = web.post(
        checkout.headers["Location"],
        {"name": "Ada Lovelace", "email": "ada@example.org", "payment_method": "box_office", "action": "buy"},
    )
    order_url = bought.headers["Location"]
    order_id = int(re.search(r"/orders/(\d+)/", order_url).group(1))
    assert "If it is not paid by then" in web.get(order_url).get_data(as_text=True)

    later = utcnow() + timedelta(days=4)  # past the 3-day box-office deadline
    with engine.connect() as conn:
        assert [o["id"] for o in order_service.expire_overdue(conn, later)] == [order_id]
        rival = holds.hold_seats(conn, event["id"], [("A", "1", "1")], now=later)
        assert rival["seats"]  # the seat was on sale again
    assert "has expired" in web.get(order_url).get_data(as_text=True)

    staff = new_browser()
    staff.login("org@example.org")
    staff.get(f"/manage/events/{event['id']}/orders")
    answer = staff.post(f"/manage/orders/{order_id}/mark-paid")
    assert answer.status_code == 302
    page = staff.get(answer.headers["Location"]).get_data(as_text=True)
    assert "its places were sold again; nothing changed" in page
    with engine.connect() as conn:
        assert order_service.get_order(conn, order_id)["status"] == "expired"
