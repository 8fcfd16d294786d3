"""Push/pull sync, duplicates, attendance and export (SQLite and PostgreSQL)."""
from __future__ import annotations

import base64
import json
import secrets
import threading
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.signing import RevocationList, Keyring
from hub.services.devices import PUSH_DOMAIN
from tests.hub.helpers import buy, create_event, ga_type


class FakeGate:
    """Speaks the device side of the protocol with a real key (the hub under test is real)."""

    def __init__(self, client, organizer, event_id: int, name: str, clock_offset: float = 0.0):
        self.client = client
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        created = client.post("/api/v1/devices", json={"name": name, "event_id": event_id}, headers=organizer).json
        body = client.post("/api/v1/enrol", json={"token": created["enrolment_token"],
                                                  "public_key": base64.b64encode(raw).decode()}).json
        self.id = body["device"]["id"]
        self.auth = {"Authorization": f"Bearer {body['credential']}"}
        self.event_id = event_id
        self.offset = clock_offset
        self.seq = 0

    def now(self) -> float:
        return time.time() + self.offset

    def scan(self, ticket_id: int | None, verdict: str = "admitted", at: float | None = None, **extra) -> dict:
        self.seq += 1
        return {"scan_id": secrets.token_hex(16), "seq": self.seq, "wall_time": self.now() if at is None else at,
                "event_id": self.event_id, "ticket_id": ticket_id, "verdict": verdict, "reason": None, **extra}

    def push_body(self, scans: list[dict]) -> bytes:
        return json.dumps({"sent_at": self.now(), "last_rtt_ms": 2, "backlog": 0, "scans": scans}).encode()

    def push(self, scans: list[dict], body: bytes | None = None, sign_with=None):
        body = body if body is not None else self.push_body(scans)
        signature = base64.b64encode((sign_with or self.key).sign(PUSH_DOMAIN + body)).decode()
        return self.client.post("/api/v1/sync/push", data=body, headers={
            **self.auth, "X-Device-Signature": signature, "Content-Type": "application/json"})

    def pull(self, **params):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return self.client.get(f"/api/v1/sync/pull?{query}", headers={**self.auth, "X-Device-Time": repr(self.now())})


@pytest.fixture
def event(client, organizer):
    return create_event(client, organizer, rows=1, seats=1, ga_capacity=50)


@pytest.fixture
def gates(client, organizer, event):
    return FakeGate(client, organizer, event["id"], "Gate A"), FakeGate(client, organizer, event["id"], "Gate B")


def attendance(client, organizer, event):
    response = client.get(f"/api/v1/events/{event['id']}/attendance", headers=organizer)
    assert response.status_code == 200, response.json
    return response.json


def test_a_retried_or_duplicated_batch_is_stored_once(client, organizer, event, gates):
    a, _b = gates
    scans = [a.scan(i) for i in range(1, 6)]
    body = a.push_body(scans + scans[:2])  # ids repeated inside the batch too
    first, second = a.push(scans, body), a.push(scans, body)
    assert first.status_code == second.status_code == 200
    assert first.json["stored"] == 5 and second.json["stored"] == 0
    assert sorted(first.json["acked"]) == sorted(second.json["acked"]) == sorted(s["scan_id"] for s in scans)
    export = client.get(f"/api/v1/events/{event['id']}/scans", headers=organizer).json
    assert len(export["items"]) == 5


