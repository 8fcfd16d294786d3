"""The peer roster in a gate's configuration (docs/peers.md): the other active devices of its event,
their public keys and the addresses they reported; every change reaches the event's gates by a new
configuration version (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization

from common.protocol import PEER_PORT_HEADER, PEER_ROSTER_DOMAIN
from common.signing import Keyring
from common.signing.keys import verify_document_signature
from tests.hub.helpers import create_event
from tests.hub.test_sync import FakeGate


def config_of(gate: FakeGate, **headers) -> dict:
    """The configuration the hub sends this gate now (asked with a version it never had), its roster
    checked as a gate checks it: signed by the hub's keyring, for this device and its event."""
    response = gate.client.get(
        "/api/v1/sync/pull?config_version=0", headers={**gate.auth, "X-Device-Time": repr(gate.now()), **headers}
    )
    assert response.status_code == 200, response.json
    config = response.json["config"]
    doc = config["peers"]
    keyring = Keyring.from_document(gate.client.get("/api/v1/keyring").json)
    verify_document_signature(doc, PEER_ROSTER_DOMAIN, keyring)
    assert doc["device_id"] == gate.id and doc["event_id"] == gate.event_id
    return {**config, "peers": doc["peers"]}


def key_b64(gate: FakeGate) -> str:
    raw = gate.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def test_roster_lists_the_events_other_active_gates_with_keys_and_reported_addresses(client, organizer):
    event = create_event(client, organizer, rows=1, seats=1, ga_capacity=5)
    other_event = create_event(client, organizer, rows=1, seats=1, ga_capacity=5)
    a, b = FakeGate(client, organizer, event["id"], "Gate A"), FakeGate(client, organizer, event["id"], "Gate B")
    elsewhere = FakeGate(client, organizer, other_event["id"], "Gate Z")
    pending = client.post("/api/v1/devices", json={"name": "Not yet", "event_id": event["id"]}, headers=organizer)
    assert pending.status_code == 201

    roster = config_of(b)["peers"]
    assert roster == [
        {"device_id": a.id, "gate_id": f"device-{a.id}", "name": "Gate A", "public_key": key_b64(a), "address": None}
    ]
    version = config_of(b)["config_version"]
    config_of(a, **{PEER_PORT_HEADER: "9001"})  # A's pull reports its peer port
    after = config_of(b)
    assert after["config_version"] > version  # B pulls the new roster at its next pull
    assert after["peers"][0]["address"] == "127.0.0.1:9001"
    assert [p["device_id"] for p in config_of(a)["peers"]] == [b.id]
    assert config_of(elsewhere)["peers"] == []  # another event's gates are no peers

    version = after["config_version"]
    assert client.post(f"/api/v1/devices/{a.id}/revoke", headers=organizer).status_code == 200
    revoked = config_of(b)
    assert revoked["config_version"] > version and revoked["peers"] == []


def test_an_unchanged_address_writes_nothing_and_a_bad_port_is_a_400(client, organizer):
    event = create_event(client, organizer, rows=1, seats=1, ga_capacity=5)
    a, b = FakeGate(client, organizer, event["id"], "Gate A"), FakeGate(client, organizer, event["id"], "Gate B")
    config_of(a, **{PEER_PORT_HEADER: "9001"})
    version = config_of(b)["config_version"]
    config_of(a, **{PEER_PORT_HEADER: "9001"})
    assert config_of(b)["config_version"] == version
    config_of(a)  # not told (a one-off `gate-agent sync`): unchanged
    assert config_of(b)["peers"][0]["address"] == "127.0.0.1:9001"
    config_of(a, **{PEER_PORT_HEADER: "0"})  # its exchange is off: peers cannot reach it any more
    assert config_of(b)["peers"][0]["address"] is None
    bad = client.get("/api/v1/sync/pull", headers={**a.auth, PEER_PORT_HEADER: "70000"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_header"


def test_renaming_or_moving_a_gate_reaches_its_peers(client, organizer):
    event = create_event(client, organizer, rows=1, seats=1, ga_capacity=5)
    other_event = create_event(client, organizer, rows=1, seats=1, ga_capacity=5)
    a, b = FakeGate(client, organizer, event["id"], "Gate A"), FakeGate(client, organizer, event["id"], "Gate B")
    client.patch(f"/api/v1/devices/{a.id}", json={"name": "North"}, headers=organizer)
    assert config_of(b)["peers"][0]["name"] == "North"
    client.patch(f"/api/v1/devices/{a.id}", json={"event_id": other_event["id"]}, headers=organizer)
    assert config_of(b)["peers"] == []
