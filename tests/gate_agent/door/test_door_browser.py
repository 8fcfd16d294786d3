"""The door page in real headless Chromium: green for a valid ticket, red for its second scan."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.gate_agent.door.servers import door_server
from tests.gate_agent.helpers import make_gate_folder

pytestmark = pytest.mark.browser


def test_panel_turns_green_then_red_for_a_second_scan(tmp_path, page):
    folder = make_gate_folder(tmp_path, events=[{"event_id": 1, "seat_labels": ["Section A · Row 3 · Seat 12"]}])
    text = folder.ticket(seat=0)
    with door_server(folder.path) as (base, gate, _):
        page.goto(base + "/")
        expect(page.locator("body")).to_have_attribute("data-live", "1")  # event stream connected
        panel = page.locator("#panel")
        expect(panel).to_have_class("panel idle")

        gate.check(text, source="camera:0")  # a camera scan: reaches the page only by the event stream
        expect(panel).to_have_class("panel green")
        expect(page.locator("#message")).to_have_text("Welcome — Section A · Row 3 · Seat 12")
        expect(page.locator("#count")).to_have_text("1")

        page.fill("#code", text)  # the same ticket again, typed in the manual field
        page.click("#manual button[type=submit]")
        expect(panel).to_have_class("panel red")
        expect(page.locator("#message")).to_contain_text("Already used at Gate A, ")
        expect(panel).to_have_attribute("data-verdict", "already_admitted")
        expect(page.locator("#recent li")).to_have_count(2)
        expect(page.locator("#recent li").first).to_have_class("red")

        page.fill("#code", "x" * 5000)
        page.click("#manual button[type=submit]")
        expect(page.locator("#manual-error")).to_have_text("a code is at most 4096 characters")