def test_concurrent_retries_store_each_scan_once(app, client, organizer, event, gates):
    a, _b = gates
    scans = [a.scan(i) for i in range(1, 40)]
    body = a.push_body(scans)
    codes = []

    def push():
        with app.test_client() as c:
            signature = base64.b64encode(a.key.sign(PUSH_DOMAIN + body)).decode()
            codes.append(c.post("/api/v1/sync/push", data=body, headers={
                **a.auth, "X-Device-Signature": signature, "Content-Type": "application/json"}).status_code)

    threads = [threading.Thread(target=push) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 4
    assert attendance(client, organizer, event)["entries"] == 39


def test_push_needs_the_device_signature(gates):
    a, b = gates
    scans = [a.scan(1)]
    forged = a.push(scans, sign_with=b.key)
    assert forged.status_code == 401 and forged.json["error"]["code"] == "bad_signature"
    body = a.push_body(scans)
    tampered = a.client.post("/api/v1/sync/push", data=body.replace(b'"admitted"', b'"revoked"'), headers={
        **a.auth, "X-Device-Signature": base64.b64encode(a.key.sign(PUSH_DOMAIN + body)).decode()})
    assert tampered.status_code == 401


def test_scan_ids_of_another_device_are_not_acknowledged(gates):
    a, b = gates
    scan = a.scan(1)
    assert a.push([scan]).json["acked"] == [scan["scan_id"]]
    stolen = b.push([{**scan, "seq": 1}]).json
    assert stolen["acked"] == [] and stolen["rejected"] == [{"scan_id": scan["scan_id"], "code": "scan_id_taken"}]


def test_pull_brings_other_gates_admissions_since_the_cursor(gates):
    a, b = gates
    a.push([a.scan(7), a.scan(8, verdict="already_admitted")])
    b.push([b.scan(9)])
    first = a.pull(cursor=0).json
    assert [(m["ticket_id"], m["gate_name"], m["kind"]) for m in first["movements"]] == [(9, "Gate B", "entry")]
    seen_by_b = b.pull(cursor=0).json
    assert [m["ticket_id"] for m in seen_by_b["movements"]] == [7]  # refusals are not movements
    assert a.pull(cursor=first["cursor"]).json["movements"] == []
    b.push([b.scan(10), b.scan(11), b.scan(12)])
    page = a.pull(cursor=first["cursor"], limit=2).json
    assert [m["ticket_id"] for m in page["movements"]] == [10, 11] and page["more"] is True
    rest = a.pull(cursor=page["cursor"], limit=2).json
    assert [m["ticket_id"] for m in rest["movements"]] == [12] and rest["more"] is False


def test_pull_sends_keyring_revocations_and_config_only_when_newer(client, organizer, event, gates):
    a, _b = gates
    first = a.pull().json
    keyring = Keyring.from_document(first["keyring"])
    assert first["config"]["gate_name"] == "Gate A" and first["revocations"] is None
    hold = client.post(f"/api/v1/events/{event['id']}/holds",
                       json={"ga": {"ticket_type": ga_type(event), "quantity": 1}}).json
    order = buy(client, hold).json
    ticket_id = order["tickets"][0]["ticket_id"]
    assert client.post(f"/api/v1/orders/{order['id']}/refund", headers=organizer).status_code == 200
    later = a.pull(keyring_seq=first["keyring"]["seq"], config_version=first["config"]["config_version"]).json
    assert later["keyring"] is None and later["config"] is None
    revocations = RevocationList.from_document(later["revocations"], keyring)
    assert revocations.is_revoked(event["id"], ticket_id)
    quiet = a.pull(keyring_seq=first["keyring"]["seq"], revocation_seq=revocations.seq,
                   config_version=first["config"]["config_version"]).json
    assert quiet["revocations"] is None


def test_offline_double_admission_keeps_the_earliest_by_corrected_time(client, organizer, event):
    a = FakeGate(client, organizer, event["id"], "Gate A")
    b = FakeGate(client, organizer, event["id"], "Gate B", clock_offset=7200)  # two hours ahead
    now = time.time()
    at_b = b.scan(5, at=now - 60 + 7200)  # B admitted a minute ago (by its own clock: in two hours)
    at_a = a.scan(5, at=now - 30)
    a.push([at_a])
    b.push([at_b])  # arrives later, but happened first
    report = attendance(client, organizer, event)
    assert report["duplicates"] == [{
        "ticket_id": 5,
        "entry": {"scan_id": at_b["scan_id"], "gate": "Gate B", "at": report["duplicates"][0]["entry"]["at"]},
        "duplicate": {"scan_id": at_a["scan_id"], "gate": "Gate A", "at": report["duplicates"][0]["duplicate"]["at"]},
    }]
    assert report["entries"] == 1 and report["admitted"] == 1 and report["inside"] == 1
    devices = {d["name"]: d for d in client.get("/api/v1/devices", headers=organizer).json["items"]}
    assert abs(devices["Gate B"]["clock_offset_s"] + 7200) < 5
    a.push([a.scan(5, at=now - 90)])  # a late batch from even earlier: it becomes the entry
    report = attendance(client, organizer, event)
    assert len(report["duplicates"]) == 2 and {d["entry"]["gate"] for d in report["duplicates"]} == {"Gate A"}


def test_exits_let_a_ticket_in_again_and_attendance_counts_by_gate(client, organizer, event, gates):
    a, b = gates
    now = time.time()
    a.push([a.scan(1, at=now - 50), a.scan(2, at=now - 49), a.scan(3, verdict="wrong_zone"),
            a.scan(None, verdict="not_a_ticket")])
    b.push([b.scan(1, verdict="exit_recorded", at=now - 40), b.scan(4, verdict="revoked")])
    a.push([a.scan(1, at=now - 30)])  # back in after the exit: an entry, not a duplicate
    report = attendance(client, organizer, event)
    assert report["entries"] == 3 and report["exits"] == 1 and report["inside"] == 2
    assert report["duplicates"] == []
    assert report["rejected"] == {"not_a_ticket": 1, "revoked": 1, "wrong_zone": 1}
    per_gate = {g["name"]: g for g in report["per_gate"]}
    assert per_gate["Gate A"]["entries"] == 3 and per_gate["Gate A"]["rejected"] == 2
    assert per_gate["Gate B"]["exits"] == 1 and per_gate["Gate B"]["rejected"] == 1


def test_scan_export_pages_by_hub_sequence(client, organizer, event, gates):
    a, _b = gates
    a.push([a.scan(i) for i in range(1, 6)])
    first = client.get(f"/api/v1/events/{event['id']}/scans?limit=3", headers=organizer).json
    rest = client.get(f"/api/v1/events/{event['id']}/scans?since={first['next']}", headers=organizer).json
    assert [s["ticket_id"] for s in first["items"] + rest["items"]] == [1, 2, 3, 4, 5]
    assert client.get(f"/api/v1/events/{event['id']}/scans").status_code == 401


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
                        ["scans", "sent_at", "scan_id", "seq", "wall_time", "verdict", "x"]), inner, max_size=4),
                    max_leaves=12))
