"""Storefront pages through the Flask test client: list, calendar, event page, hold, checkout, order, tickets."""

from __future__ import annotations

import email
import io
import re
import time
from datetime import datetime, timedelta
from email import policy

from PIL import Image

from common.signing import verify_ticket
from hub.services.clock import utcnow
from hub.web.mailing import mail_queue_once
from tests.hub.web.support import decode_image, make_event, read_pdf_qr


def _hold_two_seats(web, event, seats=(0, 1)):
    page = web.get(f"/events/{event['id']}")
    assert page.status_code == 200
    response = web.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": [str(s) for s in seats]})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response.headers["Location"]


def _checkout(web, checkout_url, **fields):
    web.get(checkout_url)
    data = {"name": "Ada Lovelace", "email": "ada@example.org", "payment_method": "box_office", "action": "buy"}
    data.update(fields)
    return web.post(checkout_url, data)


def _outbox(app):
    from pathlib import Path

    folder = Path(app.instance_path) / "outbox"
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def test_event_list_filters_sorts_and_pages(browser_client, engine, make_account):
    organizer = make_account("organizer")
    with engine.connect() as conn:
        for i in range(14):
            make_event(
                conn,
                organizer["id"],
                title=f"Show {i:02d}",
                starts_in=timedelta(days=i + 1),
                location="Berlin" if i % 2 else "Hamburg",
                category="jazz" if i < 3 else "concert",
            )
    web = browser_client

    first = web.get("/").get_data(as_text=True)
    assert "14 events" in first and "Show 00" in first and "Show 13" not in first and "Page 1 of 2" in first
    assert first.count("from €25.00") == 12
    second = web.get("/?page=2").get_data(as_text=True)
    assert "Show 13" in second and "Show 00" not in second
    jazz = web.get("/?category=jazz").get_data(as_text=True)
    assert "3 events" in jazz and "Show 02" in jazz and "Show 05" not in jazz
    hamburg = web.get("/?location=Hamburg").get_data(as_text=True)
    assert "7 events" in hamburg and "Show 01" not in hamburg
    latest = web.get("/?sort=-starts_at").get_data(as_text=True)
    assert latest.index("Show 13") < latest.index("Show 12")
    day = (utcnow() + timedelta(days=3)).date().isoformat()
    one_day = web.get(f"/?date_from={day}&date_to={day}").get_data(as_text=True)
    assert "1 event" in one_day and "Show 02" in one_day
    searched = web.get("/?q=show+1").get_data(as_text=True)
    assert "Show 10" in searched and "Show 09" not in searched


def test_calendar_shows_events_on_their_day(browser_client, event):
    starts = datetime.fromisoformat(event["starts_at"].replace("Z", "+00:00"))
    page = browser_client.get(f"/calendar?month={starts:%Y-%m}").get_data(as_text=True)
    assert starts.strftime("%B %Y") in page
    assert f"{starts:%H:%M} Brass Night" in page
    other = (starts.replace(day=1) + timedelta(days=40)).strftime("%Y-%m")
    assert "Brass Night" not in browser_client.get(f"/calendar?month={other}").get_data(as_text=True)
    assert browser_client.get("/calendar?month=garbage").status_code == 200


def test_event_page_shows_prices_availability_and_seat_map(browser_client, event):
    page = browser_client.get(f"/events/{event['id']}").get_data(as_text=True)
    assert "€25.00" in page and "service fee of €1.50" in page
    # the page does not spell out its seats: seatmap.js draws them from the cached map data it names
    assert 'class="seat' not in page
    status_url = re.search(r'data-status-url="([^"]+)"', page).group(1)
    assert browser_client.get(status_url).get_json()["status"].count("a") == 24
    seats = browser_client.get(f"/events/{event['id']}/seats.json").get_json()
    assert seats["num_available"] == 24
    assert browser_client.get("/events/999999").status_code == 404


