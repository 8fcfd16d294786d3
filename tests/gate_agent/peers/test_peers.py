"""The peer exchange in one process: real gate folders and stores, real HTTP on loopback, real
zeroconf on the loopback interface (docs/peers.md). The exchange between real `gate-agent run`
processes with a real hub is in tests/e2e/test_peers.py."""

from __future__ import annotations

import base64
import json
import time

import pytest

from common.protocol import PEER_MAX_BYTES, PEER_ROSTER_DOMAIN, MovementKind
from common.signing import SigningKey
from common.signing.canonical import b64encode, canonical_bytes
from gate_agent.config import GateDataError
from gate_agent.peers import Roster, install_roster, load_roster, sign_message, verify_message, verify_roster
from gate_agent.peers.discovery import MdnsPeers
from gate_agent.peers.messages import PeerRefused
from gate_agent.peers.roster import key_fingerprint
from gate_agent.peers.service import PeerService, start_peers
from gate_agent.pipeline import Gate
from gate_agent.rules import Movement
from gate_agent.sync.identity import DeviceIdentity, save_identity
from tests.gate_agent.helpers import make_gate_folder
from tests.support import wait_for


def entry(device_id: int, name: str, key: SigningKey, address: str | None = None) -> dict:
    return {
        "device_id": device_id,
        "gate_id": f"device-{device_id}",
        "name": name,
        "public_key": base64.b64encode(key.public_raw).decode(),
        "address": address,
    }


def make_pair(tmp_path, first_config: dict | None = None, second_config: dict | None = None):
    """Gates 1 and 2 of event 1, enrolled (a device key each), with the same ticket key."""
    gates, identities = [], []
    first = make_gate_folder(tmp_path / "g1", gate_id="device-1", gate_name="Gate 1", **(first_config or {}))
    for n in (1, 2):
        if n == 1:
            folder = first
        else:  # tickets signed by gate 1's hub key must verify at gate 2 too
            folder = make_gate_folder(tmp_path / "g2", gate_id="device-2", gate_name="Gate 2", **(second_config or {}))
            (folder.path / "keyring.json").write_bytes((first.path / "keyring.json").read_bytes())
        identity = DeviceIdentity(n, "http://127.0.0.1:9", "td_x", SigningKey.generate())
        save_identity(folder.path, identity)
        gates.append(Gate.open(folder.path))
        identities.append(identity)
    return first, gates, identities


@pytest.fixture
def pair(tmp_path):
    first, gates, identities = make_pair(tmp_path)
    yield first, gates, identities
    for gate in gates:
        gate.close()


def start_pair(gates, identities) -> list[PeerService]:
    """Both exchanges on loopback, each on the other's roster with its address."""
    services = [PeerService(g, i, host="127.0.0.1") for g, i in zip(gates, identities)]
    for n, gate in enumerate(gates):
        other = 1 - n
        address = f"127.0.0.1:{services[other].port}"
        install_roster(
            gate.data.data_dir, {"peers": [entry(other + 1, f"Gate {other + 1}", identities[other].key, address)]}
        )
    return [service.start() for service in services]


def test_an_admission_reaches_the_peer_and_is_refused_there(pair):
    folder, (g1, g2), identities = pair
    s1, s2 = start_pair((g1, g2), identities)
    try:
        code = folder.ticket(ticket_id=7)
        assert g1.check(code).verdict.value == "admitted"
        wait_for(lambda: g2.store.ticket_state(1, 7), what="gate 2 to learn the admission")
        refused = g2.check(code)
        assert refused.verdict.value == "already_admitted" and refused.decision.previous.last_admitted_gate == "Gate 1"
        assert g2.store.unsynced_scans(10)[0]["verdict"] == "already_admitted"  # only its own scan to push
        assert len(g2.store.unsynced_scans(10)) == 1
    finally:
        s1.stop(), s2.stop()


