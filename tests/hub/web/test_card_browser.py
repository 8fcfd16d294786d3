"""A card purchase in real headless Chromium against a real hub server and a real localstripe.

The buyer picks seats, chooses card at checkout, and pays on the order page in localstripe's fake
Stripe.js (loaded from localstripe, as Stripe.js is from js.stripe.com): a declined card first (a clear
message, the seats stay the buyer's), then the test card 4242 4242 4242 4242. localstripe's webhook
marks the order paid, the page notices by itself, and the ticket's QR, decoded from a screenshot by the
gate's decoder, verifies.
"""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pytest
from PIL import Image

from common.signing import verify_ticket
from hub.services import users
from tests.hub.web.live import serve_hub
from tests.hub.web.support import make_event
from tests.support import LOCALSTRIPE_KEYS, register_stripe_webhook

pytestmark = pytest.mark.browser


@pytest.fixture
def hub(tmp_path, localstripe):
    with serve_hub(tmp_path, **LOCALSTRIPE_KEYS, STRIPE_API_BASE=localstripe) as (app, base_url):
        register_stripe_webhook(localstripe, f"{base_url}/payments/stripe/webhook")
        with app.extensions["tickethub.engine"].connect() as conn:
            organizer = users.create_user(conn, "org@example.org", "correct horse", "organizer")
            event = make_event(conn, organizer["id"], rows=2, seats=6)
        yield app, base_url, event


def _type_card(page, number: str) -> None:
    """The card field localstripe's Stripe.js draws (Stripe's own is an iframe the hub cannot read either)."""
    field = page.locator("#card-element")
    field.locator("input[placeholder=number]").fill(number)
    field.locator("input[placeholder=exp_month]").fill("12")
    field.locator("input[placeholder=exp_year]").fill("30")
    field.locator("input[placeholder=cvc]").fill("123")
    field.locator("input[placeholder=postal_code]").fill("10115")


def test_buyer_pays_by_card_after_a_decline_and_the_ticket_qr_verifies(browser, hub):
    from gate_agent.scanner import make_decoder

    app, base_url, event = hub
    context = browser.new_context()
    page = context.new_page()
    problems = []  # CSP violations (Stripe.js must be allowed) and script errors show up here
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{base_url}/events/{event['id']}")
    page.wait_for_selector("#seatmap[aria-busy=false]")
    page.click('button.seat[data-index="2"]')
    page.click('button.seat[data-index="3"]')
    page.click("#hold-picked")
    page.wait_for_url(re.compile(r"/checkout/\d+"))
    page.fill("#name", "Ada Lovelace")
    page.fill("#email", "ada@example.org")
    assert page.locator("#payment_method option").all_inner_texts()[0] == "Card — pay now"
    page.select_option("#payment_method", "card")
    page.click("#buy")
    page.wait_for_url(re.compile(r"/orders/\d+/"))
    assert "Pay €53.00 by card" in page.text_content("#payment-state")

    # declined: said plainly, and the seats are still the buyer's
    page.wait_for_selector("#card-element input[placeholder=number]")
    _type_card(page, "4000000000000341")
    page.click("#pay")
    page.wait_for_selector("#card-message:not([hidden])")
    message = page.text_content("#card-message")
    assert "Your card was declined." in message and "seats stay reserved" in message
    assert page.locator("#pay").is_enabled()
    page.reload()
    assert "Your card was declined." in page.text_content("#payment-error")
    page.goto(f"{base_url}/events/{event['id']}")
    page.wait_for_selector('button.seat.sold[data-index="2"]')
    assert page.locator('button.seat[data-index="2"]').is_disabled()
    page.go_back()

    # a good card: Stripe's webhook pays the order and the page shows the tickets without a click
    page.wait_for_selector("#card-element input[placeholder=number]")
    _type_card(page, "4242424242424242")
    page.click("#pay")
    page.wait_for_selector("text=Thank you! Your tickets are below", timeout=30_000)
    assert page.locator(".ticket-item").count() == 2

    page.click("text=Show ticket >> nth=0")
    page.wait_for_selector(".qr-card svg")
    shot = Image.open(io.BytesIO(page.screenshot()))
    [text] = make_decoder("zxing").decode(np.asarray(shot.convert("L")))
    verdict = verify_ticket(text, app.extensions["tickethub.keys"].keyring(), time.time())
    assert verdict.valid, verdict.reason
    assert verdict.ticket.event_id == event["id"] and verdict.ticket.seat == 2
    # the declined attempt's answer is a 402, which Chromium logs; nothing else went wrong
    assert [p for p in problems if "status of 402" not in p] == []
    assert len(problems) == 1
    context.close()


def test_card_that_asks_for_3d_secure_is_completed_in_the_browser(browser, hub):
    app, base_url, event = hub
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base_url}/events/{event['id']}")
    page.wait_for_selector("#seatmap[aria-busy=false]")
    page.click('button.seat[data-index="7"]')
    page.click("#hold-picked")
    page.wait_for_url(re.compile(r"/checkout/\d+"))
    page.fill("#name", "Grace Hopper")
    page.fill("#email", "grace@example.org")
    page.select_option("#payment_method", "card")
    page.click("#buy")
    page.wait_for_url(re.compile(r"/orders/\d+/"))
    page.wait_for_selector("#card-element input[placeholder=number]")
    _type_card(page, "4000002500003155")  # the bank wants 3-D Secure: Stripe.js shows its dialog
    page.click("#pay")
    page.click("text=Complete authentication")
    page.wait_for_selector("text=Thank you! Your tickets are below", timeout=30_000)
    assert page.locator(".ticket-item").count() == 1
    context.close()
