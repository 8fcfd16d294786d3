"""Pages on a phone-sized screen (real Chromium, 390 px wide): nothing is cut off.

A seat map whose rows fit once the seats shrink (never under 24x24 px) shows every seat on screen;
a map too wide even then scrolls inside its box and says so. Wide tables of
the organizer pages scroll inside their box instead of widening the page.
"""

from __future__ import annotations

import io
import re
from datetime import UTC

import numpy as np
import pytest
from PIL import Image

from hub.services import holds, orders, users
from tests.hub.web.live import serve_hub
from tests.hub.web.support import make_event

pytestmark = pytest.mark.browser
PASSWORD = "correct horse"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with serve_hub(tmp_path_factory.mktemp("phone")) as (app, base_url):
        signer = app.extensions["tickethub.keys"].current()
        with app.extensions["tickethub.engine"].connect() as conn:
            organizer = users.create_user(conn, "org@example.org", PASSWORD, "organizer")
            fits = make_event(conn, organizer["id"], rows=4, seats=14, title="Fourteen a row")
            wide = make_event(conn, organizer["id"], rows=2, seats=40, title="Forty a row")
            for row in ("1", "2", "3"):
                held = holds.hold_seats(conn, fits["id"], [("A", row, str(s)) for s in range(1, 8)])
                orders.purchase(
                    conn,
                    held["hold_id"],
                    held["hold_token"],
                    {"name": "Box Office Customer", "email": "a-long-address@example.org"},
                    "box_office",
                    signer,
                )
        yield base_url, fits, wide, organizer


def _page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_every_seat_of_a_fourteen_seat_row_is_on_a_phone_screen(browser, hub):
    base_url, fits, _wide, _org = hub
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{base_url}/events/{fits['id']}")
    page.wait_for_selector("#seatmap[aria-busy=false]")  # drawn from the cached map data
    seats = page.locator("button.seat")
    assert seats.count() == 56
    for index in range(seats.count()):
        box = seats.nth(index).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, f"seat {index} is cut off at {box}"
        assert box["width"] >= 24 and box["height"] >= 24, f"seat {index} is smaller than 24x24 px: {box}"
    assert page.locator("#map-scroll-hint").is_hidden()
    assert _page_width(page) <= 390
    context.close()


def test_a_map_wider_than_the_phone_scrolls_inside_its_box_and_says_so(browser, hub):
    base_url, _fits, wide, _org = hub
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{base_url}/events/{wide['id']}")
    page.wait_for_selector("#map-scroll-hint:not([hidden])")
    assert "sideways" in page.text_content("#map-scroll-hint")
    assert _page_width(page) <= 390, "the map scrolls, not the whole page"
    last = page.locator('button.seat[data-index="39"]')
    last.scroll_into_view_if_needed()
    last.click()
    assert page.text_content("#picked-count") == "1"
    context.close()


def test_organizer_pages_fit_a_phone_screen(browser, hub):
    base_url, fits, _wide, _org = hub
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{base_url}/account/login")
    page.fill("#email", "org@example.org")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/manage"))
    for path in (
        "/manage",
        f"/manage/events/{fits['id']}",
        f"/manage/events/{fits['id']}/orders",
        "/manage/events/new",
        "/manage/venues/new",
        "/account/orders",
    ):
        page.goto(base_url + path)
        assert _page_width(page) <= 390, f"{path} is wider than the phone"
    context.close()


def test_hold_countdown_ignores_a_phone_clock_that_runs_ahead(browser, hub):
    """The countdown starts from the hub's seconds left, so a phone clock twenty minutes fast
    neither shows the hold as expired nor disables buying."""
    from datetime import datetime, timedelta

    base_url, _fits, wide, _org = hub
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.clock.install(time=datetime.now(UTC) + timedelta(minutes=20))
    page.goto(f"{base_url}/events/{wide['id']}")
    page.fill("#count", "1")
    page.click("#best-add")
    page.wait_for_url(re.compile(r"/checkout/\d+"))
    page.clock.run_for(2000)
    timer = page.text_content("#hold-timer")
    left = re.search(r"held for (\d+):(\d\d)", timer)
    assert left, timer
    minutes, seconds = left.groups()
    assert 9 * 60 <= int(minutes) * 60 + int(seconds) < 10 * 60
    assert page.locator("#buy").is_enabled()
    context.close()


def test_two_factor_setup_qr_fills_its_white_card(browser, hub):
    """The authenticator QR scales to its card instead of sitting small in a corner of a white box."""
    base_url, _fits, _wide, _org = hub
    context = browser.new_context(**PHONE, color_scheme="dark")
    page = context.new_page()
    page.goto(f"{base_url}/account/login")
    page.fill("#email", "org@example.org")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/manage"))
    page.goto(f"{base_url}/account/2fa")
    shot = Image.open(io.BytesIO(page.locator(".qr-card").screenshot())).convert("L")
    margin = 14  # past the card's rounded corners, where the dark page shows through
    dark = np.argwhere(np.asarray(shot)[margin:-margin, margin:-margin] < 128)
    (top, left), (bottom, right) = dark.min(axis=0), dark.max(axis=0)
    assert dark.size and right - left >= 0.7 * shot.width and bottom - top >= 0.7 * shot.height, (
        f"modules span {right - left}x{bottom - top} px of a {shot.width}x{shot.height} card"
    )
    assert shot.width >= 160
    context.close()


def test_picking_more_seats_than_a_hold_takes_says_why(browser, hub):
    base_url, _fits, wide, _org = hub
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{base_url}/events/{wide['id']}")
    page.wait_for_selector("#seatmap[aria-busy=false]")  # drawn from the cached map data
    assert page.locator("#pick-limit").is_hidden()
    free = page.eval_on_selector_all("button.seat.available", "seats => seats.map(s => s.dataset.index)")
    for index in free[:21]:  # a hold takes at most 20 seats (HOLD_MAX_SEATS)
        page.locator(f'button.seat[data-index="{index}"]').click()
    assert page.text_content("#picked-count") == "20"
    assert page.locator("#pick-limit").is_visible()
    assert "up to 20 seats" in page.text_content("#pick-limit")
    page.locator(f'button.seat[data-index="{free[0]}"]').click()  # un-picking one clears the message
    assert page.locator("#pick-limit").is_hidden()
    context.close()
