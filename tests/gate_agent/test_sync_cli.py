"""`gate-agent enroll --qr` and `gate-agent sync` against a real hub server process."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime

import pytest

from common.protocol import COUNT_MAX, PUSH_MAX_BYTES, PUSH_MAX_SCANS, REASON_MAX_CHARS, encode_push, plausible_time
from common.signing.qr import save_qr
from gate_agent.offline_store import NewScan, OfflineStore
from gate_agent.rules import Decision, Verdict
from tests.e2e.harness import GateProcess, HubServer, create_device


@pytest.fixture
def hub(tmp_path):
    hub = HubServer(tmp_path)
    hub.headers = hub.organizer()
    hub.event = hub.ga_event()
    hub.start()
    yield hub
    hub.close()


def test_enroll_from_a_qr_picture_then_sync_once(hub, tmp_path):
    response = hub.api("POST", "/devices", hub.headers, json={"name": "Side door", "event_id": hub.event["id"]})
    qr = tmp_path / "enrol.png"
    save_qr(response.json()["enrolment_qr_text"].replace("http://localhost", hub.url), qr)
    gate = GateProcess(tmp_path, "gate")
    enrolled = gate.cli("enroll", "--data-dir", str(gate.data_dir), "--qr", str(qr))
    assert enrolled.returncode == 0, enrolled.stderr
    assert '"Side door"' in enrolled.stdout
    nothing = tmp_path / "no-code"
    nothing.mkdir()
    blank = GateProcess(tmp_path, "blank").cli(
        "enroll", "--data-dir", str(tmp_path / "blank"), "--source", str(nothing), "--camera-timeout", "5"
    )
    assert blank.returncode != 0 and "Error" in blank.stderr

    code = hub.buy(hub.event)["tickets"][0]["code"]
    scanned = gate.cli("scan", "--data-dir", str(gate.data_dir), "--text", code)
    assert scanned.returncode == 0, scanned.stderr
    synced = gate.cli("sync", "--data-dir", str(gate.data_dir))
    assert synced.returncode == 0, synced.stderr
    assert "push: ok" in synced.stdout and "pull: ok" in synced.stdout and "backlog: 0" in synced.stdout
    items = hub.api("GET", f"/events/{hub.event['id']}/scans", hub.headers).json()["items"]
    assert [(s["gate"], s["verdict"]) for s in items] == [("Side door", "admitted")]

    hub.stop()
    gate.cli("scan", "--data-dir", str(gate.data_dir), "--text", code)
    offline = gate.cli("sync", "--data-dir", str(gate.data_dir))
    assert offline.returncode == 1
    assert "push: failed" in offline.stderr and "backlog: 1" in offline.stdout


def test_enroll_refuses_a_bad_token_and_writes_nothing(hub, tmp_path):
    gate = GateProcess(tmp_path, "gate")
    result = gate.enroll(hub.url, "te_not-a-real-token")
    assert result.returncode != 0 and "enrolment_token_invalid" in result.stderr
    assert not (gate.data_dir / "device.json").exists()
    _device, token = create_device(hub, hub.headers, hub.event["id"], "Gate Z")
    unreachable = gate.enroll("http://127.0.0.1:9", token)
    assert unreachable.returncode != 0 and "cannot reach the hub" in unreachable.stderr
    assert gate.enroll(hub.url, token).returncode == 0  # the failed attempts did not spend the token
    again = gate.enroll(hub.url, token)
    assert again.returncode != 0 and "already enrolled" in again.stderr
    status = json.loads(gate.cli("status", "--data-dir", str(gate.data_dir), "--json").stdout)
    assert status["gate"]["gate_name"] == "Gate Z" and status["gate"]["hub_url"] == hub.url


def test_a_gate_moved_to_another_event_learns_that_events_admissions(hub, tmp_path):
    other_event = hub.ga_event()
    x, y = GateProcess(tmp_path, "gate-x"), GateProcess(tmp_path, "gate-y")
    device_x, token_x = create_device(hub, hub.headers, hub.event["id"], "Gate X")
    _device_y, token_y = create_device(hub, hub.headers, other_event["id"], "Gate Y")
    assert x.enroll(hub.url, token_x).returncode == 0 and y.enroll(hub.url, token_y).returncode == 0
    code = hub.buy(other_event)["tickets"][0]["code"]
    assert y.cli("scan", "--data-dir", str(y.data_dir), "--text", code).returncode == 0
    assert y.cli("sync", "--data-dir", str(y.data_dir)).returncode == 0
    assert x.cli("sync", "--data-dir", str(x.data_dir)).returncode == 0  # cursor moves past Y's admission

    moved = hub.api("PATCH", f"/devices/{device_x['id']}", hub.headers, json={"event_id": other_event["id"]})
    assert moved.status_code == 200
    assert x.cli("sync", "--data-dir", str(x.data_dir)).returncode == 0
    config = json.loads((x.data_dir / "gate.json").read_text())
    assert [e["event_id"] for e in config["events"]] == [other_event["id"]]
    refused = json.loads(x.cli("scan", "--data-dir", str(x.data_dir), "--text", code).stdout.splitlines()[-1])
    assert refused["verdict"] == "already_admitted" and refused["message"].startswith("Already used at Gate Y")


def test_enroll_by_showing_the_qr_to_a_frame_source(hub, tmp_path):
    from PIL import Image

    response = hub.api("POST", "/devices", hub.headers, json={"name": "Camera gate", "event_id": hub.event["id"]})
    frames = tmp_path / "frames"
    frames.mkdir()
    Image.new("RGB", (320, 240), "white").save(frames / "01-empty.png")  # the camera sees nothing at first
    save_qr(response.json()["enrolment_qr_text"].replace("http://localhost", hub.url), frames / "02-qr.png")
    gate = GateProcess(tmp_path, "gate")
    enrolled = gate.cli("enroll", "--data-dir", str(gate.data_dir), "--source", str(frames))
    assert enrolled.returncode == 0, enrolled.stderr
    assert json.loads((gate.data_dir / "gate.json").read_text())["gate_name"] == "Camera gate"


def test_enroll_into_a_folder_it_cannot_create_fails_clearly_and_keeps_the_token(hub, tmp_path):
    _device, token = create_device(hub, hub.headers, hub.event["id"], "Gate F")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = GateProcess(tmp_path, "gate").cli(
        "enroll", "--data-dir", str(blocker / "gate"), "--hub", hub.url, "--token", token
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot use" in result.stderr and "data folder" in result.stderr
    assert GateProcess(tmp_path, "gate").enroll(hub.url, token).returncode == 0  # the token was not spent


def test_a_gate_whose_clock_reads_1970_records_plausible_times_and_the_hub_places_its_scans(hub, tmp_path):
    """A board without a battery-backed clock boots in 1970: the gate records 2000-01-01 plus
    the time since boot instead (the hub refuses 1970), in the same frame as the push's
    sent_at, so the hub's offset correction still places the scan at its real moment."""
    gate = GateProcess(tmp_path, "gate", {"GATE_CLOCK_OFFSET_S": str(3600 - time.time())})  # 1970-01-01 01:00
    _device, token = create_device(hub, hub.headers, hub.event["id"], "No RTC")
    assert gate.enroll(hub.url, token).returncode == 0
    code = hub.buy(hub.event)["tickets"][0]["code"]
    scanned = gate.cli("scan", "--data-dir", str(gate.data_dir), "--text", code)
    assert scanned.returncode == 0, scanned.stderr
    with sqlite3.connect(gate.data_dir / "gate.db") as conn:
        [(wall_time,)] = conn.execute("SELECT wall_time FROM scans").fetchall()
    assert plausible_time(wall_time)
    synced = gate.cli("sync", "--data-dir", str(gate.data_dir))
    assert synced.returncode == 0, synced.stderr
    [item] = hub.api("GET", f"/events/{hub.event['id']}/scans", hub.headers).json()["items"]
    corrected = datetime.fromisoformat(item["corrected_time"].replace("Z", "+00:00")).timestamp()
    assert abs(corrected - time.time()) < 120


