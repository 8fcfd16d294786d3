"""The door screen never lies (issue #15), with real processes: a `tickethub serve` hub, a
`gate-agent run` agent and its door page in headless Chromium.

Each fault is made for real (SIGSTOP/SIGKILL of a process, a frame source that runs out) and
the screen must change within the time the page promises: OFFLINE within GATE_OFFLINE_AFTER_S
(2 s here) plus one heartbeat, GATE NOT RESPONDING within about 2 s, CAMERA STOPPED within
about 2 s of the source's end.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import cv2
import numpy as np
import pytest

from common.protocol import OFFLINE_AFTER_S
from tests.e2e.harness import GateProcess, HubServer, create_device
from tests.gate_agent.helpers import make_gate_folder
from tests.support import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.browser]

OFFLINE_AFTER_TEST_S = 2.0
HEARTBEAT_MARGIN_S = 1.5  # the page hears the agent every 0.5 s; the agent's push job may be mid-call
NOT_RESPONDING_S = 2.5  # door.js ALIVE_TIMEOUT_MS (1.5 s) + the last heartbeat's age + its 250 ms check
STATE = "document.getElementById('panel').dataset.state"
BADGE = "document.getElementById('badge').textContent"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = HubServer(tmp_path_factory.mktemp("door-hub"))
    hub.headers = hub.organizer()
    hub.event = hub.ga_event()
    hub.start()
    yield hub
    hub.close()


@pytest.fixture
def gate(hub, tmp_path):
    gate = GateProcess(tmp_path, "gate-d", {"GATE_OFFLINE_AFTER_S": str(OFFLINE_AFTER_TEST_S)})
    gate.device, token = create_device(hub, hub.headers, hub.event["id"], f"Door {tmp_path.name[-12:]}")
    assert gate.enroll(hub.url, token).returncode == 0
    gate.start()
    yield gate
    if gate.proc is not None and gate.proc.poll() is None:
        os.kill(gate.proc.pid, signal.SIGCONT)
    gate.stop()


def hub_device(hub, device_id: int) -> dict:
    return hub.api("GET", f"/devices/{device_id}", hub.headers).json()


def timed(wait) -> float:
    started = time.monotonic()
    wait()
    return time.monotonic() - started


def test_an_idle_gate_stays_online_by_heartbeat_and_the_dashboard_agrees(hub, gate, page):
    from hub.services.clock import parse_iso
    from hub.services.dashboard import live_attendance

    page.goto(gate.url + "/")
    page.wait_for_function(f"{BADGE} === 'online'", timeout=30_000)
    # nothing to push, yet the hub keeps hearing from the gate: each idle push is a real round trip
    first = hub_device(hub, gate.device["id"])["last_sync_at"]
    later = wait_for(
        lambda: (seen := hub_device(hub, gate.device["id"])["last_sync_at"]) != first and seen,
        what="an idle heartbeat to reach the hub",
    )
    assert gate.state()["backlog"] == 0 and gate.state()["online"] is True
    with hub.connect() as conn:
        [row] = [g for g in live_attendance(conn, hub.event["id"])["per_gate"] if g["device_id"] == gate.device["id"]]
        assert row["online"] is True
        # the hub's threshold is the gate's own: silent for longer, both call it offline
        silent = parse_iso(later) + timedelta(seconds=OFFLINE_AFTER_S + 0.5)
        [row] = [
            g
            for g in live_attendance(conn, hub.event["id"], now=silent)["per_gate"]
            if g["device_id"] == gate.device["id"]
        ]
        assert row["online"] is False


def test_a_hung_hub_turns_the_badge_offline_within_seconds(hub, gate, page):
    ticket = hub.buy(hub.event)["tickets"][0]["code"]
    page.goto(gate.url + "/")
    page.wait_for_function(f"{BADGE} === 'online'", timeout=30_000)
    os.kill(hub.proc.pid, signal.SIGSTOP)
    try:
        took = timed(
            lambda: page.wait_for_function(f"{BADGE}.startsWith('offline since ')", timeout=30_000),
        )
        assert took <= OFFLINE_AFTER_TEST_S + HEARTBEAT_MARGIN_S, f"OFFLINE took {took:.1f} s"
        assert page.locator("#badge").text_content().endswith("— revocations may be out of date")
        assert page.locator("#panel").get_attribute("data-state") == "ready"  # scanning goes on offline
        # a scan while the hub is hung: decided offline, queued, and the badge says so
        assert gate.scan(ticket)["verdict"] == "admitted"
        page.wait_for_function(f"{BADGE}.endsWith('revocations may be out of date · 1 to sync')")
    finally:
        os.kill(hub.proc.pid, signal.SIGCONT)
    page.wait_for_function(f"{BADGE} === 'online'", timeout=60_000)  # the scan reached the hub
    assert gate.state()["backlog"] == 0


def test_a_hung_or_killed_agent_is_gate_not_responding(hub, gate, page):
    ticket = hub.buy(hub.event)["tickets"][0]["code"]
    page.goto(gate.url + "/")
    page.wait_for_function(f"{STATE} === 'ready' && document.body.dataset.live === '1'", timeout=30_000)

    os.kill(gate.proc.pid, signal.SIGSTOP)  # hung: the connection stays open, nothing arrives
    took = timed(lambda: page.wait_for_function(f"{STATE} === 'dead'", timeout=30_000))
    assert took <= NOT_RESPONDING_S, f"GATE NOT RESPONDING took {took:.1f} s"
    assert page.locator("#headline").text_content() == "Gate not responding"
    assert page.locator("#message").text_content() == "Use the backup list / call supervisor"
    assert page.locator("#badge").text_content() == "hub link unknown"  # no stale ONLINE either

    # a typed code shows it is being checked, then that no answer came
    page.fill("#code", ticket)
    page.click("#check")
    assert page.locator("#manual-status").text_content() == "Checking…"
    page.wait_for_function("document.getElementById('manual-error').textContent.startsWith('No answer from the gate')")
    assert page.locator("#manual-status").text_content() == ""

    os.kill(gate.proc.pid, signal.SIGCONT)
    page.wait_for_function(f"{STATE} !== 'dead'", timeout=30_000)
    # the code typed meanwhile reached the agent once it ran again: recorded, not lost
    wait_for(lambda: gate.state()["admitted"] == 1, what="the typed code to be recorded after SIGCONT")

    os.kill(gate.proc.pid, signal.SIGKILL)  # gone: the connection drops
    took = timed(lambda: page.wait_for_function(f"{STATE} === 'dead'", timeout=30_000))
    assert took <= NOT_RESPONDING_S, f"GATE NOT RESPONDING took {took:.1f} s"
    gate.proc.wait(10)


def test_a_frame_source_that_ends_is_camera_stopped_and_the_page_finishes_loading(tmp_path, page):
    folder = make_gate_folder(tmp_path)
    images = tmp_path / "camera"
    images.mkdir()
    for i in range(8):  # an empty doorway for about 4 s, then the source ends
        cv2.imwrite(str(images / f"frame-{i}.png"), np.full((240, 320), 90 + i, np.uint8))
    gate = GateProcess(tmp_path, "gate-c")
    gate.data_dir = folder.path
    gate.start("--source", str(images), "--fps", "2")
    try:
        # with a camera preview the page still finishes loading (an MJPEG <img> never did)
        page.goto(gate.url + "/", wait_until="load", timeout=15_000)
        assert page.evaluate("document.readyState") == "complete"
        page.wait_for_function(f"{STATE} === 'ready'", timeout=15_000)
        # the preview shows the camera's picture, fetched as a still
        page.wait_for_function("document.getElementById('preview').naturalWidth > 0", timeout=15_000)
        wait_for(lambda: gate.state()["camera"]["state"] == "stopped", interval=0.02, what="the source to end")
        took = timed(lambda: page.wait_for_function(f"{STATE} === 'camera'", timeout=30_000))
        assert took <= NOT_RESPONDING_S, f"CAMERA STOPPED took {took:.1f} s"
        assert page.locator("#headline").text_content() == "Camera stopped"
        wait_for(lambda: "camera problem: stopped" in gate.log.read_text(), what="the log line")
    finally:
        gate.stop()
