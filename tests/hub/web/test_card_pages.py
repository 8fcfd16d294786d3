"""Card payments through the pages (Flask test client) with a real localstripe, on SQLite and PostgreSQL:
checkout by card, the order page's Stripe.js allowance and card endpoint, the webhook-paid order, and
staff refunds in part and in whole from the orders page."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from hub.schema_notifications import notifications
from hub.schema_web import mail_log
from tests.support import LOCALSTRIPE_KEYS, register_stripe_webhook, stripe_card_token, wait_for


@pytest.fixture
def app_config(app_config, localstripe):
    return {**app_config, **LOCALSTRIPE_KEYS, "STRIPE_API_BASE": localstripe}


@pytest.fixture
def hub(live_server, localstripe):
    register_stripe_webhook(localstripe, f"{live_server}/payments/stripe/webhook")
    return live_server


def test_card_checkout_pays_on_the_order_page_and_staff_refund_in_part_then_whole(
    browser_client, new_browser, hub, localstripe, event, engine
):
    web = browser_client
    web.get(f"/events/{event['id']}")
    held = web.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": ["0", "1"]})
    assert held.status_code == 302
    checkout_url = held.headers["Location"]
    page = web.get(checkout_url).get_data(as_text=True)
    assert re.search(r'<option[^>]*value="card"[^>]*>Card — pay now', page)
    bought = web.post(
        checkout_url, {"name": "Ada Lovelace", "email": "ada@example.org", "payment_method": "card", "action": "buy"}
    )
    assert bought.status_code == 302, bought.get_data(as_text=True)[:500]
    order_url = bought.headers["Location"]
    order_page = web.get(order_url)
    html = order_page.get_data(as_text=True)
    assert 'id="card-form"' in html and f"{localstripe}/js.stripe.com/v3/" in html
    policy = order_page.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy and localstripe in policy.split("script-src", 1)[1].split(";")[0]
    assert f"connect-src 'self' {localstripe}" in policy

    token = stripe_card_token(localstripe)
    # the card endpoint is a page action: without the page's CSRF token it is refused, nothing is paid
    refused = web.client.post(f"{order_url}/card", json={"token": token})
    assert refused.status_code == 400
    paid_at_stripe = web.client.post(f"{order_url}/card", json={"token": token}, headers={"X-CSRFToken": web.token()})
    assert paid_at_stripe.status_code == 200 and paid_at_stripe.json == {"status": "succeeded"}
    assert wait_for(
        lambda: web.client.get(f"{order_url}/status.json").json["status"] == "paid", 30, "the succeeded webhook"
    )
    assert "Thank you! Your tickets are below" in web.get(order_url).get_data(as_text=True)
    order_id = int(re.search(r"/orders/(\d+)/", order_url).group(1))

    staff = new_browser()
    staff.login("org@example.org")
    orders_page = staff.get(f"/manage/events/{event['id']}/orders").get_data(as_text=True)
    assert "Mark paid" not in orders_page and "Refund part" in orders_page
    part = staff.post(f"/manage/orders/{order_id}/refund", {"amount": "10.00"}, follow_redirects=True)
    text = part.get_data(as_text=True)
    assert f"Order {order_id}: €10.00 refunded through Stripe; the buyer is mailed." in text
    assert "refunded €10.00" in text
    bad = staff.post(f"/manage/orders/{order_id}/refund", {"amount": "9999"}, follow_redirects=True)
    assert "the refund must be 1 to" in bad.get_data(as_text=True)
    whole = staff.post(f"/manage/orders/{order_id}/refund", follow_redirects=True)
    assert f"Order {order_id} refunded; its tickets are revoked and the buyer is mailed." in whole.get_data(
        as_text=True
    )
    assert "This order is refunded" in web.get(order_url).get_data(as_text=True)
    # the pages mail nothing themselves: each change went to the outbox, and the mail queue sends it
    with engine.connect() as conn:
        told = conn.execute(
            select(notifications.c.kind, notifications.c.payload)
            .where(notifications.c.order_id == order_id)
            .order_by(notifications.c.id)
        ).all()
        sent_by_pages = conn.execute(select(mail_log.c.kind).where(mail_log.c.order_id == order_id)).scalars().all()
    assert [kind for kind, _ in told] == ["order.placed", "order.paid", "order.refunded", "order.refunded"]
    assert [json.loads(payload)["whole"] for _, payload in told[2:]] == [False, True]
    assert sent_by_pages == []
