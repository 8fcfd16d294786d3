"""Real Chromium: while two buyers hold, buy and release seats, a third person's open seat map shows
every change without a reload: from the seat-map stream (hub/streaming.py, on its own port) and,
for a hub without one, by asking for the changes since its version every 2 s."""

from __future__ import annotations

import re
import socket

import pytest

from hub.services import users
from hub.streaming import start_stream_server
from tests.hub.web.live import serve_hub
from tests.hub.web.support import make_event
from tests.support import wait_for

pytestmark = pytest.mark.browser
CHANGE_SHOWN_MS = 15_000  # generous for a loaded machine; a change normally shows within 2 s


@pytest.fixture(params=["stream", "poll"])
def hub(request, tmp_path):
    with serve_hub(tmp_path) as (app, base_url):
        streams = (
            start_stream_server(app, socket.create_server(("127.0.0.1", 0))) if request.param == "stream" else None
        )
        with app.extensions["tickethub.engine"].connect() as conn:
            organizer = users.create_user(conn, "org@example.org", "correct horse", "organizer")
            event = make_event(conn, organizer["id"], rows=2, seats=6)
        yield base_url, event, streams
        if streams is not None:
            streams.close()


def _open_map(context, url: str, errors: list):
    page = context.new_page()
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("#seatmap[aria-busy=false]")
    return page


def _hold(page, *indexes: int) -> None:
    for index in indexes:
        page.click(f'button.seat[data-index="{index}"]')
    page.click("#hold-picked")
    page.wait_for_url(re.compile(r"/checkout/\d+"))


def test_a_viewer_sees_every_hold_sale_and_release_of_two_buyers_without_reloading(browser, hub):
    base_url, event, streams = hub
    url = f"{base_url}/events/{event['id']}"
    errors: list[str] = []
    viewer = _open_map(browser.new_context(), url, errors)
    assert bool(viewer.get_attribute("#seat-form", "data-stream-url")) == (streams is not None)
    viewer.evaluate("window.sameDocument = true")  # gone if the page were reloaded

    def shows(index: int, status: str) -> None:
        viewer.wait_for_selector(f'button.seat.{status}[data-index="{index}"]', timeout=CHANGE_SHOWN_MS)

    ada = _open_map(browser.new_context(), url, errors)
    bob = _open_map(browser.new_context(), url, errors)
    if streams is not None:  # every page follows the stream, none polls
        wait_for(lambda: streams.count == 3, 10, "three open streams")
    _hold(ada, 0, 1)
    shows(0, "held")
    shows(1, "held")
    _hold(bob, 7)
    shows(7, "held")
    assert viewer.locator('button.seat[data-index="7"]').is_disabled()

    ada.fill("#name", "Ada Lovelace")
    ada.fill("#email", "ada@example.org")
    ada.select_option("#payment_method", "box_office")
    ada.click("#buy")
    ada.wait_for_url(re.compile(r"/orders/\d+/"))
    shows(0, "sold")
    shows(1, "sold")

    bob.click("#empty-cart")
    bob.wait_for_url(re.compile(r"/events/\d+$"))
    shows(7, "available")
    assert viewer.locator('button.seat[data-index="7"]').is_enabled()
    assert viewer.locator("button.seat.available").count() == 12 - 2
    assert viewer.evaluate("window.sameDocument") is True
    assert errors == []
