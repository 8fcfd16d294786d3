"""The door page over real HTTP: server-sent events, manual entry, preview, errors."""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time

import cv2
import numpy as np
import pytest
import requests

from common.protocol import INVALID_TIME, MovementKind
from gate_agent.rules import Movement
from gate_agent.scanner import Frame
from tests.gate_agent.door.servers import door_server
from tests.gate_agent.helpers import make_gate_folder


@pytest.fixture
def folder(tmp_path):
    return make_gate_folder(tmp_path, events=[{"event_id": 1, "seat_labels": ["Row 1 Seat 1", "Row 1 Seat 2"]}])


@pytest.fixture
def door(folder):
    with door_server(folder.path, has_camera=True) as running:
        yield running


def read_events(url, into: queue.Queue, stop: threading.Event):
    try:
        with requests.get(url + "/events", stream=True, timeout=(5, 30)) as resp:
            into.put(("headers", dict(resp.headers)))
            event = None
            for raw in resp.iter_lines(decode_unicode=True):
                if stop.is_set():
                    return
                if raw.startswith("event: "):
                    event = raw[7:]
                elif raw.startswith("data: "):
                    into.put((event, json.loads(raw[6:])))
    except requests.RequestException as exc:
        if not stop.is_set():  # the server ending the stream at teardown is expected
            into.put(("error", repr(exc)))


def next_event(events: queue.Queue, name: str):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        kind, payload = events.get(timeout=max(0.01, deadline - time.monotonic()))
        if kind == name:
            return payload
    raise AssertionError(f"no {name} event")


def test_a_verdict_is_pushed_to_the_screen_as_an_event(folder, door):
    base, gate, _ = door
    events, stop = queue.Queue(), threading.Event()
    threading.Thread(target=read_events, args=(base, events, stop), daemon=True).start()
    headers = next_event(events, "headers")
    assert headers["Content-Type"].startswith("text/event-stream")
    assert next_event(events, "state")["admitted"] == 0

    result = gate.check(folder.ticket(seat=1))  # as the camera loop would
    pushed = next_event(events, "verdict")
    assert pushed["result"]["scan_id"] == result.record.scan_id
    assert pushed["result"]["message"] == "Welcome — Row 1 Seat 2"
    assert pushed["state"]["admitted"] == 1 and pushed["state"]["recent"][0]["verdict"] == "admitted"
    stop.set()


def test_manual_entry_goes_through_the_pipeline(folder, door):
    base, gate, _ = door
    text = folder.ticket()
    first = requests.post(base + "/api/scan", json={"text": "  " + text + "\n"}, timeout=5)
    assert first.status_code == 200 and first.json()["verdict"] == "admitted"
    assert first.json()["source"] == "manual"
    second = requests.post(base + "/api/scan", json={"text": text}, timeout=5).json()
    # recorded as a duplicate, shown amber: the same guest, just let in here
    assert second["verdict"] == "already_admitted" and second["message"].startswith("Just admitted here ")
    assert second["colour"] == "amber"
    assert gate.store.get_scan(second["scan_id"]).verdict == "already_admitted"
    state = requests.get(base + "/api/state", timeout=5).json()
    assert state["admitted"] == 1 and state["online"] is False


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        (
            {"data": "text=TG1:abc", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            415,
            "bad_request",
        ),
        ({"data": "{not json", "headers": {"Content-Type": "application/json"}}, 400, "bad_request"),
        ({"json": {"code": "x"}}, 400, "missing_text"),
        ({"json": {"text": "   "}}, 400, "missing_text"),
        ({"json": {"text": "x" * 5000}}, 400, "text_too_long"),
        ({"json": {"text": "x" * 2_000_000}}, 413, "request_entity_too_large"),
        ({"json": ["TG1:"]}, 400, "bad_request"),
    ],
)
def test_bad_manual_input_is_a_json_error_and_records_nothing(door, kwargs, status, code):
    base, gate, _ = door
    resp = requests.post(base + "/api/scan", timeout=5, **kwargs)
    assert resp.status_code == status
    assert resp.json()["error"]["code"] == code and resp.json()["error"]["message"]
    assert gate.store.recent_scans() == []


def test_unknown_routes_and_foreign_hosts_get_json_errors(door):
    base, _, _ = door
    missing = requests.get(base + "/nope", timeout=5)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong_method = requests.get(base + "/api/scan", timeout=5)
    assert wrong_method.status_code == 405
    rebound = requests.get(base + "/api/state", headers={"Host": "evil.example:80"}, timeout=5)
    assert rebound.status_code == 403 and rebound.json()["error"]["code"] == "forbidden_host"


def test_camera_preview_serves_the_latest_frame(door):
    base, _, preview = door
    assert requests.get(base + "/preview.jpg", timeout=5).status_code == 404
    image = np.zeros((480, 1280, 3), np.uint8)
    image[:, 640:] = 255
    preview.update(Frame(image, None, time.monotonic(), "test"))
    resp = requests.get(base + "/preview.jpg", timeout=5)
    decoded = cv2.imdecode(np.frombuffer(resp.content, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert resp.headers["Content-Type"] == "image/jpeg"
    assert decoded.shape == (240, 640)  # scaled down for the screen
    assert decoded[:, :300].mean() < 20 and decoded[:, 340:].mean() > 235

    with requests.get(base + "/preview.mjpg", stream=True, timeout=(5, 10)) as stream:
        assert stream.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        head = b""
        for chunk in stream.iter_content(256):
            head += chunk
            if b"\r\n\r\n" in head:
                break
        assert head.startswith(b"--frame\r\nContent-Type: image/jpeg")


def test_door_page_html_has_the_panel_and_manual_field(door):
    base, _, _ = door
    html = requests.get(base + "/", timeout=5).text
    for marker in ('id="panel"', 'id="code"', 'data-src="/preview.jpg"', "Gate A", 'id="badge"'):
        assert marker in html


def test_absurd_times_in_the_gate_store_do_not_cost_a_verdict(folder, door):
    """A pulled admission stamped 1e12 (an older hub passed it on) and a scan an older gate
    recorded at -1e12: the door still answers with the verdict, and its state still loads."""
    base, gate, _ = door
    text = folder.ticket(ticket_id=5150)
    gate.store.apply_movements([Movement("c" * 32, 1, 5150, MovementKind.ENTRY, 1e12, "Gate B")], cursor=1)
    with sqlite3.connect(folder.path / "gate.db") as conn:
        conn.execute(
            "INSERT INTO scans (scan_id, gate_id, event_id, ticket_id, verdict, wall_time, mono, code_digest)"
            " VALUES (?, 'gate-a', 1, 5151, 'admitted', -1e12, 0, 'x')",
            ("d" * 32,),
        )
    response = requests.post(base + "/api/scan", json={"text": text}, timeout=5)
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "already_admitted"
    assert response.json()["message"] == f"Already used at Gate B, {INVALID_TIME}"
    state = requests.get(base + "/api/state", timeout=5)
    assert state.status_code == 200, state.text
    assert [s["at"] == INVALID_TIME for s in state.json()["recent"]] == [False, True]  # newest first