def test_buy_two_seats_box_office_then_staff_marks_paid_and_tickets_verify(app, browser_client, event, new_browser):
    web = browser_client
    checkout_url = _hold_two_seats(web, event)
    checkout = web.get(checkout_url).get_data(as_text=True)
    assert "Section A · Row 1 · Seat 1" in checkout and "Section A · Row 1 · Seat 2" in checkout
    assert "€50.00" in checkout and "€3.00" in checkout and "€53.00" in checkout  # fees before paying
    assert 'id="countdown"' in checkout
    assert 'value="card"' not in checkout  # a hub without Stripe keys does not offer card payments

    seats = web.get(f"/events/{event['id']}/seats.json").get_json()["seats"]
    assert [s["status"] for s in seats[:3]] == ["held", "held", "available"]

    bought = _checkout(web, checkout_url)
    assert bought.status_code == 302
    order_url = bought.headers["Location"]
    pending = web.get(order_url).get_data(as_text=True)
    assert "Pay €53.00 at the box office by " in pending
    assert _outbox(app) == []  # pages only queue mail; the mail job sends it
    assert mail_queue_once(app) == {"outbox": 1}  # SMTP is not configured: kept in the outbox
    [received] = _outbox(app)
    assert "not paid yet" in received.read_text() and "attachment" not in received.read_text()

    staff = new_browser()
    staff.login("org@example.org")
    order_id = int(re.search(r"/orders/(\d+)/", order_url).group(1))
    staff.get(f"/manage/events/{event['id']}/orders")
    assert staff.post(f"/manage/orders/{order_id}/mark-paid").status_code == 302

    paid = web.get(order_url).get_data(as_text=True)
    ticket_urls = re.findall(r'href="(/orders/\d+/[^/"]+/tickets/\d+)"', paid)
    assert len(ticket_urls) == 2
    keyring = app.extensions["tickethub.keys"].keyring()
    phone = web.get(ticket_urls[0]).get_data(as_text=True)
    assert "<svg" in phone and "Section A · Row 1 · Seat 1" in phone and "Zone: 1" in phone

    png = web.get(ticket_urls[0] + ".png")
    assert png.mimetype == "image/png"
    [text] = decode_image(Image.open(io.BytesIO(png.data)))
    verdict = verify_ticket(text, keyring, time.time())
    assert verdict.valid and verdict.ticket.seat == 0 and verdict.ticket.zones == frozenset({1})

    pdf = web.get(ticket_urls[1] + ".pdf")
    assert pdf.mimetype == "application/pdf"
    qr = read_pdf_qr(pdf.data, 0)
    assert verify_ticket(qr.text, keyring, time.time()).ticket.seat == 1 and qr.symbol_width_mm >= 35

    assert mail_queue_once(app) == {"outbox": 1}
    [eml] = [path for path in _outbox(app) if path != received]
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == "Ada Lovelace <ada@example.org>"
    [attachment] = list(message.iter_attachments())
    texts = {read_pdf_qr(attachment.get_content(), page).text for page in (0, 1)}
    assert text in texts and qr.text in texts


def test_wrong_order_token_is_refused(browser_client, event):
    web = browser_client
    order_url = _checkout(web, _hold_two_seats(web, event)).headers["Location"]
    good = web.get(order_url)
    assert good.status_code == 200
    order_id = re.search(r"/orders/(\d+)/", order_url).group(1)
    assert web.get(f"/orders/{order_id}/not-the-token").status_code == 403
    assert web.get(f"/orders/{order_id}/not-the-token/tickets.pdf").status_code == 403


def test_hold_conflict_and_expired_hold_are_explained(browser_client, event, new_browser, app):
    web = browser_client
    _hold_two_seats(web, event)
    rival = new_browser()
    rival.get(f"/events/{event['id']}")
    taken = rival.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": ["1", "2"]}, follow_redirects=True)
    assert "Section A · Row 1 · Seat 2 was just taken — pick another seat." in taken.get_data(as_text=True)
    # someone else's hold cannot be checked out
    assert rival.get("/checkout/1").status_code == 403


