"""The door page in real headless Chromium: green for a valid ticket, amber when it is shown again
at once, red for a later second scan."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.gate_agent.door.servers import door_server
from tests.gate_agent.helpers import make_gate_folder

pytestmark = pytest.mark.browser


def test_panel_turns_green_then_amber_then_red_for_a_second_scan(tmp_path, page):
    folder = make_gate_folder(tmp_path, events=[{"event_id": 1, "seat_labels": ["Section A · Row 3 · Seat 12"]}])
    text = folder.ticket(seat=0)
    now = [time.time()]  # the gate's clock, moved by the test (today: the tickets' window is open)
    with door_server(folder.path, wall_clock=lambda: now[0]) as (base, gate, _):
        page.goto(base + "/")
        expect(page.locator("body")).to_have_attribute("data-live", "1")  # event stream connected
        panel = page.locator("#panel")
        expect(panel).to_have_class("panel idle")

        gate.check(text, source="camera:0")  # a camera scan: reaches the page only by the event stream
        expect(panel).to_have_class("panel green")
        expect(page.locator("#message")).to_have_text("Welcome — Section A · Row 3 · Seat 12")
        expect(page.locator("#count")).to_have_text("1")

        now[0] += 3
        page.fill("#code", text)  # the same ticket again 3 s later, typed in the manual field
        page.click("#manual button[type=submit]")
        expect(panel).to_have_class("panel amber")  # the guest just let in, not a STOP
        expect(page.locator("#message")).to_have_text("Just admitted here 3 s ago")
        expect(panel).to_have_attribute("data-shown", "2")

        now[0] += 60  # a minute on, the same ticket is a duplicate
        page.fill("#code", text)
        page.click("#manual button[type=submit]")
        expect(panel).to_have_class("panel red")
        expect(page.locator("#message")).to_contain_text("Already used at Gate A, ")
        expect(panel).to_have_attribute("data-verdict", "already_admitted")
        expect(panel).to_have_attribute("data-shown", "3")
        expect(page.locator("#recent li")).to_have_count(3)
        expect(page.locator("#recent li").first).to_have_class("red")
        expect(page.locator("#recent li").first).to_contain_text("Already used #")  # words, not codes
        expect(page.locator("#recent li").nth(1)).to_have_class("amber")  # the re-show, as it was shown
        expect(page.locator("#recent li").nth(1)).to_contain_text("Just admitted here #")

        page.fill("#code", "x" * 5000)
        page.click("#manual button[type=submit]")
        expect(page.locator("#manual-error")).to_have_text("a code is at most 4096 characters")


FITS = """() => {
  const doc = document.documentElement, panel = document.getElementById('panel');
  const fits = (id) => { const el = document.getElementById(id); return el.scrollWidth <= el.clientWidth + 1; };
  return { page: doc.scrollWidth <= window.innerWidth, panel: panel.scrollWidth <= panel.clientWidth + 1,
           headline: fits('headline'), message: fits('message'), width: doc.scrollWidth };
}"""
ALL_FIT = {"page": True, "panel": True, "headline": True, "message": True}


@pytest.mark.parametrize(
    "viewport",
    [{"width": 390, "height": 844}, {"width": 800, "height": 480}, {"width": 1920, "height": 1080}],
    ids=["phone", "pi-7in", "1080p"],
)
def test_every_screen_fits_without_horizontal_scroll_or_cut_words(tmp_path, browser, viewport):
    folder = make_gate_folder(
        tmp_path, zones=[1], events=[{"event_id": 1, "seat_labels": ["Section A · Row 3 · Seat 12"]}]
    )
    admitted, wrong_zone = folder.ticket(seat=0, zones=[1]), folder.ticket(zones=[9])
    now = [time.time()]
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        with door_server(folder.path, has_camera=True, wall_clock=lambda: now[0]) as (base, gate, _):
            page.goto(base + "/")
            expect(page.locator("body")).to_have_attribute("data-live", "1")
            for text, colour, headline in (
                (admitted, "green", "Admit"),
                (wrong_zone, "amber", "Check"),
                (admitted, "red", "Stop"),
            ):
                now[0] += 60
                gate.check(text, source="camera:0")
                expect(page.locator("#panel")).to_have_class(f"panel {colour}")
                expect(page.locator("#headline")).to_have_text(headline)
                sizes = page.evaluate(FITS)
                assert {k: sizes[k] for k in ALL_FIT} == ALL_FIT, (colour, sizes)
            if viewport["width"] > 700:  # the side column: last scans in words
                expect(page.locator("#recent li").first).to_contain_text("Already used #")
            page.evaluate("events.close()")  # the agent falls silent: the longest headline
            expect(page.locator("#panel")).to_have_attribute("data-state", "dead")
            sizes = page.evaluate(FITS)
            assert {k: sizes[k] for k in ALL_FIT} == ALL_FIT, ("dead", sizes)
    finally:
        context.close()


def test_sound_is_on_by_default_when_chosen_and_differs_for_admit_and_stop(tmp_path, page):
    folder = make_gate_folder(tmp_path)
    text = folder.ticket()
    now = [time.time()]
    with door_server(folder.path, sound=True, wall_clock=lambda: now[0]) as (base, gate, _):
        page.goto(base + "/")
        expect(page.locator("body")).to_have_attribute("data-live", "1")
        expect(page.locator("#sound")).to_have_text("Sound on")
        gate.check(text)
        expect(page.locator("#panel")).to_have_class("panel green")
        now[0] += 60
        gate.check(text)
        expect(page.locator("#panel")).to_have_class("panel red")
        expect(page.locator("body")).to_have_attribute("data-beeps", "gr")  # a high beep, then the low double one
        page.click("#sound")  # staff switch it off: remembered on this screen
        page.reload()
        expect(page.locator("#sound")).to_have_text("Sound off")
