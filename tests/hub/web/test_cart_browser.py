"""Real Chromium, on a phone (390x844) and a desktop: the buyer's seat flow as a person sees it.

One cart per buyer (Back from checkout shows my seats as mine and lets me change them, one countdown),
a lost race named in plain words with the other picks kept, a ticket type chosen per seat with prices on
the map and a bar that always shows "N seats · total · Continue", the checkout's words, and a map a
finger and a keyboard can use: seats of at least 24x24 px, rows at their real offsets, labelled seats,
a 10,000-seat hall drawn a section at a time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from hub.services import holds, seatmap, users
from hub.services.clock import iso
from hub.services.events import create_event
from hub.services.venues import create_venue
from tests.hub.web.live import serve_hub
from tests.hub.web.support import make_event

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PICKED_BLUE = "rgb(11, 95, 255)"  # --seat-picked: the buyer's own seats
SHOWN_MS = 15_000  # generous for a loaded machine


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with serve_hub(tmp_path_factory.mktemp("cart")) as (app, base_url):
        with app.extensions["tickethub.engine"].connect() as conn:
            organizer = users.create_user(conn, "org@example.org", "correct horse", "organizer")
        yield app, base_url, organizer


@pytest.fixture(params=["phone", "desktop"])
def device(request):
    return PHONE if request.param == "phone" else DESKTOP


@pytest.fixture
def page_on(browser, device):
    """page_on(url) -> a page of a new buyer (own cookies) on `device`, failing the test on any script error."""
    contexts, errors = [], []

    def open_page(url: str, *, paused: bool = False):
        """`paused`: the page's clock stands still, so the map never refreshes by itself."""
        context = browser.new_context(**device)
        contexts.append(context)
        page = context.new_page()
        if paused:
            page.clock.install()
            page.clock.pause_at(datetime.now(UTC) + timedelta(seconds=1))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        page.wait_for_selector("#seatmap[aria-busy=false]")
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == []


def _event(app, organizer, **kwargs) -> dict:
    with app.extensions["tickethub.engine"].connect() as conn:
        return make_event(conn, organizer["id"], **kwargs)


def _custom_event(app, organizer, sections: list[dict], types: list[dict], fee: int = 150) -> dict:
    with app.extensions["tickethub.engine"].connect() as conn:
        venue = create_venue(conn, {"name": "Custom Hall", "sections": sections}, owner_id=organizer["id"])
        now = datetime.now(UTC)
        return create_event(
            conn,
            {
                "title": "Custom Night",
                "starts_at": iso(now + timedelta(days=10)),
                "ticket_release_at": iso(now - timedelta(hours=1)),
                "venue_id": venue["id"],
                "service_fee": fee,
                "ticket_types": types,
            },
            organizer_id=organizer["id"],
        )


def _seat(page, index: int):
    return page.locator(f'button.seat[data-index="{index}"]')


def _continue(page) -> int:
    page.click("#hold-picked")
    page.wait_for_url(re.compile(r"/checkout/\d+"))
    return int(page.url.rsplit("/", 1)[1])


def test_back_from_checkout_shows_my_seats_as_mine_and_changes_them_in_one_cart(hub, page_on):
    app, base_url, organizer = hub
    event = _event(app, organizer, rows=2, seats=6)
    url = f"{base_url}/events/{event['id']}"
    page = page_on(url)
    _seat(page, 0).click()
    _seat(page, 1).click()
    cart = _continue(page)
    assert re.fullmatch(r"\d+:\d\d", page.text_content("#countdown"))

    page.go_back()
    page.wait_for_selector("#seatmap[aria-busy=false]")
    for index in (0, 1):  # mine: blue, pressed and clickable, not orange "held"
        seat = _seat(page, index)
        assert seat.is_enabled()
        assert seat.get_attribute("aria-pressed") == "true"
        assert "held" not in seat.get_attribute("class").split()
        assert seat.evaluate("b => getComputedStyle(b).backgroundColor") == PICKED_BLUE
        assert ", yours," in seat.get_attribute("aria-label")
    assert page.text_content("#picked-count") == "2"
    assert page.text_content("#cart-summary") == "2 tickets"
    assert re.fullmatch(r"\d+:\d\d", page.text_content("#countdown"))  # the cart's one countdown, here too

    _seat(page, 0).click()  # let seat 1 of row 1 go, take seat 6 of row 1 instead
    _seat(page, 5).click()
    assert page.text_content("#picked-count") == "2"
    assert _continue(page) == cart  # the same cart, changed
    assert page.locator(".held-seat").all_text_contents() == [
        "Section A · Row 1 · Seat 2",
        "Section A · Row 1 · Seat 6",
    ]
    viewer = page_on(url)  # someone else sees the seat the cart let go as free at once
    assert "available" in _seat(viewer, 0).get_attribute("class").split()
    assert "held" in _seat(viewer, 5).get_attribute("class").split()
    assert viewer.locator("button.seat.held").count() == 2


