"""Gate-to-gate exchange (docs/peers.md) with real processes: a hub (`tickethub serve`, SQLite) and
three `gate-agent run` processes on loopback that find each other through the hub's roster.

With the hub stopped, a ticket admitted at gate A is refused at gate B; forged, tampered,
replayed, revoked-device and foreign-device messages change nothing; once the hub is back every
scan reaches it once, pushed by the gate that made it. The tests run in file order and share
the processes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing

import pytest
import requests

from common.protocol import PEER_PATH, PEER_SIGNATURE_HEADER
from common.signing import SigningKey
from gate_agent.peers import sign_message
from gate_agent.sync.identity import load_identity
from tests.e2e.harness import GateProcess, HubServer, create_device
from tests.support import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("peers")
    hub = HubServer(root)
    headers = hub.organizer()
    event = hub.ga_event()
    other_event = hub.ga_event()  # the same organizer's other event
    stranger_headers = hub.organizer()  # another organizer with an event of their own
    stranger_event = hub.ga_event()
    hub.start()
    gates = {name: GateProcess(root, f"gate-{name.lower()}") for name in "ABC"}
    devices = {}
    try:
        for name, gate in gates.items():
            devices[name], token = create_device(hub, headers, event["id"], f"Gate {name}")
            assert gate.enroll(hub.url, token).returncode == 0
            gate.start()
        # enrolled but never run: their keys sign the messages that must change nothing
        outsiders = {}
        for name, hdrs, event_id in (
            ("revoked", headers, event["id"]),
            ("other-event", headers, other_event["id"]),
            ("other-organizer", stranger_headers, stranger_event["id"]),
        ):
            outsiders[name] = GateProcess(root, f"outsider-{name}")
            devices[name], token = create_device(hub, hdrs, event_id, name)
            enrolled = outsiders[name].enroll(hub.url, token)
            assert enrolled.returncode == 0, enrolled.stderr
        yield {
            "hub": hub,
            "headers": headers,
            "event": event,
            "gates": gates,
            "outsiders": outsiders,
            "devices": devices,
        }
    finally:
        for gate in gates.values():
            gate.stop()
        hub.close()


def roster(gate: GateProcess) -> dict[int, dict]:
    return {p["device_id"]: p for p in json.loads((gate.data_dir / "peers.json").read_text("utf-8"))["peers"]}


def ticket_state(gate: GateProcess, event_id: int, ticket_id: int):
    with closing(sqlite3.connect(f"file:{gate.data_dir / 'gate.db'}?mode=ro", uri=True)) as conn:
        return conn.execute(
            "SELECT inside, admissions, last_admitted_gate FROM ticket_state WHERE event_id = ? AND ticket_id = ?",
            (event_id, ticket_id),
        ).fetchone()


def own_scans(gate: GateProcess) -> list[tuple]:
    with closing(sqlite3.connect(f"file:{gate.data_dir / 'gate.db'}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT scan_id, ticket_id, verdict, wall_time FROM scans ORDER BY seq").fetchall()


def post(gate: GateProcess, body: bytes, signature: str) -> requests.Response:
    return requests.post(
        f"http://127.0.0.1:{gate.peer_port}{PEER_PATH}",
        data=body,
        headers={"Content-Type": "application/json", PEER_SIGNATURE_HEADER: signature},
        timeout=10,
    )


def test_every_gate_learns_its_peers_keys_and_addresses_and_a_revocation_from_the_hub(world):
    gates, devices = world["gates"], world["devices"]
    for name, gate in gates.items():
        expected = {devices[other]["id"]: f"127.0.0.1:{gates[other].peer_port}" for other in gates if other != name}
        wait_for(
            lambda gate=gate, expected=expected: (
                {d: p["address"] for d, p in roster(gate).items() if d in expected} == expected
            ),
            timeout=30,
            what=f"{gate.name} to learn its peers' addresses",
        )
    status = gates["B"].cli("status", "--data-dir", str(gates["B"].data_dir), "--json")
    assert status.returncode == 0, status.stderr
    listed = {p["device_id"]: p["address"] for p in json.loads(status.stdout)["peers"]}
    assert listed[devices["A"]["id"]] == f"127.0.0.1:{gates['A'].peer_port}"
    revoked = devices["revoked"]["id"]
    assert revoked in roster(gates["B"])  # enrolled for the event: a peer, until revoked
    assert devices["other-event"]["id"] not in roster(gates["B"])
    assert devices["other-organizer"]["id"] not in roster(gates["B"])
    response = world["hub"].api("POST", f"/devices/{revoked}/revoke", world["headers"])
    assert response.status_code == 200
    wait_for(lambda: revoked not in roster(gates["B"]), timeout=30, what="B to drop the revoked device")


def test_a_ticket_admitted_at_a_is_refused_at_b_and_c_while_the_hub_is_down(world):
    hub, gates, event = world["hub"], world["gates"], world["event"]
    order = hub.buy(event, 2)
    world["tickets"] = order["tickets"]
    hub.stop()
    first = order["tickets"][0]
    assert gates["A"].scan(first["code"])["verdict"] == "admitted"
    for name in "BC":
        wait_for(
            lambda gate=gates[name]: ticket_state(gate, event["id"], first["ticket_id"]) is not None,
            timeout=10,
            what=f"gate {name} to learn the admission at A",
        )
    refused = gates["B"].scan(first["code"])
    assert refused["verdict"] == "already_admitted"
    assert refused["previous_admission"]["gate"] == "Gate A"
    assert gates["C"].scan(first["code"])["verdict"] == "already_admitted"


def test_forged_tampered_replayed_revoked_and_foreign_messages_change_nothing(world):
    gates, devices, event = world["gates"], world["devices"], world["event"]
    b = gates["B"]
    target = world["tickets"][1]  # not yet scanned anywhere
    a_identity = load_identity(gates["A"].data_dir)

    def movement(scan_id: str) -> dict:
        return {
            "scan_id": scan_id,
            "event_id": event["id"],
            "ticket_id": target["ticket_id"],
            "kind": "entry",
            "at": time.time(),
        }

    forged_body, forged_sig = sign_message(
        a_identity.device_id, SigningKey.generate(), time.time(), [movement("ab" * 16)]
    )
    genuine_body, genuine_sig = sign_message(a_identity.device_id, a_identity.key, time.time(), [movement("cd" * 16)])
    tampered = genuine_body.replace(str(target["ticket_id"]).encode(), str(target["ticket_id"] + 1).encode())
    attempts = {"forged": (forged_body, forged_sig, 401), "tampered": (tampered, genuine_sig, 401)}
    for name in ("revoked", "other-event", "other-organizer"):
        identity = load_identity(world["outsiders"][name].data_dir)
        assert identity.device_id == devices[name]["id"]
        attempts[name] = (*sign_message(identity.device_id, identity.key, time.time(), [movement("ef" * 16)]), 403)
    for name, (body, signature, status) in attempts.items():
        response = post(b, body, signature)
        assert response.status_code == status, (name, response.text)
        assert ticket_state(b, event["id"], target["ticket_id"]) is None, name

    # a genuine message of A's real admission, sent again: B already folded that scan id
    first = world["tickets"][0]
    admission = next(s for s in own_scans(gates["A"]) if s[1] == first["ticket_id"] and s[2] == "admitted")
    before = ticket_state(b, event["id"], first["ticket_id"])
    replay = {
        "scan_id": admission[0],
        "event_id": event["id"],
        "ticket_id": first["ticket_id"],
        "kind": "entry",
        "at": admission[3],
    }
    body, signature = sign_message(a_identity.device_id, a_identity.key, time.time(), [replay])
    for _ in range(2):
        response = post(b, body, signature)
        assert response.status_code == 200 and response.json() == {"applied": 0}
    assert ticket_state(b, event["id"], first["ticket_id"]) == before
    assert b.scan(target["code"])["verdict"] == "admitted"  # nothing above made B refuse it


def test_after_the_hub_returns_each_scan_reaches_it_once_from_the_gate_that_made_it(world):
    hub, gates, event = world["hub"], world["gates"], world["event"]
    hub.start()
    made = {name: own_scans(gate) for name, gate in gates.items()}
    total = sum(len(scans) for scans in made.values())

    def stored():
        response = hub.api("GET", f"/events/{event['id']}/scans", world["headers"])
        return response.json()["items"] if response.status_code == 200 else []

    wait_for(lambda: len(stored()) >= total, timeout=60, what="every gate to push its scans")
    items = stored()
    assert sorted(i["scan_id"] for i in items) == sorted(s[0] for scans in made.values() for s in scans)
    by_id = {i["scan_id"]: i for i in items}
    for name, scans in made.items():
        device_id = world["devices"][name]["id"]
        assert {by_id[s[0]]["device_id"] for s in scans} == {device_id}
    attendance = hub.api("GET", f"/events/{event['id']}/attendance", world["headers"]).json()
    assert attendance["duplicates"] == []  # the refusals at B and C were never admissions
    assert attendance["admitted"] == 2
