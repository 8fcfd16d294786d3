"""A real hub (`tickethub serve`, SQLite) and two real gate agents (`gate-agent run`) on loopback.

Gate B's clock runs two hours ahead (GATE_CLOCK_OFFSET_S) for the whole
module: the hub must correct it. The tests run in file order and share the
processes; each uses its own fresh tickets.
"""

from __future__ import annotations

import json
import sqlite3
import stat
import time
from contextlib import closing

import pytest
import requests

from tests.e2e.harness import GateProcess, HubServer, create_device
from tests.support import wait_for

pytestmark = pytest.mark.slow
TWO_HOURS = 7200


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    hub = HubServer(root)
    headers = hub.organizer()
    event = hub.ga_event()
    hub.start()
    # the gates reach each other through the hub only: these tests are of that path (and of gates
    # cut off from each other too, whose double admissions the hub flags); the direct exchange is
    # tests/e2e/test_peers.py
    alone = {"GATE_PEERS_ENABLED": "false"}
    gates = {
        "A": GateProcess(root, "gate-a", alone),
        "B": GateProcess(root, "gate-b", {**alone, "GATE_CLOCK_OFFSET_S": str(TWO_HOURS)}),
    }
    devices, tokens = {}, {}
    try:
        for name, gate in gates.items():
            devices[name], tokens[name] = create_device(hub, headers, event["id"], f"Gate {name}")
            enrolled = gate.enroll(hub.url, tokens[name])
            assert enrolled.returncode == 0, enrolled.stderr
            gate.start()
        yield {
            "hub": hub,
            "headers": headers,
            "event": event,
            "gates": gates,
            "devices": devices,
            "tokens": tokens,
            "root": root,
        }
    finally:
        for gate in gates.values():
            gate.stop()
        hub.close()


def hub_scans(world) -> list[dict]:
    response = world["hub"].api("GET", f"/events/{world['event']['id']}/scans", world["headers"])
    assert response.status_code == 200, response.text
    return response.json()["items"]


def device(world, name: str) -> dict:
    return world["hub"].api("GET", f"/devices/{world['devices'][name]['id']}", world["headers"]).json()


def attendance(world) -> dict:
    response = world["hub"].api("GET", f"/events/{world['event']['id']}/attendance", world["headers"])
    assert response.status_code == 200, response.text
    return response.json()


