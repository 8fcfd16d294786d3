"""Real headless Chromium on the live dashboard of a real hub server (waitress on loopback).

Two real gates (enrolled over HTTP, gate_agent's pipeline and sync client) push
admissions; the open page's counts and arrivals chart change without a reload,
and a ticket admitted at both gates (gate B was offline) shows up as a duplicate.
A page refused a stream (the hub's stream cap is full) says so and keeps trying.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from playwright.sync_api import expect

from hub.services import users
from hub.services.live import notifier_for
from tests.e2e.dashboard import login
from tests.hub.web.gates import LiveGate, sell_seats
from tests.hub.web.live import serve_hub
from tests.hub.web.support import make_event
from tests.hub.web.test_browser import PASSWORD, PHONE, _login

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
            # Gate A knows ticket 1 is used: it turns it away. The page names the two cases apart, so
            # "let in twice" and "already used" do not read as contradicting each other.
            assert gate_a.scan(tickets[0]["code"]) != "admitted"
            assert gate_a.push().acked == 1
            turned_away = page.locator("#rejected li[data-reason='already_admitted']")
            turned_away.wait_for(timeout=5_000)
            assert turned_away.inner_text() == "1 ticket already used: turned away"
            assert "let in twice" in page.locator(".tile", has=page.locator("#duplicate-total")).inner_text()
            assert "gates that had not yet heard of each other" in page.inner_text("main")
            for label in page.locator(".chart-labels span").all():  # readable on the phone: not shrunk with the SVG
                assert label.bounding_box()["height"] >= 12 and re.fullmatch(r"\d\d:\d\d", label.inner_text())
            assert page.locator(".chart-labels span").count() == 4
            assert page.evaluate("window.notReloaded") is True  # same document all along: no reload
            assert errors == []
        finally:
            context.close()
            notifier_for(app).close()  # ends the page's event stream before the server stops
            gate_a.close()
            gate_b.close()


def test_a_dashboard_refused_a_stream_says_reconnecting_and_goes_live_when_a_slot_frees(browser, tmp_path):
    """The hub's one stream slot is taken: the page's stream gets 503, which makes EventSource give
    up for good, so the page must try again itself; once the slot is free it goes live."""
    with serve_hub(tmp_path, MAX_STREAMS=1, STREAM_RETRY_SECONDS=1, DASHBOARD_TICK_SECONDS=1) as (app, base_url):
        with app.extensions["tickethub.engine"].connect() as conn:
            organizer = users.create_user(conn, "org@example.org", PASSWORD, "organizer")
            event = make_event(conn, organizer["id"], starts_in=timedelta(hours=1))
        stream_url = f"{base_url}/dashboard/events/{event['id']}/stream"
        holder = requests.Session()
        login(holder, base_url, "org@example.org")
        taken = holder.get(stream_url, stream=True, timeout=(5, 30))
        context = browser.new_context()
        page = context.new_page()
        try:
            assert taken.status_code == 200
            _login(page, base_url, "org@example.org")
            is_stream = lambda status: lambda r: r.url == stream_url and r.status == status  # noqa: E731
            with page.expect_response(is_stream(503), timeout=10_000):
                page.goto(f"{base_url}/dashboard/events/{event['id']}")
            expect(page.locator("#link")).to_have_text("reconnecting…", timeout=5_000)
            with page.expect_response(is_stream(503), timeout=10_000):
                pass  # refused again: the page tried once more by itself
            assert page.get_attribute("body", "data-live") == ""

            taken.close()  # the hub notices at its next tick and frees the slot
            with page.expect_response(is_stream(200), timeout=30_000):
                pass
            page.wait_for_selector("body[data-live='1']", timeout=10_000)
            expect(page.locator("#link")).to_have_text("live")
        finally:
            taken.close()
            context.close()
            notifier_for(app).close()