def test_the_gate_never_builds_a_push_the_hub_refuses_for_its_size(hub, tmp_path):
    """More scans than one push holds, each as large as the gate can make it (a reason of astral
    characters, 12 bytes each in JSON), one with a reason longer than the hub takes: one sync
    delivers them all, in pushes within the protocol's limits."""
    gate = GateProcess(tmp_path, "gate")
    _device, token = create_device(hub, hub.headers, hub.event["id"], "Big pushes")
    assert gate.enroll(hub.url, token).returncode == 0
    wide, long = "\U0001f3ab" * REASON_MAX_CHARS, "r" * (REASON_MAX_CHARS + 20)
    count = PUSH_MAX_SCANS + 100
    with OfflineStore(gate.data_dir / "gate.db") as store:
        for i in range(count):
            decision = Decision(Verdict.INVALID, reason=long if i == 0 else wide)
            store.record_scan(
                NewScan("gate", "Gate", time.time(), float(i), "d" * 32, event_id=hub.event["id"], ticket_id=i + 1),
                lambda _state, d=decision: (d, None),
            )
        largest = encode_push(time.time(), COUNT_MAX, COUNT_MAX, store.unsynced_scans(PUSH_MAX_SCANS))
    assert len(largest) > PUSH_MAX_BYTES  # one push could not hold as many of them as it may hold scans
    synced = gate.cli("sync", "--data-dir", str(gate.data_dir))
    assert synced.returncode == 0, synced.stderr
    assert "push: ok" in synced.stdout and "backlog: 0" in synced.stdout
    items = hub.api("GET", f"/events/{hub.event['id']}/scans?limit={count}", hub.headers).json()["items"]
    assert len(items) == count
    assert sorted({s["reason"] for s in items}) == sorted({wide, long[:REASON_MAX_CHARS]})
