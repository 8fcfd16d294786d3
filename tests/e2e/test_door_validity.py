"""Validity from the hub and a way out of every mistake, with real processes (#15): a real hub (`tickethub
serve`, SQLite) and two real gate agents (`gate-agent run`) on loopback, the door page in Chromium.

The organizer's door settings (window, time zone, names at the door, supervisor PIN), a ticket type's own
validity and a device's re-entry policy reach the gates through the configuration they pull; short codes
resolve against the attendee list they pull; forced and annulled admissions travel back to the hub's
attendance and scans. The tests run in file order and share the processes.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import timedelta

import pytest
import requests
from playwright.sync_api import expect

from common.protocol import format_utc
from common.signing.shortcode import grouped, short_code
from tests.e2e.harness import GateProcess, HubServer, create_device
from tests.support import wait_for

pytestmark = pytest.mark.slow
PIN = "7391"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from hub.services import event_admin, events
    from hub.services.clock import iso, utcnow

    root = tmp_path_factory.mktemp("door")
    hub = HubServer(root)
    headers = hub.organizer()
    event = hub.ga_event()
    now = utcnow()
    with hub.connect() as conn:
        event_admin.add_ticket_type(conn, event["id"], {"name": "Late entry", "kind": "ga", "price": 0, "capacity": 50})
        late = next(t for t in events.get_event(conn, event["id"])["ticket_types"] if t["name"] == "Late entry")
        event_admin.set_ticket_type_validity(
            conn, event["id"], late["id"], {"valid_from": iso(now + timedelta(hours=2))}
        )
        event_admin.set_door_settings(
            conn, event["id"], {"timezone": "Europe/Vienna", "door_shows_names": True, "supervisor_pin": PIN}
        )
    hub.start()
    gates = {"A": GateProcess(root, "gate-a"), "B": GateProcess(root, "gate-b")}
    devices = {}
    try:
        for name, gate in gates.items():
            devices[name], token = create_device(hub, headers, event["id"], f"Gate {name}", reentry="reentry")
            assert gate.enroll(hub.url, token).returncode == 0
            gate.start()
        yield {"hub": hub, "headers": headers, "event": event, "late": late, "gates": gates, "devices": devices}
    finally:
        for gate in gates.values():
            gate.stop()
        hub.close()


def buy(world, type_name: str = "Standing") -> dict:
    event = dict(world["event"])
    event["ticket_types"] = [world["late"]] if type_name == "Late entry" else event["ticket_types"][:1]
    return world["hub"].buy(event)["tickets"][0]


def on_list(gate: GateProcess, ticket_id: int) -> None:
    """Wait until the gate has pulled the ticket onto its attendee list."""
    wait_for(
        lambda: any(
            t["ticket_id"] == ticket_id
            for t in requests.get(gate.url + "/api/search", params={"q": str(ticket_id)}, timeout=10).json()["items"]
        ),
        what=f"ticket {ticket_id} on {gate.name}'s attendee list",
    )


def hub_scan(world, scan_id: str) -> dict | None:
    scans = world["hub"].api("GET", f"/events/{world['event']['id']}/scans", world["headers"]).json()["items"]
    return next((s for s in scans if s["scan_id"] == scan_id), None)


def gate_meta(gate: GateProcess) -> dict:
    with closing(sqlite3.connect(f"file:{gate.data_dir / 'gate.db'}?mode=ro", uri=True)) as conn:
        return {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM sync_meta")}


def attendance(world) -> dict:
    return world["hub"].api("GET", f"/events/{world['event']['id']}/attendance", world["headers"]).json()


def test_the_gate_holds_what_the_hub_set(world):
    config = json.loads((world["gates"]["A"].data_dir / "gate.json").read_text())
    assert config["reentry"] == "reentry"
    [event] = config["events"]
    assert event["name"] == "E2E Night" and event["timezone"] == "Europe/Vienna" and event["show_names"]
    assert event["doors_open"] and event["ends"] and event["supervisor_pin_hash"].startswith("scrypt$")
    assert PIN not in (world["gates"]["A"].data_dir / "gate.json").read_text()
    assert {t["name"] for t in event["ticket_types"]} == {"Standing", "Late entry"}


def test_a_late_entry_ticket_is_too_early_in_the_events_local_time(world):
    ticket = buy(world, "Late entry")
    result = world["gates"]["A"].scan(ticket["code"])
    assert result["verdict"] == "not_yet_valid" and result["reason"] == "type_window"
    assert result["message"].startswith("Too early: Late entry valid from ")


def test_a_short_code_typed_on_the_door_page_admits_with_type_and_name(world, page):
    gate = world["gates"]["A"]
    ticket = buy(world)
    on_list(gate, ticket["ticket_id"])
    page.goto(gate.url + "/")
    expect(page.locator("body")).to_have_attribute("data-live", "1")
    page.fill("#code", grouped(short_code(ticket["ticket_id"])).lower())
    page.click("#manual button[type=submit]")
    expect(page.locator("#panel")).to_have_class("panel green")
    expect(page.locator("#details")).to_have_text("Standing · Guest")


def test_forced_in_at_gate_b_is_still_a_duplicate_and_an_annulment_uncounts(world):
    a, b = world["gates"]["A"], world["gates"]["B"]
    used, wrong_phone = buy(world), buy(world)
    first = a.scan(used["code"])
    assert first["verdict"] == "admitted"
    on_list(b, used["ticket_id"])
    stored = wait_for(lambda: hub_scan(world, first["scan_id"]), what="gate A's admission at the hub")
    wait_for(lambda: gate_meta(b).get("cursor", 0) >= stored["hub_seq"], what="gate B pulling it")
    stop = b.scan(used["code"])
    assert stop["verdict"] == "already_admitted" and "Gate A" in stop["message"]
    forced = requests.post(
        b.url + "/api/force",
        json={"ticket_id": used["ticket_id"], "pin": PIN, "reason": "wristband torn, checked ID"},
        timeout=30,
    )
    assert forced.status_code == 200 and forced.json()["verdict"] == "admitted", forced.text

    admitted = a.scan(wrong_phone["code"])
    on_list(a, wrong_phone["ticket_id"])
    annulled = requests.post(a.url + "/api/annul", json={"ticket_id": wrong_phone["ticket_id"], "pin": PIN}, timeout=30)
    assert annulled.status_code == 200 and annulled.json()["reason"] == admitted["scan_id"], annulled.text

    def synced():
        report = attendance(world)
        return len(report["overrides"]) == 2 and report

    report = wait_for(synced, what="both supervisor actions at the hub")
    assert [(o["action"], o["ticket_id"], o["duplicate"], o["note"]) for o in report["overrides"]] == [
        ("forced", used["ticket_id"], True, "wristband torn, checked ID"),
        ("annulled", wrong_phone["ticket_id"], False, None),
    ]
    assert used["ticket_id"] in [d["ticket_id"] for d in report["duplicates"]]
    scans = world["hub"].api("GET", f"/events/{world['event']['id']}/scans", world["headers"]).json()["items"]
    by_id = {s["scan_id"]: s for s in scans}
    assert by_id[forced.json()["scan_id"]]["note"] == "wristband torn, checked ID"
    assert by_id[admitted["scan_id"]]["annulled_by"] == annulled.json()["scan_id"]


def test_a_window_changed_on_the_hub_reaches_the_running_gate(world):
    from hub.services import event_admin
    from hub.services.clock import iso, utcnow

    now = utcnow()
    with world["hub"].connect() as conn:
        event_admin.set_door_settings(
            conn,
            world["event"]["id"],
            {"doors_open_at": iso(now - timedelta(hours=5)), "ends_at": iso(now - timedelta(minutes=5))},
        )
    gate = world["gates"]["B"]
    ends = format_utc(int((now - timedelta(minutes=5)).timestamp()))  # the gate keeps whole seconds
    wait_for(
        lambda: json.loads((gate.data_dir / "gate.json").read_text())["events"][0]["ends"] == ends,
        what="gate B pulling the new window",
    )
    late = gate.scan(buy(world)["code"])
    assert late["verdict"] == "expired" and late["message"].startswith("Too late: the event ended ")