def test_best_available_and_ga_holds(browser_client, engine, make_account):
    organizer = make_account("organizer")
    with engine.connect() as conn:
        found = make_event(conn, organizer["id"], ga_capacity=5)
    web = browser_client
    web.get(f"/events/{found['id']}")
    best = web.post(f"/events/{found['id']}/hold", {"mode": "best", "count": "3"})
    assert "Seat" in web.get(best.headers["Location"]).get_data(as_text=True)
    ga_id = next(t["id"] for t in found["ticket_types"] if t["kind"] == "ga")
    ga = web.post(f"/events/{found['id']}/hold", {"mode": "ga", "ticket_type_id": str(ga_id), "quantity": "2"})
    ga_checkout = web.get(ga.headers["Location"]).get_data(as_text=True)
    assert "General admission" in ga_checkout
    assert "Your cart is held for" in ga_checkout and "seats" not in ga_checkout  # standing: no seats
    too_many = web.post(
        f"/events/{found['id']}/hold",
        {"mode": "ga", "ticket_type_id": str(ga_id), "quantity": "4"},
        follow_redirects=True,
    )
    assert "Only 3 left — choose 3 or fewer." in too_many.get_data(as_text=True)


def test_form_without_csrf_token_is_rejected(client, event):
    response = client.post(f"/events/{event['id']}/hold", data={"mode": "seats", "seat": ["0"]})
    assert response.status_code == 400 and "This form is out of date" in response.get_data(as_text=True)
    assert client.get(f"/events/{event['id']}/seats.json").get_json()["num_available"] == 24


