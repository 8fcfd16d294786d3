"""Real headless Chromium against a real hub server (waitress on loopback).

A customer picks two seats on the live seat map, checks out, staff mark the
box-office order paid, and the customer opens the ticket on a phone-sized,
dark-mode screen: the QR decoded from the screenshot by the gate's decoder
verifies. An organizer creates a venue and an event through the pages.
"""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pytest
from PIL import Image

from common.signing import parse_short_code, verify_ticket
from hub.services import holds, users
from tests.hub.web.live import serve_hub
from tests.hub.web.support import make_event

pytestmark = pytest.mark.browser
PASSWORD = "correct horse"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture
def hub(tmp_path):
    with serve_hub(tmp_path) as (app, base_url):
        with app.extensions["tickethub.engine"].connect() as conn:
            organizer = users.create_user(conn, "org@example.org", PASSWORD, "organizer")
            event = make_event(conn, organizer["id"], rows=4, seats=10)
        yield app, base_url, event


def _login(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/account/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/manage|/door|/$"))


def test_customer_picks_two_seats_and_phone_ticket_screenshot_decodes_and_verifies(browser, hub):
    from gate_agent.scanner import make_decoder

    app, base_url, event = hub
    customer = browser.new_context(**PHONE, color_scheme="dark")
    page = customer.new_page()
    console_errors = []  # CSP violations and script errors show up here
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    page.goto(f"{base_url}/events/{event['id']}")
    page.wait_for_selector("#seatmap[aria-busy=false]")  # drawn from the cached map data
    assert page.locator("button.seat.available").count() == 40

    # Someone else holds seat 0 meanwhile: the open map shows it without a reload.
    with app.extensions["tickethub.engine"].connect() as conn:
        holds.hold_seats(conn, event["id"], [("A", "1", "1")])
    page.wait_for_selector('button.seat.held[data-index="0"]', timeout=8000)
    assert page.locator('button.seat[data-index="0"]').is_disabled()

    page.click('button.seat[data-index="14"]')
    page.click('button.seat[data-index="15"]')
    assert page.text_content("#picked-count") == "2"
    page.click("#hold-picked")
    page.wait_for_url(re.compile(r"/checkout/\d+"))
    assert page.locator(".held-seat").all_text_contents() == [
        "Section A · Row 2 · Seat 5",
        "Section A · Row 2 · Seat 6",
    ]
    assert re.fullmatch(r"\d+:\d\d", page.text_content("#countdown"))
    assert page.text_content("#total") == "€53.00"
    page.fill("#name", "Ada Lovelace")
    page.fill("#email", "ada@example.org")
    page.select_option("#payment_method", "box_office")
    page.click("#buy")
    page.wait_for_url(re.compile(r"/orders/\d+/"))
    order_url = page.url

    staff = browser.new_context()
    desk = staff.new_page()
    _login(desk, base_url, "org@example.org")
    desk.goto(f"{base_url}/manage/events/{event['id']}/orders")
    desk.click("text=Mark paid")
    desk.wait_for_selector("text=marked paid")
    staff.close()

    page.goto(order_url)
    page.click("text=Show ticket >> nth=0")
    page.wait_for_selector(".qr-card svg")
    shot = Image.open(io.BytesIO(page.screenshot()))
    background = shot.convert("RGB").getpixel((5, shot.height - 5))
    assert sum(background) < 200, "the page itself is in dark mode"
    [text] = make_decoder("zxing").decode(np.asarray(shot.convert("L")))
    verdict = verify_ticket(text, app.extensions["tickethub.keys"].keyring(), time.time())
    assert verdict.valid, verdict.reason
    assert verdict.ticket.event_id == event["id"] and verdict.ticket.seat == 14
    # the short code under the QR names the same ticket, for door staff to type when the QR will not scan
    assert parse_short_code(page.locator("#short-code strong").inner_text()) == verdict.ticket.ticket_id
    # A dim or washed-out screen as the gate camera sees it: a quarter of the contrast still decodes.
    gray = np.asarray(shot.convert("L"), dtype=np.float32)
    for low, high in ((0, 64), (160, 224)):
        dimmed = (low + gray * (high - low) / 255).astype(np.uint8)
        assert make_decoder("zxing").decode(dimmed) == [text]
    card = page.locator(".qr-card").bounding_box()
    assert card["width"] >= 300, "the QR fills the phone's width"
    assert console_errors == []
    customer.close()


def test_organizer_creates_venue_and_event_through_the_pages(browser, tmp_path):
    with serve_hub(tmp_path) as (app, base_url):
        with app.extensions["tickethub.engine"].connect() as conn:
            users.create_user(conn, "org@example.org", PASSWORD, "organizer")
        context = browser.new_context()
        page = context.new_page()
        _login(page, base_url, "org@example.org")
        page.click("text=New venue")
        page.fill("#name", "Little Theatre")
        page.fill("#layout", "Stalls: A=6, B=6\nBalcony: A=2-5")
        page.click("#venue-form button[type=submit]")
        page.wait_for_selector("text=with 16 seats created")

        page.goto(f"{base_url}/manage/events/new")
        page.fill("#title", "Opening Night")
        page.fill("#category", "theatre")
        page.fill("#location", "Leipzig")
        page.fill("#starts_at", "2031-05-01T19:30")
        page.select_option("#venue_id", label="Little Theatre (16 seats)")
        page.fill("#service_fee", "1.00")
        page.fill("#ticket_types-0-name", "Stalls")
        page.fill("#ticket_types-0-price", "30")
        page.fill("#ticket_types-0-sections", "Stalls")
        page.click("text=Add another ticket type")  # the form starts with one row
        page.wait_for_selector("#ticket_types-1-name")
        page.fill("#ticket_types-1-name", "Balcony")
        page.fill("#ticket_types-1-price", "18.50")
        page.fill("#ticket_types-1-sections", "Balcony")
        page.click("#event-form button[type=submit]")
        page.wait_for_selector("text=Event Opening Night created as a draft")
        assert "EUR" not in page.text_content("h1")
        page.click("#status-form button:has-text('Publish')")  # a draft is public once published
        page.wait_for_selector("text=Event published")

        page.click("text=Public page")
        page.wait_for_selector("#seatmap[aria-busy=false]")  # drawn from the cached map data
        assert page.locator("button.seat.available").count() == 16
        assert "€18.50" in page.text_content(".prices")
        context.close()


def test_refund_and_reissue_buttons_ask_first_and_cancelling_the_dialog_changes_nothing(browser, hub):
    """The organizer's order page: each button that takes a buyer's QR code away says so in a dialog;
    "Cancel" in it leaves the order and its tickets as they were, "OK" does what it said."""
    from hub.services.orders import confirm_payment, get_order, purchase

    app, base_url, event = hub
    signer = app.extensions["tickethub.keys"].current()
    with app.extensions["tickethub.engine"].connect() as conn:
        held = holds.hold_seats(conn, event["id"], [("A", "1", "1")])
        order = purchase(
            conn, held["hold_id"], held["hold_token"], {"name": "Ada", "email": "ada@example.org"}, "box_office", signer
        )
        order = confirm_payment(conn, order["id"], signer)
    [ticket] = order["tickets"]

    def state() -> tuple:
        with app.extensions["tickethub.engine"].connect() as conn:
            now = get_order(conn, order["id"])
        return now["status"], [(t["ticket_id"], t["status"]) for t in now["tickets"]]

    before = state()
    context = browser.new_context()
    page = context.new_page()
    console_errors = []
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    _login(page, base_url, "org@example.org")
    page.goto(f"{base_url}/manage/events/{event['id']}/orders")
    asked = []

    def answer(accept: bool):
        def handle(dialog) -> None:
            asked.append((dialog.type, dialog.message))
            dialog.accept() if accept else dialog.dismiss()

        return handle

    page.once("dialog", answer(False))
    page.click(f"#order-{order['id']} button:text('Refund')")
    page.once("dialog", answer(False))
    page.click(f"#order-{order['id']} button:text('Re-issue')")
    assert [kind for kind, _ in asked] == ["confirm", "confirm"]
    refund_text, reissue_text = (message for _, message in asked)
    assert "(€26.50)" in refund_text and "its 1 ticket QR code(s) stop working at the gate" in refund_text
    assert "current QR code stops working at the gate" in reissue_text and "new QR code" in reissue_text
    assert state() == before  # dismissed: nothing was sent
    assert page.url.endswith(f"/manage/events/{event['id']}/orders")

    page.once("dialog", answer(True))
    page.click(f"#order-{order['id']} button:text('Re-issue')")
    page.wait_for_selector(f"text=Ticket {ticket['ticket_id']} replaced")
    status, tickets = state()
    assert status == "paid" and (ticket["ticket_id"], "revoked") in tickets and len(tickets) == 2
    page.once("dialog", answer(True))
    page.click(f"#order-{order['id']} button:text('Refund')")
    page.wait_for_selector(f"text=Order {order['id']} refunded")
    assert state()[0] == "refunded" and len(asked) == 4
    assert console_errors == []
    context.close()
