"""The organizer's webhook pages: add an endpoint (secret shown once), read the delivery log, send a
delivery again, remove an endpoint only after a confirmation step."""

from __future__ import annotations

import re

import pytest

from hub.delivery.webhooks import work_deliveries
from hub.services.holds import hold_seats
from hub.services.orders import purchase


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": True}


def _place_order(app, engine, event_id: int, seat: str) -> dict:
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        held = hold_seats(conn, event_id, [("A", "1", seat)])
        return purchase(
            conn, held["hold_id"], held["hold_token"], {"name": "B", "email": "b@example.org"}, "box_office", signer
        )


def test_add_endpoint_see_deliveries_send_again_and_remove(app, engine, browser_client, event):
    web = browser_client
    web.login("org@example.org")
    web.get("/manage/webhooks")
    page = web.post("/manage/webhooks", {"url": "http://127.0.0.1:9/hook", "kinds": ["order.placed", "order.paid"]})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    secret = re.search(r"<code>(whsec_[^<]+)</code>", html).group(1)
    listing = web.get("/manage/webhooks").get_data(as_text=True)
    assert "http://127.0.0.1:9/hook" in listing and secret not in listing  # shown once only

    _place_order(app, engine, event["id"], "1")
    with engine.connect() as conn:
        assert work_deliveries(conn, allow_private=True) == {"queued": 1}  # nobody listens on port 9
    log = web.get("/manage/webhooks/1").get_data(as_text=True)
    assert "order.placed" in log and "waiting" in log and "Connection" in log  # the refused connection, in words

    again = web.post("/manage/webhooks/1/deliveries/1/send-again")
    assert again.status_code == 302
    assert web.get("/manage/webhooks/1").get_data(as_text=True).count("order.placed") == 2

    removal = web.get("/manage/webhooks/1/remove").get_data(as_text=True)
    assert "will get nothing more" in removal
    assert web.post("/manage/webhooks/1/remove").status_code == 302
    assert "removed" in web.get("/manage/webhooks").get_data(as_text=True)
    assert "gave up" in web.get("/manage/webhooks/1").get_data(as_text=True)  # the waiting delivery was dropped


def test_a_bad_url_is_explained_and_nothing_is_added(browser_client, event):
    web = browser_client
    web.login("org@example.org")
    web.get("/manage/webhooks")
    page = web.post("/manage/webhooks", {"url": "ftp://example.org/x", "kinds": ["order.paid"]})
    assert "http:// or https://" in page.get_data(as_text=True)
    assert "No webhook endpoints yet." in web.get("/manage/webhooks").get_data(as_text=True)