def test_malformed_batches_get_a_clear_4xx(gates, value):
    a, _b = gates
    body = json.dumps({"sent_at": 1.0, "scans": [value]} if not isinstance(value, dict) else value).encode()
    response = a.push([], body=body)
    assert 400 <= response.status_code < 500 and "error" in response.json


@pytest.mark.parametrize("make_body, status, code", [
    (lambda s: b"[" * 600 + b"]" * 600, 400, "malformed_json"),  # deeper than the Python stack allows to walk
    (lambda s: b"[" * 100_000 + b"]" * 100_000, 400, "malformed_json"),  # deeper than the JSON parser goes
    (lambda s: json.dumps({"sent_at": 1.0, "last_rtt_ms": 2**40, "scans": s}).encode(), 422, "invalid_field"),
    (lambda s: json.dumps({"sent_at": 1.0, "backlog": 2**40, "scans": s}).encode(), 422, "invalid_field"),
    (lambda s: json.dumps({"sent_at": 1.0, "scans": [{**s[0], "reason": "a\x00b"}]}).encode(), 400, "nul_character"),
    (lambda s: json.dumps({"sent_at": 1.0, "scans": s[:1] * 1001}).encode(), 422, "invalid_batch"),
    (lambda s: json.dumps({"sent_at": 1.0, "scans": s, "pad": "x" * 300_000}).encode(), 413,
     "request_entity_too_large"),
])
def test_hostile_batches_get_a_json_4xx_and_lose_nothing(client, organizer, event, gates, make_body, status, code):
    a, _b = gates
    scans = [a.scan(1), a.scan(2)]
    refused = a.push(scans, body=make_body(scans))
    assert refused.status_code == status and refused.json["error"]["code"] == code, refused.get_data(as_text=True)
    assert client.get(f"/api/v1/events/{event['id']}/scans", headers=organizer).json["items"] == []
    retried = a.push(scans)  # the gate's own retry of the same scans goes through whole
    assert retried.status_code == 200 and retried.json["stored"] == 2


