"""The waiting room in real headless Chromium against a real hub server (waitress on loopback): a buyer
opens the event page, lands in the queue behind fifteen others, is let in by the page itself when the
turn comes, holds a seat and checks out on the free payment path."""

from __future__ import annotations

import re

import pytest

from hub.services import users, waiting_room
from tests.hub.web.live import serve_hub
from tests.hub.web.support import make_event

pytestmark = pytest.mark.browser


def test_queue_page_lets_the_buyer_in_who_then_holds_and_pays(browser, tmp_path):
    with serve_hub(tmp_path) as (app, base_url):
        with app.extensions["tickethub.engine"].connect() as conn:
            organizer = users.create_user(conn, "org@example.org", "correct horse", "organizer")
            event = make_event(
                conn, organizer["id"], price=0, fee=0, rows=2, seats=6, waiting_room=True, admit_per_minute=300
            )  # five a second
            for _ in range(15):  # buyers ahead of ours, who never come back for their turn
                waiting_room.join(conn, event["id"], app.config["SECRET_KEY"])
        context = browser.new_context()
        page = context.new_page()
        console_errors = []  # CSP violations and script errors show up here
        page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
        page.on("pageerror", lambda error: console_errors.append(str(error)))

        page.goto(f"{base_url}/events/{event['id']}")
        assert page.url.endswith(f"/events/{event['id']}/queue")
        assert 1 <= int(page.text_content("#queue-ahead")) <= 15
        assert "Estimated wait" in page.text_content("#queue")
        # the page asks for its place by itself and moves on when the turn has come
        page.wait_for_url(re.compile(rf"/events/{event['id']}$"), timeout=30_000)
        assert "It is your turn" in page.text_content("main")

        page.click('button.seat[data-index="0"]')
        page.click("#hold-picked")
        page.wait_for_url(re.compile(r"/checkout/\d+"))
        page.fill("#name", "Ada Lovelace")
        page.fill("#email", "ada@example.org")
        page.select_option("#payment_method", "free")
        page.click("#buy")
        page.wait_for_url(re.compile(r"/orders/\d+/"))
        assert "Ada Lovelace" in page.text_content("main")
        assert console_errors == []
        context.close()