def test_losing_a_race_names_the_seat_in_plain_words_and_keeps_the_other_picks(hub, page_on):
    app, base_url, organizer = hub
    event = _event(app, organizer, rows=2, seats=6)
    # the map's 2 s refresh waits for the page's clock: the map cannot learn of the rival's hold in time
    page = page_on(f"{base_url}/events/{event['id']}", paused=True)
    _seat(page, 2).click()
    _seat(page, 3).click()
    with app.extensions["tickethub.engine"].connect() as conn:  # someone else is faster with row 1, seat 4
        rival = holds.hold_seats(conn, event["id"], [("A", "1", "4")])
    seatmap.changed(event["id"], app, hold_id=rival["hold_id"])  # as the hub does after a hold
    page.click("#hold-picked")
    page.wait_for_url(re.compile(r"/events/\d+$"))
    page.wait_for_selector("#seatmap[aria-busy=false]")
    message = page.locator(".flash.error").first.text_content()
    assert message == "Section A · Row 1 · Seat 4 was just taken — pick another seat."
    assert _seat(page, 2).get_attribute("aria-pressed") == "true"  # the other pick is kept
    page.clock.resume()  # the map catches up (a cached status may be a second old) and shows the seat taken
    page.wait_for_selector('button.seat.held[data-index="3"]', timeout=SHOWN_MS)
    assert _seat(page, 3).is_disabled()
    assert page.text_content("#picked-count") == "1"
    _seat(page, 4).click()
    _continue(page)
    assert page.locator(".held-seat").all_text_contents() == [
        "Section A · Row 1 · Seat 3",
        "Section A · Row 1 · Seat 5",
    ]


def test_a_standing_order_that_is_too_big_is_refused_in_plain_words(hub, page_on):
    app, base_url, organizer = hub
    event = _event(app, organizer, rows=1, seats=4, ga_capacity=3)
    page = page_on(f"{base_url}/events/{event['id']}")
    ga = next(t["id"] for t in event["ticket_types"] if t["kind"] == "ga")
    page.fill(f"#qty-{ga}", "5")
    page.click(f"#qty-{ga} >> xpath=ancestor::form//button[@type='submit']")
    page.wait_for_url(re.compile(r"/events/\d+$"))
    message = page.locator(".flash.error").first.text_content()
    assert message == "Only 3 left — choose 3 or fewer."
    assert not re.search(r"hold \d|_|ticket type \d", message)


def test_a_ticket_type_per_seat_prices_on_the_map_and_a_bar_with_the_total(hub, page_on, device):
    app, base_url, organizer = hub
    event = _custom_event(
        app,
        organizer,
        [
            {"name": "Stalls", "rows": [{"name": "1", "seats": 6}]},
            {"name": "Balcony", "rows": [{"name": "1", "seats": 6}]},
        ],
        [
            {"name": "Early bird", "kind": "seated", "price": 3500, "sections": ["Stalls"]},
            {"name": "Full price", "kind": "seated", "price": 4500, "sections": ["Stalls", "Balcony"]},
            {"name": "Balcony", "kind": "seated", "price": 2500, "sections": ["Balcony"]},
        ],
    )
    page = page_on(f"{base_url}/events/{event['id']}")
    # price levels: the balcony (from €25) and the stalls (from €35), with a legend
    assert page.locator("#price-legend span").all_text_contents() == ["€25.00", "€35.00"]
    assert "level-1" in _seat(page, 0).get_attribute("class").split()
    assert "level-0" in _seat(page, 6).get_attribute("class").split()
    stalls_bar = _seat(page, 0).evaluate("b => getComputedStyle(b).boxShadow")
    assert stalls_bar != _seat(page, 6).evaluate("b => getComputedStyle(b).boxShadow")
    assert _seat(page, 0).get_attribute("title") == "Section Stalls, row 1, seat 1, available, from €35.00"

    _seat(page, 0).click()
    assert page.text_content("#seat-info") == "Section Stalls, row 1, seat 1, yours, from €35.00"  # a tap says it too
    _seat(page, 1).click()
    bar = page.locator("#cart-bar-text")
    assert bar.text_content() == "2 seats · €70.00"
    selects = page.locator("select.seat-type")
    assert selects.count() == 2
    assert selects.first.locator("option").all_text_contents() == ["Early bird €35.00", "Full price €45.00"]
    selects.nth(1).select_option(label="Full price €45.00")
    assert bar.text_content() == "2 seats · €80.00"
    # the bar and its Continue stay on screen wherever the page is scrolled (a phone pins it to the bottom)
    height = device["viewport"]["height"]
    for scroll in ("window.scrollTo(0, 0)", "window.scrollTo(0, document.body.scrollHeight)"):
        page.evaluate(scroll)
        box = page.locator("#hold-picked").bounding_box()
        if device is PHONE or scroll == "window.scrollTo(0, 0)":
            assert 0 <= box["y"] and box["y"] + box["height"] <= height, (scroll, box)
    assert page.text_content("#hold-picked") == "Continue"
    _continue(page)
    rows = page.locator("table.card tbody tr")
    assert [rows.nth(i).locator("td").nth(1).text_content() for i in range(2)] == ["Early bird", "Full price"]
    assert page.text_content("#total") == "€83.00"  # 35 + 45 and two fees of 1.50
    assert page.text_content("#buy") == "Pay €83.00"


