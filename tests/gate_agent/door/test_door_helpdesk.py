"""Search, check-in, undo and override on the real door page (waitress on loopback) in headless Chromium,
and the same routes' JSON errors over HTTP (#15)."""

from __future__ import annotations

import time

import pytest
import requests
from playwright.sync_api import expect

from common.pin import hash_pin
from common.protocol import format_utc
from common.signing.shortcode import grouped, short_code
from tests.gate_agent.door.servers import door_server
from tests.gate_agent.helpers import make_gate_folder

PIN = "2468"


@pytest.fixture
def folder(tmp_path):
    now = time.time()
    return make_gate_folder(
        tmp_path,
        events=[
            {
                "event_id": 1,
                "name": "Winter Gala",
                "doors_open": format_utc(now - 3600),
                "ends": format_utc(now + 3600),
                "show_names": True,
                "supervisor_pin_hash": hash_pin(PIN),
                "ticket_types": [{"id": 1, "name": "Child"}],
            }
        ],
    )


def enlist(gate, folder, ticket_id: int, name: str, order: int) -> str:
    text = folder.ticket(ticket_id=ticket_id)
    gate.store.add_attendees(
        [{"ticket_id": ticket_id, "event_id": 1, "code": text, "ticket_type": 1, "order": order, "name": name}]
    )
    return text


@pytest.mark.browser
def test_staff_find_a_guest_check_them_in_undo_and_force_with_the_pin(folder, page):
    with door_server(folder.path) as (base, gate, _):
        enlist(gate, folder, 501, "Zoë Adler", 31)
        enlist(gate, folder, 502, "Max Adler", 31)
        page.goto(base + "/")
        expect(page.locator("body")).to_have_attribute("data-live", "1")

        # the short code under a damaged QR, typed the way people type it
        page.fill("#code", grouped(short_code(501)).lower().replace("-", " "))
        page.click("#manual button[type=submit]")
        expect(page.locator("#panel")).to_have_class("panel green")
        expect(page.locator("#details")).to_have_text("Child · Zoë Adler")

        # "scanned the wrong phone": the supervisor undoes it with the PIN
        expect(page.locator("#undo")).to_be_visible()
        page.click("#undo")
        page.fill("#supervisor-pin", "1111")
        page.click("#supervisor-ok")
        expect(page.locator("#supervisor-error")).to_have_text("wrong supervisor PIN")
        page.fill("#supervisor-pin", PIN)
        page.click("#supervisor-ok")
        expect(page.locator("#panel")).to_have_attribute("data-verdict", "annulled")
        expect(page.locator("#message")).to_have_text("Admission annulled: this ticket may enter again")

        # search by family name, offline, and check the right guest in
        page.fill("#search-q", "adler")
        page.click("#search button[type=submit]")
        expect(page.locator("#search-results li")).to_have_count(2)
        page.locator("#search-results li[data-ticket-id='501'] button").click()
        expect(page.locator("#panel")).to_have_class("panel green")
        expect(page.locator("#search-results li")).to_have_count(0)

        # shown again: STOP; the supervisor lets them in anyway, with a reason
        page.fill("#code", short_code(501))
        page.click("#manual button[type=submit]")
        expect(page.locator("#panel")).to_have_attribute("data-verdict", "already_admitted")
        page.click("#force")
        page.fill("#supervisor-reason", "came back from the car park")
        page.fill("#supervisor-pin", PIN)
        page.click("#supervisor-ok")
        expect(page.locator("#panel")).to_have_class("panel green")
        expect(page.locator("#message")).to_contain_text("forced in by supervisor: came back from the car park")
        recorded = [(s.verdict, s.reason, s.note) for s in reversed(gate.store.recent_scans(10))]
        assert recorded[-1] == ("admitted", "forced", "came back from the car park")
        assert [v for v, _r, _n in recorded] == ["admitted", "annulled", "admitted", "already_admitted", "admitted"]


def test_supervisor_routes_answer_json_errors(folder):
    with door_server(folder.path) as (base, gate, _):
        text = enlist(gate, folder, 601, "Guest", 40)
        gate.check(text)
        cases = [
            ("/api/annul", {"ticket_id": 601, "pin": "0000"}, 403, "wrong_pin"),
            ("/api/annul", {"ticket_id": 9999, "pin": PIN}, 404, "unknown_ticket"),
            ("/api/annul", {"ticket_id": "601", "pin": PIN}, 400, "missing_ticket"),
            ("/api/annul", {"ticket_id": 601}, 400, "missing_pin"),
            ("/api/force", {"ticket_id": 601, "pin": PIN}, 400, "missing_reason"),
            ("/api/force", {"ticket_id": 9999, "pin": PIN, "reason": "x"}, 404, "unknown_ticket"),
            ("/api/checkin", {"ticket_id": 9999}, 404, "unknown_ticket"),
            ("/api/checkin", [], 400, "bad_request"),
        ]
        for path, body, status, code in cases:
            answer = requests.post(base + path, json=body, timeout=10)
            assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), (path, body)
        assert requests.get(base + "/api/search", params={"q": "x" * 101}, timeout=10).status_code == 400
        found = requests.get(base + "/api/search", params={"q": "guest"}, timeout=10).json()["items"]
        assert [(t["ticket_id"], t["inside"], t["short_code"]) for t in found] == [
            (601, True, grouped(short_code(601)))
        ]
        annulled = requests.post(base + "/api/annul", json={"ticket_id": 601, "pin": PIN}, timeout=10)
        assert annulled.status_code == 200 and annulled.json()["verdict"] == "annulled"


@pytest.mark.browser
def test_a_gate_serving_two_events_names_the_event_of_each_admission(tmp_path, page):
    now = time.time()
    window = {"doors_open": format_utc(now - 3600), "ends": format_utc(now + 3600)}
    folder = make_gate_folder(
        tmp_path,
        events=[{"event_id": 1, "name": "Spring Gala", **window}, {"event_id": 2, "name": "Late Show", **window}],
    )
    with door_server(folder.path) as (base, gate, _):
        page.goto(base + "/")
        expect(page.locator("body")).to_have_attribute("data-live", "1")
        gate.check(folder.ticket(event_id=2), source="camera:0")
        expect(page.locator("#panel")).to_have_class("panel green")
        expect(page.locator("#details")).to_have_text("Late Show")