@pytest.mark.parametrize("header, value", [
    ("X-Device-Time", "inf"), ("X-Device-Time", "1e308"), ("X-Device-Time", "nan"),
    ("X-Device-Last-RTT-Ms", "99999999999999999999999"), ("X-Device-Last-RTT-Ms", str(2**40)),
])
def test_pull_refuses_timing_headers_out_of_range(client, organizer, gates, header, value):
    a, _b = gates
    response = a.client.get("/api/v1/sync/pull", headers={**a.auth, "X-Device-Time": "1000", header: value})
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_header"
    listing = client.get("/api/v1/devices", headers=organizer)
    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    json.loads(listing.get_data(as_text=True), parse_constant=refuse)  # no Infinity stored as a clock offset
    assert all(d["clock_offset_s"] is None for d in listing.json["items"])


def test_admissions_for_another_organizers_event_are_refused_not_stored(client, organizer, event, make_user):
    _user, other_organizer = make_user("organizer")
    theirs = create_event(client, other_organizer, rows=1, seats=1, ga_capacity=5)
    ours_too = create_event(client, organizer, rows=1, seats=1, ga_capacity=5)
    gate = FakeGate(client, organizer, event["id"], "Gate A")
    their_gate = FakeGate(client, other_organizer, theirs["id"], "Their gate")
    forged = gate.scan(1, event_id=theirs["id"])
    wrong_event = gate.scan(2, verdict="wrong_event", event_id=theirs["id"])
    reassigned = gate.scan(3, event_id=ours_too["id"])  # our other event: a gate moved between them
    answer = gate.push([forged, wrong_event, reassigned]).json
    assert answer["rejected"] == [{"scan_id": forged["scan_id"], "code": "foreign_event"}]
    assert sorted(answer["acked"]) == sorted(s["scan_id"] for s in (forged, wrong_event, reassigned))
    assert answer["stored"] == 2
    assert their_gate.pull().json["movements"] == []  # their gates would refuse ticket 1 otherwise
    report = client.get(f"/api/v1/events/{theirs['id']}/attendance", headers=other_organizer).json
    assert report["entries"] == 0 and report["rejected"] == {"wrong_event": 1}
    assert attendance(client, organizer, ours_too)["entries"] == 1


def test_a_revoked_device_gets_401_on_push_and_pull_and_stores_nothing(client, organizer, event, gates):
    a, _b = gates
    assert client.post(f"/api/v1/devices/{a.id}/revoke", headers=organizer).status_code == 200
    for response in (a.push([a.scan(1)]), a.pull()):
        assert response.status_code == 401 and response.json["error"]["code"] == "device_revoked"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert client.get(f"/api/v1/events/{event['id']}/scans", headers=organizer).json["items"] == []


def test_a_cursor_the_hub_never_issued_starts_the_pull_over(gates):
    a, b = gates
    b.push([b.scan(9)])
    ahead = a.pull(cursor=10**9).json  # e.g. the hub's database was restored from a backup
    assert [m["ticket_id"] for m in ahead["movements"]] == [9] and ahead["cursor"] < 10**9
