"""Real headless Chromium on the live dashboard of a real hub server (waitress on loopback).

Two real gates (enrolled over HTTP, gate_agent's pipeline and sync client) push
admissions; the open page's counts and arrivals chart change without a reload,
and a ticket admitted at both gates (gate B was offline) shows up as a duplicate.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from hub.services import users
from hub.services.live import notifier_for
from tests.hub.web.gates import LiveGate, sell_seats
from tests.hub.web.live import serve_hub
from tests.hub.web.test_browser import PASSWORD, PHONE, _login
from tests.hub.web.support import make_event

pytestmark = pytest.mark.browser


def _bars(page) -> list[int]:
    return page.eval_on_selector_all("#arrivals rect.bar", "bars => bars.map(b => Number(b.dataset.count))")


def test_dashboard_updates_live_as_gates_sync_and_lists_the_duplicate(browser, tmp_path):
    with serve_hub(tmp_path, DASHBOARD_TICK_SECONDS=60) as (app, base_url):
        engine = app.extensions["tickethub.engine"]
        with engine.connect() as conn:
            organizer = users.create_user(conn, "org@example.org", PASSWORD, "organizer")
            event = make_event(conn, organizer["id"], starts_in=timedelta(hours=1))
        tickets = sell_seats(app, engine, event["id"], [("A", "1", "1"), ("A", "1", "2"), ("A", "1", "3")])
        gate_a = LiveGate(engine, base_url, event["id"], "Gate A", tmp_path / "gate-a")
        gate_b = LiveGate(engine, base_url, event["id"], "Gate B", tmp_path / "gate-b")
        context = browser.new_context(**PHONE)
        page = context.new_page()
        errors = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            _login(page, base_url, "org@example.org")
            page.goto(f"{base_url}/dashboard/events/{event['id']}")
            page.wait_for_selector("body[data-live='1']", timeout=10_000)
            assert page.inner_text("#admitted") == "0" and page.inner_text("#sold") == "3"
            assert _bars(page) == [] and page.locator("#duplicates tr[data-ticket-id]").count() == 0
            page.evaluate("window.notReloaded = true")

            assert [gate_a.scan(t["code"]) for t in tickets] == ["admitted"] * 3
            assert gate_a.push().acked == 3
            expect(page.locator("#admitted")).to_have_text("3", timeout=5_000)
            assert sum(_bars(page)) == 3 and page.get_attribute("#arrivals", "data-total") == "3"
            assert page.inner_text("#inside") == "3"
            gate_row = page.locator("#gates tr", has_text="Gate A")
            assert "online" in gate_row.inner_text() and gate_row.locator("td.num").first.inner_text() == "3"

            # Gate B never pulled A's admissions: it admits ticket 1 again; the hub flags the duplicate.
            assert gate_b.scan(tickets[0]["code"]) == "admitted"
            assert gate_b.push().acked == 1
            duplicate = page.locator(f"#duplicates tr[data-ticket-id='{tickets[0]['ticket_id']}']")
            duplicate.wait_for(timeout=5_000)
            assert "Gate A" in duplicate.inner_text() and "Gate B" in duplicate.inner_text()
            assert page.inner_text("#admitted") == "3" and page.inner_text("#duplicate-total") == "1"
            assert page.evaluate("window.notReloaded") is True  # same document all along: no reload
            assert errors == []
        finally:
            context.close()
            notifier_for(app).close()  # ends the page's event stream before the server stops
            gate_a.close()
            gate_b.close()
