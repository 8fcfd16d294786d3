"""Sync through a fault-injecting proxy: lost answers, duplicated, cut and dropped requests.

The hub is a real `tickethub serve` process; the proxy runs in this process
on loopback. Whatever the faults, every scan ends up stored exactly once.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from contextlib import closing

import pytest

from gate_agent.pipeline import Gate
from gate_agent.sync.client import SyncClient
from gate_agent.sync.enroll import enroll
from tests.e2e.faultproxy import FAULTS, FaultPlan, FaultProxy
from tests.e2e.harness import GateProcess, HubServer, create_device
from tests.support import wait_for

pytestmark = pytest.mark.slow
PUSH = "/api/v1/sync/push"


@pytest.fixture
def hub(tmp_path):
    hub = HubServer(tmp_path)
    hub.headers = hub.organizer()
    hub.event = hub.ga_event()
    hub.start()
    yield hub
    hub.close()


def hub_scan_ids(hub) -> list[str]:
    response = hub.api("GET", f"/events/{hub.event['id']}/scans", hub.headers, params={"limit": 10_000})
    assert response.status_code == 200, response.text
    return [s["scan_id"] for s in response.json()["items"]]


def local_scan_ids(data_dir) -> set[str]:
    with closing(sqlite3.connect(f"file:{data_dir / 'gate.db'}?mode=ro", uri=True)) as conn:
        return {row[0] for row in conn.execute("SELECT scan_id FROM scans")}


def remote_movements(data_dir) -> set[str]:
    with closing(sqlite3.connect(f"file:{data_dir / 'gate.db'}?mode=ro", uri=True)) as conn:
        return {row[0] for row in conn.execute("SELECT scan_id FROM remote_movements")}


def test_push_whose_answer_is_lost_is_retried_and_stored_once(hub, tmp_path):
    plan = FaultPlan(script=["lose_response"])
    with FaultProxy("127.0.0.1", hub.port, plan, only=PUSH) as proxy:
        _device, token = create_device(hub, hub.headers, hub.event["id"], "Gate L")
        enroll(tmp_path / "gate", proxy.url, token)
        codes = [t["code"] for t in hub.buy(hub.event, 3)["tickets"]]
        with Gate.open(tmp_path / "gate") as gate:
            scans = [gate.check(code).record.scan_id for code in codes]
            client = SyncClient(tmp_path / "gate", gate.store, gate)
            result = client.push_once()
            client.close()
            assert gate.store.unsynced_count() == 0
        assert result.acked == 3
        assert proxy.stats["lose_response"] == 1
        assert proxy.requests[PUSH] == 2  # the hub saw the batch twice...
    stored = hub_scan_ids(hub)
    assert sorted(stored) == sorted(scans)  # ...and stored each scan once


def test_gates_and_hub_converge_after_the_faults_stop(hub, tmp_path):
    plan = FaultPlan(enabled=False, script=["lose_response", "duplicate", "cut_request", "drop", "delay"], seed=7)
    with FaultProxy("127.0.0.1", hub.port, plan) as proxy:
        alone = {"GATE_PEERS_ENABLED": "false"}  # they learn each other's admissions through the faulty hub link only
        gates = [GateProcess(tmp_path, "gate-a", alone), GateProcess(tmp_path, "gate-b", alone)]
        try:
            for i, gate in enumerate(gates):
                _device, token = create_device(hub, hub.headers, hub.event["id"], f"Gate {'AB'[i]}")
                assert gate.enroll(proxy.url, token).returncode == 0
                gate.start()
            plan.enabled = True
            tickets = [t["code"] for t in hub.buy(hub.event, 20)["tickets"]]
            for i, code in enumerate(tickets):
                gates[i % 2].scan(code)
            for code in tickets[:4]:  # the same tickets at the other gate: refused or duplicate
                gates[1].scan(code)
            wait_for(lambda: sum(proxy.stats[f] for f in FAULTS if f != "pass") >= 10, 60, "ten injected faults")
            plan.enabled = False
            wait_for(lambda: all(g.state()["backlog"] == 0 for g in gates), 60, "both backlogs to drain")
            local = local_scan_ids(gates[0].data_dir) | local_scan_ids(gates[1].data_dir)
            stored = hub_scan_ids(hub)
            assert len(stored) == len(set(stored)) == len(local) == 24
            assert set(stored) == local
            for fault in ("lose_response", "duplicate", "cut_request", "drop", "delay"):
                assert proxy.stats[fault] >= 1, proxy.stats
            attendance = hub.api("GET", f"/events/{hub.event['id']}/attendance", hub.headers).json()
            assert attendance["entries"] == 20  # every ticket entered once, whatever else happened
            # and each gate has folded in every admission made at the other one
            items = hub.api("GET", f"/events/{hub.event['id']}/scans", hub.headers, params={"limit": 10_000}).json()[
                "items"
            ]
            for gate, other in ((gates[0], "Gate B"), (gates[1], "Gate A")):
                expected = {s["scan_id"] for s in items if s["gate"] == other and s["verdict"] == "admitted"}
                wait_for(lambda: remote_movements(gate.data_dir) == expected, 60, f"{gate.name} to pull {other}")
        finally:
            for gate in gates:
                gate.stop()


class SilentHub:
    """Accepts connections and never answers: a hub hanging mid-call."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                self.connections.append(self.server.accept()[0])
            except (TimeoutError, OSError):
                continue

    def still_waiting(self, conn: socket.socket) -> bool:
        """The client is still waiting for an answer (it has not closed its side)."""
        conn.setblocking(False)
        try:
            return conn.recv(65536, socket.MSG_PEEK) != b""
        except BlockingIOError:
            return True

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        for conn in self.connections:
            conn.close()
        self.server.close()


def test_a_hub_that_never_answers_does_not_hold_up_scanning(hub, tmp_path):
    silent = SilentHub()
    gate = GateProcess(tmp_path, "gate-h")
    try:
        _device, token = create_device(hub, hub.headers, hub.event["id"], "Gate H")
        assert gate.enroll(hub.url, token).returncode == 0
        identity = gate.data_dir / "device.json"
        identity.write_text(json.dumps({**json.loads(identity.read_text()), "hub_url": silent.url}))
        gate.start()
        wait_for(lambda: silent.connections, what="the gate's first sync call to hang on the silent hub")
        hung = list(silent.connections)
        codes = [t["code"] for t in hub.buy(hub.event, 3)["tickets"]]
        assert [gate.scan(code)["verdict"] for code in codes] == ["admitted"] * 3
        assert gate.state()["backlog"] == 3
        # answered while the sync calls were still waiting on the hub (they give up after 15 s)
        assert all(silent.still_waiting(conn) for conn in hung)
    finally:
        silent.close()  # first: the hung calls fail at once, so the gate stops promptly
        gate.stop()