def test_hold_posts_are_rate_limited_per_client(app, browser_client, event):
    app.config["HOLD_RATE_LIMIT"] = "3 per minute"
    web = browser_client
    web.get(f"/events/{event['id']}")
    codes = [web.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": [str(n)]}).status_code for n in range(4)]
    assert codes == [302, 302, 302, 429]
    # one cart: each pick replaced the one before, so one seat is held
    assert web.get(f"/events/{event['id']}/seats.json").get_json()["num_available"] == 23


def test_unknown_address_and_wrong_method_get_the_sites_error_page_and_the_api_keeps_json(client, event):
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert b"Back to the events" in missing.data and b'name="viewport"' in missing.data
    wrong_method = client.get(f"/events/{event['id']}/hold")  # a reload of a POST-only address
    assert wrong_method.status_code == 405 and b"Back to the events" in wrong_method.data
    assert "POST" in wrong_method.headers["Allow"]
    api_missing = client.get("/api/v1/no-such-thing")
    assert api_missing.status_code == 404 and api_missing.json["error"]["code"] == "not_found"


def test_out_of_range_page_dates_and_months_are_not_server_errors(client, event):
    for path in (
        "/?page=99999999999999999999",
        "/?date_to=9999-12-31",
        "/calendar?month=9999-12",
        "/calendar?month=0001-01",
        "/calendar?month=2026-00",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
    assert b"Brass Night" in client.get("/?date_to=9999-12-31").data  # the last day there is: no upper bound
    assert b"Brass Night" not in client.get("/?page=99999999999999999999").data  # a page past the end is empty


def test_web_orders_cannot_be_read_or_blocked_through_a_guessed_idempotency_key(browser_client, event, new_browser):
    api = new_browser().client
    # Mallory buys a seat of her own with the key the old checkout would have used for the next web hold
    mine = api.post(
        f"/api/v1/events/{event['id']}/holds", json={"seats": [{"section": "A", "row": "3", "seat": "8"}]}
    ).json
    victims_hold = mine["hold_id"] + 1
    guessed = {"Idempotency-Key": f"web-hold-{victims_hold}"}
    planted = api.post(
        "/api/v1/orders",
        headers=guessed,
        json={
            "hold_id": mine["hold_id"],
            "hold_token": mine["hold_token"],
            "buyer": {"name": "Mallory", "email": "m@example.org"},
            "payment": {"method": "box_office"},
        },
    )
    assert planted.status_code == 201

    checkout_url = _hold_two_seats(browser_client, event)
    assert checkout_url.endswith(f"/checkout/{victims_hold}")
    bought = _checkout(browser_client, checkout_url, payment_method="box_office")
    assert bought.status_code == 302, bought.get_data(as_text=True)[:500]  # not blocked by Mallory's key
    order_url = bought.headers["Location"]
    access_token = order_url.rstrip("/").rsplit("/", 1)[1]

    for key in (f"web-hold-{victims_hold}", "web-checkout"):
        probe = api.post(
            "/api/v1/orders",
            headers={"Idempotency-Key": key},
            json={
                "hold_id": victims_hold,
                "hold_token": "x",
                "buyer": {"name": "Mallory", "email": "m@example.org"},
                "payment": {"method": "box_office"},
            },
        )
        assert probe.status_code == 403 and set(probe.json) == {"error"}
        body = probe.get_data(as_text=True)
        assert access_token not in body and "ada@example.org" not in body and "Ada Lovelace" not in body


def test_checkout_refuses_line_breaks_in_the_name_and_bad_addresses(browser_client, event, engine):
    web = browser_client
    checkout_url = _hold_two_seats(web, event)
    for fields, complaint in (
        ({"name": "Ada\r\nBcc: all@example.org"}, "line breaks"),
        ({"email": "ada@example.org, bob@example.org"}, "not an email address"),
        ({"email": "ada@localhost"}, "not an email address"),
    ):
        page = _checkout(web, checkout_url, **fields)
        assert page.status_code == 200 and complaint in page.get_data(as_text=True), fields
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar() == 0
    assert _checkout(web, checkout_url).status_code == 302  # the hold was kept: a good retry buys it


def test_checkout_fields_apply_the_apis_buyer_rule_and_say_why_on_the_field(browser_client, event, engine):
    """The form checks a buyer by services.orders.BUYER_FIELDS itself: a blank name (spaces only) was
    let through by the form and only refused by the purchase, as a flash about `buyer.name`."""
    web = browser_client
    checkout_url = _hold_two_seats(web, event)
    for fields, complaint in (
        ({"name": "   "}, "Name: must not be empty"),
        ({"name": "Ada\u2028Bcc: all@example.org"}, "Name: must not contain line breaks"),
        ({"email": "ada@localhost"}, "Email: not an email address"),
    ):
        page = _checkout(web, checkout_url, **fields).get_data(as_text=True)
        assert f'<div class="field-error">{complaint}' in page, fields
        assert "buyer." not in page, fields
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar() == 0
    bought = _checkout(web, checkout_url, name="  Ada Lovelace ", email=" ada@EXAMPLE.org ")
    assert bought.status_code == 302
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT buyer_name, buyer_email FROM orders").one() == (
            "Ada Lovelace",
            "ada@example.org",
        )


def test_one_client_cannot_hold_more_than_its_share(app, browser_client, event, new_browser):
    app.config["HOLD_MAX_SEATS_PER_CLIENT"] = 3
    web = browser_client
    _hold_two_seats(web, event)
    # changing the cart's two seats for two others stays within the share: the cart holds two, not four
    changed = web.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": ["4", "5"]})
    assert changed.status_code == 302 and "/checkout/" in changed.headers["Location"]
    # a second browser session from the same address is the same client
    again = new_browser()
    again.get(f"/events/{event['id']}")
    refused = again.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": ["6", "7"]}, follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert "You already hold 2 tickets, and one customer can hold at most 3 at a time." in text
    assert web.get(f"/events/{event['id']}/seats.json").get_json()["num_available"] == 22
    # another address is another client
    other = new_browser()
    other.get(f"/events/{event['id']}", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    held = other.post(
        f"/events/{event['id']}/hold", {"mode": "seats", "seat": ["8", "9"]}, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    assert held.status_code == 302 and "/checkout/" in held.headers["Location"]


def test_non_ascii_order_token_on_the_order_pages_is_refused_not_a_server_error(browser_client, event):
    web = browser_client
    order_url = _checkout(web, _hold_two_seats(web, event)).headers["Location"]
    order_id = re.search(r"/orders/(\d+)/", order_url).group(1)
    for suffix in ("", "/tickets.pdf", "/tickets/1"):
        assert web.get(f"/orders/{order_id}/%C3%A9{suffix}").status_code == 403, suffix
        assert web.get(f"/orders/{order_id}/%E2%98%83{suffix}").status_code == 403, suffix