def gate_meta(gate: GateProcess) -> dict:
    with closing(sqlite3.connect(f"file:{gate.data_dir / 'gate.db'}?mode=ro", uri=True)) as conn:
        return {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM sync_meta")}


def test_enrolment_installs_credentials_keys_and_settings_once(world):
    gate = world["gates"]["A"]
    for secret in ("device.json", "device-key.pem"):
        assert stat.S_IMODE((gate.data_dir / secret).stat().st_mode) == 0o600
    config = json.loads((gate.data_dir / "gate.json").read_text())
    assert config["gate_name"] == "Gate A" and [e["event_id"] for e in config["events"]] == [world["event"]["id"]]
    hub_keys = requests.get(world["hub"].url + "/api/v1/keyring", timeout=5).json()
    assert json.loads((gate.data_dir / "keyring.json").read_text())["keys"] == hub_keys["keys"]
    assert device(world, "A")["status"] == "active"
    # the same token a second time: refused, and nothing is written
    again = GateProcess(world["root"], "gate-a-again").enroll(world["hub"].url, world["tokens"]["A"])
    assert again.returncode != 0 and "already used" in again.stderr
    assert not (world["root"] / "gate-a-again" / "device.json").exists()


def test_admitted_at_gate_a_is_refused_at_gate_b_while_online(world):
    a, b = world["gates"]["A"], world["gates"]["B"]
    code = world["hub"].buy(world["event"])["tickets"][0]["code"]
    first = a.scan(code)
    assert first["verdict"] == "admitted"
    stored = wait_for(
        lambda: next((s for s in hub_scans(world) if s["scan_id"] == first["scan_id"]), None),
        what="gate A's admission at the hub",
    )
    # the cursor is saved in the transaction that folds the admission into B's ticket state
    wait_for(lambda: gate_meta(b).get("cursor", 0) >= stored["hub_seq"], what="gate B pulling it")
    second = b.scan(code)
    assert second["verdict"] == "already_admitted"
    assert "Gate A" in second["message"]


def test_offline_double_admission_is_flagged_once_in_corrected_time_order(world, page):
    hub, a, b = world["hub"], world["gates"]["A"], world["gates"]["B"]
    order = hub.buy(world["event"])
    code, ticket_id = order["tickets"][0]["code"], order["tickets"][0]["ticket_id"]
    hub.stop()
    try:
        # B admits first in real time, but its clock says two hours later than A's.
        at_b = b.scan(code)
        # Real time must pass between the two scans: more than the offset measurement error
        # (half a round trip, plus up to ~0.6 s when urllib3 retried the push that measured it),
        # with a margin for a loaded machine.
        wait_for(lambda: time.time() > at_b["wall_time"] - TWO_HOURS + 3.0, what="three seconds")
        at_a = a.scan(code)
        assert at_b["verdict"] == at_a["verdict"] == "admitted"
        assert at_b["wall_time"] > at_a["wall_time"] + TWO_HOURS - 60  # uncorrected, B looks later
        wait_for(lambda: a.state()["backlog"] >= 1 and b.state()["backlog"] >= 1, what="both backlogs")
        assert a.state()["last_sync_at"] is not None  # the last successful sync stays known offline
        page.goto(a.url + "/")  # the door page shows the backlog
        page.wait_for_function("document.getElementById('badge').textContent.includes('1 to sync')", timeout=60_000)
    finally:
        hub.start()
    wait_for(lambda: a.state()["backlog"] == 0 and b.state()["backlog"] == 0, 60, "both gates to push")
    dupes = [d for d in attendance(world)["duplicates"] if d["ticket_id"] == ticket_id]
    assert len(dupes) == 1
    assert dupes[0]["entry"]["gate"] == "Gate B" and dupes[0]["entry"]["scan_id"] == at_b["scan_id"]
    assert dupes[0]["duplicate"]["gate"] == "Gate A" and dupes[0]["duplicate"]["scan_id"] == at_a["scan_id"]
    assert abs(device(world, "B")["clock_offset_s"] + TWO_HOURS) < 60
    assert abs(device(world, "A")["clock_offset_s"]) < 60
    scans = {s["scan_id"]: s for s in hub_scans(world)}
    assert scans[at_b["scan_id"]]["corrected_time"] < scans[at_a["scan_id"]]["corrected_time"]


def test_revoked_ticket_is_refused_after_the_next_pull(world):
    hub, a = world["hub"], world["gates"]["A"]
    order = hub.buy(world["event"])
    hub.refund(order["id"])
    seq = requests.get(f"{hub.url}/api/v1/events/{world['event']['id']}/revocations", timeout=5).json()["seq"]
    wait_for(lambda: gate_meta(a).get("revocation_seq", 0) >= seq, what="gate A pulling the revocation")
    assert a.scan(order["tickets"][0]["code"])["verdict"] == "revoked"


def test_revoked_device_is_locked_out(world, page):
    hub, b = world["hub"], world["gates"]["B"]
    credential = json.loads((b.data_dir / "device.json").read_text())["credential"]
    page.goto(b.url + "/")
    page.wait_for_function("document.getElementById('badge').textContent.startsWith('online')", timeout=60_000)
    response = hub.api("POST", f"/devices/{world['devices']['B']['id']}/revoke", world["headers"])
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    wait_for(lambda: b.state()["device_revoked"], what="gate B to learn it was revoked")
    # the open door page learns it by server-sent events, without a scan or a reload
    page.wait_for_function("document.getElementById('badge').textContent === 'device revoked'", timeout=60_000)
    result = b.scan(hub.buy(world["event"])["tickets"][0]["code"])
    assert result["verdict"] == "invalid" and result["reason"] == "device_revoked"
    assert result["message"].startswith("Device revoked")
    denied = requests.get(hub.url + "/api/v1/sync/pull", headers={"Authorization": f"Bearer {credential}"}, timeout=5)
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "device_revoked"
    assert b.state()["online"] is False