def test_an_exit_at_the_exit_gate_lets_the_ticket_in_again_at_a_reentry_gate(tmp_path):
    folder, (entry_gate, exit_gate), identities = make_pair(tmp_path, {"reentry": "reentry"}, {"direction": "exit"})
    services = start_pair((entry_gate, exit_gate), identities)
    try:
        code = folder.ticket(ticket_id=21)
        assert entry_gate.check(code).verdict.value == "admitted"
        assert exit_gate.check(code).verdict.value == "exit_recorded"
        wait_for(lambda: not entry_gate.store.ticket_state(1, 21).inside, what="the entry gate to learn the exit")
        assert entry_gate.check(code).verdict.value == "admitted"  # out, so in again
        wait_for(lambda: exit_gate.store.ticket_state(1, 21).admissions == 2, what="the exit gate to learn both")
    finally:
        for service in services:
            service.stop()
        entry_gate.close(), exit_gate.close()


def test_a_peer_that_was_away_gets_what_it_missed(pair):
    folder, (g1, g2), (i1, i2) = pair
    s2 = PeerService(g2, i2, host="127.0.0.1")
    port = s2.port
    s2.stop()  # gate 2 is away
    s1 = PeerService(g1, i1, host="127.0.0.1")
    install_roster(g1.data.data_dir, {"peers": [entry(2, "Gate 2", i2.key, f"127.0.0.1:{port}")]})
    install_roster(g2.data.data_dir, {"peers": [entry(1, "Gate 1", i1.key)]})
    s1.start()
    try:
        assert g1.check(folder.ticket(ticket_id=8)).verdict.value == "admitted"
        wait_for(lambda: s1._pause, what="gate 1 to fail to reach gate 2")
        s2 = PeerService(g2, i2, host="127.0.0.1", port=port).start()
        wait_for(lambda: g2.store.ticket_state(1, 8), timeout=30, what="gate 2 to get the admission it missed")
        s2.stop()
    finally:
        s1.stop()


def test_peers_found_by_mdns_on_loopback_exchange_without_addresses_from_the_hub(pair):
    folder, (g1, g2), (i1, i2) = pair
    install_roster(g1.data.data_dir, {"peers": [entry(2, "Gate 2", i2.key)]})  # no address: the hub has seen none
    install_roster(g2.data.data_dir, {"peers": [entry(1, "Gate 1", i1.key)]})
    s1 = PeerService(g1, i1, host="127.0.0.1", mdns=True).start()
    s2 = PeerService(g2, i2, host="127.0.0.1", mdns=True).start()
    try:
        wait_for(lambda: s1.targets() == {f"127.0.0.1:{s2.port}"}, timeout=30, what="gate 1 to find gate 2 by mDNS")
        assert g1.check(folder.ticket(ticket_id=9)).verdict.value == "admitted"
        wait_for(lambda: g2.store.ticket_state(1, 9), what="gate 2 to learn the admission")
    finally:
        s1.stop(), s2.stop()


def test_mdns_finds_only_other_gates_and_keeps_them_by_key(tmp_path):
    keys = [SigningKey.generate() for _ in range(2)]
    fps = [key_fingerprint(k.public_key) for k in keys]
    a = MdnsPeers(1, fps[0], {1}, "127.0.0.1", 40001).start()
    b = MdnsPeers(1, fps[1], {1}, "127.0.0.1", 40002).start()  # the same device id (another hub's): told apart
    try:
        wait_for(lambda: a.addresses() == {fps[1]: "127.0.0.1:40002"}, timeout=30, what="a to find b")
        wait_for(lambda: b.addresses() == {fps[0]: "127.0.0.1:40001"}, timeout=30, what="b to find a")
    finally:
        a.stop(), b.stop()


def test_switched_off_or_not_enrolled_there_is_no_exchange(tmp_path, pair):
    _folder, (g1, _g2), _ids = pair
    assert start_peers(g1, {"GATE_PEERS_ENABLED": "false"}) is None
    plain = make_gate_folder(tmp_path / "plain")
    with Gate.open(plain.path) as gate:
        assert start_peers(gate, {}) is None
    with pytest.raises(ValueError, match="GATE_PEERS_ENABLED must be on or off"):
        start_peers(g1, {"GATE_PEERS_ENABLED": "perhaps"})


def _message(key, device_id=1, **movement):
    item = {"scan_id": "ab" * 16, "event_id": 1, "ticket_id": 5, "kind": "entry", "at": time.time(), **movement}
    return sign_message(device_id, key, time.time(), [item])