def test_checkout_words_add_to_cart_continue_pay_and_get_tickets_when_free(hub, page_on):
    app, base_url, organizer = hub
    free = _event(app, organizer, rows=1, seats=4, price=0, fee=0, ga_capacity=10)
    page = page_on(f"{base_url}/events/{free['id']}")
    assert page.text_content("#best-add") == "Add to cart"
    ga = next(t["id"] for t in free["ticket_types"] if t["kind"] == "ga")
    assert page.locator(f"#qty-{ga} >> xpath=ancestor::form//button[@type='submit']").text_content() == "Add to cart"
    assert page.locator("body").text_content().count("Hold") == 0
    _seat(page, 0).click()
    assert page.text_content("#hold-picked") == "Continue"
    _continue(page)
    assert page.text_content("#buy") == "Get tickets"
    assert "€0.00" not in page.text_content("#buy")
    assert page.text_content("#empty-cart") == "Empty cart"


def test_seats_are_labelled_touch_sized_keyboard_controls_in_their_real_columns(hub, page_on, device):
    app, base_url, organizer = hub
    event = _custom_event(
        app,
        organizer,
        [
            {
                "name": "A",
                "rows": [
                    {"name": "1", "seats": 14},
                    {"name": "2", "seats": [str(n) for n in range(2, 14)]},  # starts at seat 2, under seat 2
                ],
            }
        ],
        [{"name": "Seat", "kind": "seated", "price": 3000}],
    )
    page = page_on(f"{base_url}/events/{event['id']}")
    width = device["viewport"]["width"]
    seats = page.locator("button.seat")
    assert seats.count() == 26
    for i in range(seats.count()):
        box = seats.nth(i).bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24, f"seat {i}: {box}"
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"seat {i} is off screen: {box}"
    row1_seat2 = _seat(page, 1).bounding_box()
    row2_seat2 = _seat(page, 14).bounding_box()  # the first seat of row 2 is seat 2
    assert _seat(page, 14).text_content() == "2"
    assert abs(row1_seat2["x"] - row2_seat2["x"]) < 1, (row1_seat2, row2_seat2)
    assert row2_seat2["y"] > row1_seat2["y"]
    # each seat says where it is, whether it is free and what it costs; the row is a labelled group
    assert _seat(page, 14).get_attribute("aria-label") == "Section A, row 2, seat 2, available, €30.00"
    assert page.get_by_role("group", name="Section A, row 2").get_by_role("button").count() == 12
    # the keyboard alone picks seats: focus, arrows along and across rows, Space and Enter
    _seat(page, 0).focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.index") == "1"
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.index") == "14"
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    assert page.text_content("#picked-count") == "2"
    assert _seat(page, 15).get_attribute("aria-pressed") == "true"


def test_a_ten_thousand_seat_hall_is_drawn_a_section_at_a_time(hub, page_on):
    app, base_url, organizer = hub
    sections = [
        {"name": f"Block {n}", "rows": [{"name": str(r), "seats": 25} for r in range(1, 41)]} for n in range(1, 11)
    ]
    event = _custom_event(app, organizer, sections, [{"name": "Seat", "kind": "seated", "price": 3000}])
    page = page_on(f"{base_url}/events/{event['id']}")
    tabs = page.locator("#section-tabs button.section-tab")
    assert tabs.count() == 10 and page.locator("#section-tabs").is_visible()
    assert page.locator("button.seat").count() == 1000  # one block, not 10,000 seats
    assert tabs.first.get_attribute("aria-pressed") == "true"
    _seat(page, 0).click()
    page.click("#section-tabs >> text=Block 7")
    assert page.locator("button.seat").count() == 1000
    assert page.locator("button.seat").first.get_attribute("aria-label").startswith("Section Block 7, row 1, seat 1")
    page.locator("button.seat").first.click()
    assert page.text_content("#picked-count") == "2"
    assert page.locator(".picked-seat").all_text_contents() == [
        "Section Block 1 · Row 1 · Seat 1",
        "Section Block 7 · Row 1 · Seat 1",
    ]
    _continue(page)
    assert page.locator(".held-seat").count() == 2


def test_one_huge_section_is_drawn_a_block_of_rows_at_a_time(hub, page_on):
    app, base_url, organizer = hub
    sections = [{"name": "Arena", "rows": [{"name": str(r), "seats": 50} for r in range(1, 41)]}]
    event = _custom_event(app, organizer, sections, [{"name": "Seat", "kind": "seated", "price": 3000}])
    page = page_on(f"{base_url}/events/{event['id']}")
    assert page.locator("#section-tabs button.section-tab").all_text_contents() == [
        "Arena · rows 1–20",
        "Arena · rows 21–40",
    ]
    assert page.locator("button.seat").count() == 1000
    page.click("#section-tabs >> text=Arena · rows 21–40")
    assert page.locator("button.seat").first.get_attribute("aria-label").startswith("Section Arena, row 21, seat 1,")