def test_verify_message_refuses_what_is_not_a_roster_devices_well_formed_message():
    key = SigningKey.generate()
    roster = Roster.from_json([entry(1, "Gate 1", key)])
    peer, movements = verify_message(*_message(key), roster, {1})
    assert peer.name == "Gate 1" and movements[0].kind is MovementKind.ENTRY and movements[0].gate_name == "Gate 1"
    assert verify_message(*_message(key, event_id=2), roster, {1})[1] == []  # not this gate's event: left out
    assert verify_message(*_message(key, kind="teleport"), roster, {1})[1] == []  # a newer gate's kind: left out
    body, signature = _message(key)
    cases = [
        (b"x" * (PEER_MAX_BYTES + 1), signature, "too_large"),
        (b"{", signature, "malformed_json"),
        (json.dumps({"device_id": 1}).encode(), signature, "invalid_message"),
        (body, "not base64!", "bad_signature"),
        (*_message(SigningKey.generate()), "bad_signature"),
        (*_message(key, device_id=2), "unknown_device"),
        (*_message(key, scan_id="XYZ"), "invalid_message"),
        (*_message(key, at=1e13), "invalid_message"),
        (*_message(key, ticket_id=True), "invalid_message"),
    ]
    for body, signature, code in cases:
        with pytest.raises(PeerRefused) as refused:
            verify_message(body, signature, roster, {1})
        assert refused.value.code == code


def test_the_store_folds_a_peer_movement_once_and_never_one_of_its_own_scans(pair):
    folder, (g1, _g2), _ids = pair
    own = g1.check(folder.ticket(ticket_id=11))
    echoed = Movement(own.record.scan_id, 1, 11, MovementKind.ENTRY, time.time(), "Gate 2")
    other = Movement("cd" * 16, 1, 12, MovementKind.ENTRY, time.time(), "Gate 2")
    assert g1.store.apply_peer_movements([echoed, other]) == 1
    assert g1.store.apply_peer_movements([other]) == 0
    assert g1.store.ticket_state(1, 11).admissions == 1 and g1.store.ticket_state(1, 12).admissions == 1
    assert [m["scan_id"] for m in g1.store.own_movements_after(0, 10)] == [own.record.scan_id]


def signed(key: SigningKey, **fields) -> dict:
    """A roster document as the hub signs it (hub/services/devices.py signed_roster)."""
    doc = {"type": "ticketgate-peer-roster", "version": 1, "device_id": 1, "event_id": 1, "issued_at": 100.0}
    doc.update(peers=[entry(2, "Gate 2", SigningKey.generate())], **fields)
    doc["signature"] = {"kid": key.kid, "value": b64encode(key.sign(canonical_bytes(doc, PEER_ROSTER_DOMAIN)))}
    return doc


def test_a_roster_is_taken_only_signed_by_the_hub_for_this_gate_and_never_older(pair):
    folder, (g1, _g2), _ids = pair
    config = {"device_id": 1, "events": [{"event_id": 1}]}
    good = signed(folder.key)
    assert verify_roster(g1.data.data_dir, {**config, "peers": good}) == good
    install_roster(g1.data.data_dir, good)
    assert [p.device_id for p in load_roster(g1.data.data_dir)] == [2]
    tampered = {**good, "peers": good["peers"] + [entry(3, "Intruder", SigningKey.generate())]}
    refusals = [
        (tampered, "does not verify"),
        (signed(SigningKey.generate()), "does not verify"),  # not the hub's key
        (signed(folder.key, device_id=2), "another device or event"),  # another gate's roster
        (signed(folder.key, event_id=9), "another device or event"),
        ({**good, "type": "revocations"}, "not a ticketgate-peer-roster"),
    ]
    for doc, message in refusals:
        with pytest.raises(GateDataError, match=message):
            verify_roster(g1.data.data_dir, {**config, "peers": doc})
    assert verify_roster(g1.data.data_dir, {**config, "peers": signed(folder.key, issued_at=50.0)}) is None  # older
    assert verify_roster(g1.data.data_dir, config) is None  # an older hub sends none
