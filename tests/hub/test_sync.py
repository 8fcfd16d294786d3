"""Push/pull sync, duplicates, attendance and export (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import sys
import threading
import time

import jsonschema_rs
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_case
from hypothesis import strategies as st
from sqlalchemy import select

from common.protocol import (
    PUSH_DOMAIN,
    PUSH_FIELDS,
    PUSH_MAX_BYTES,
    PUSH_MAX_SCANS,
    REASON_MAX_CHARS,
    TIME_MAX,
    TIME_MIN,
    VERDICTS,
    encode_push,
    plausible_time,
)
from common.signing import Keyring, RevocationList
from gate_agent.pipeline import Gate
from gate_agent.rules import Verdict as GateVerdict
from hub.api.openapi import openapi_document
from hub.schema_devices import gate_scans
from hub.services.live import notifier_for
from tests.gate_agent.helpers import make_gate_folder
from tests.hub.helpers import buy, create_event, ga_type
from tests.support import wait_for


class FakeGate:
    """Speaks the device side of the protocol with a real key (the hub under test is real)."""

    def __init__(self, client, organizer, event_id: int, name: str, clock_offset: float = 0.0):
        self.client = client
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        created = client.post("/api/v1/devices", json={"name": name, "event_id": event_id}, headers=organizer).json
        body = client.post(
            "/api/v1/enrol", json={"token": created["enrolment_token"], "public_key": base64.b64encode(raw).decode()}
        ).json
        self.id = body["device"]["id"]
        self.auth = {"Authorization": f"Bearer {body['credential']}"}
        self.event_id = event_id
        self.offset = clock_offset
        self.seq = 0

    def now(self) -> float:
        return time.time() + self.offset

    def scan(self, ticket_id: int | None, verdict: str = "admitted", at: float | None = None, **extra) -> dict:
        self.seq += 1
        return {
            "scan_id": secrets.token_hex(16),
            "seq": self.seq,
            "wall_time": self.now() if at is None else at,
            "event_id": self.event_id,
            "ticket_id": ticket_id,
            "verdict": verdict,
            "reason": None,
            **extra,
        }

    def push_body(self, scans: list[dict]) -> bytes:
        return json.dumps({"sent_at": self.now(), "last_rtt_ms": 2, "backlog": 0, "scans": scans}).encode()

    def push(self, scans: list[dict], body: bytes | None = None, sign_with=None):
        body = body if body is not None else self.push_body(scans)
        signature = base64.b64encode((sign_with or self.key).sign(PUSH_DOMAIN + body)).decode()
        return self.client.post(
            "/api/v1/sync/push",
            data=body,
            headers={**self.auth, "X-Device-Signature": signature, "Content-Type": "application/json"},
        )

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
            codes.append(
                c.post(
                    "/api/v1/sync/push",
                    data=body,
                    headers={**a.auth, "X-Device-Signature": signature, "Content-Type": "application/json"},
                ).status_code
            )

    threads = [threading.Thread(target=push) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 4
    assert attendance(client, organizer, event)["entries"] == 39


def _hub(config: dict):
    """A hub app of its own with ``config``, and an organizer's token headers."""
    from hub import create_app
    from hub.services import users

    app = create_app(config)
    app.extensions["tickethub.keys"].ensure()
    with app.extensions["tickethub.engine"].connect() as conn:
        user = users.create_user(conn, "organizer@example.org", "correct horse", "organizer")
        _token_id, token = users.create_token(conn, user["id"], "test")
    return app, {"Authorization": f"Bearer {token}"}


def _sqlite_app(folder, template):
    """A hub on its own copy of the migrated SQLite template."""
    folder.mkdir()
    shutil.copyfile(template, folder / "hub.sqlite3")
    return _hub(
        {
            "INSTANCE_PATH": str(folder / "instance"),
            "DATABASE_URL": f"sqlite:///{folder / 'hub.sqlite3'}",
            "TESTING": True,
            "SWEEP_INTERVAL_SECONDS": 0,
        }
    )


def _waiting_in_atomic(thread: threading.Thread) -> bool:
    """Whether the thread stands in hub.db.atomic (where a SQLite writer waits for the write lock)."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code.co_name == "atomic" and frame.f_code.co_filename.endswith(os.path.join("hub", "db.py")):
            return True
        frame = frame.f_back
    return False


def test_a_sqlite_ingest_queues_on_its_own_databases_write_lock_only(tmp_path, sqlite_template):
    """One writer lock per SQLite database, the engine's (hub.db.atomic): an ingest waits for it, and an
    ingest into another database does not wait for the first one (a process-wide lock made it wait)."""
    hubs = [_sqlite_app(tmp_path / name, sqlite_template) for name in ("one", "two")]
    gates = []
    for app, organizer in hubs:
        client = app.test_client()
        gates.append(FakeGate(client, organizer, create_event(client, organizer, rows=1, seats=1)["id"], "Gate"))
    lock = hubs[0][0].extensions["tickethub.engine"].write_lock
    answers: dict[int, int] = {}

    def push(n: int) -> None:
        answers[n] = gates[n].push([gates[n].scan(1)]).json["stored"]

    first, second = (threading.Thread(target=push, args=(n,), daemon=True) for n in (0, 1))
    lock.acquire()
    try:
        first.start()
        wait_for(lambda: _waiting_in_atomic(first), 30, "the first ingest to wait for its database's write lock")
        assert 0 not in answers
        second.start()
        wait_for(lambda: 1 in answers, 30, "the ingest into the other database, while the first one waits")
    finally:
        lock.release()
    first.join(30)
    assert answers == {0: 1, 1: 1}
    for app, _organizer in hubs:
        app.extensions["tickethub.engine"].dispose()


def test_push_needs_the_device_signature(gates):
    a, b = gates
    scans = [a.scan(1)]
    forged = a.push(scans, sign_with=b.key)
    assert forged.status_code == 401 and forged.json["error"]["code"] == "bad_signature"
    body = a.push_body(scans)
    tampered = a.client.post(
        "/api/v1/sync/push",
        data=body.replace(b'"admitted"', b'"revoked"'),
        headers={**a.auth, "X-Device-Signature": base64.b64encode(a.key.sign(PUSH_DOMAIN + body)).decode()},
    )
    assert tampered.status_code == 401


def test_scan_ids_of_another_device_are_not_acknowledged(gates):
    a, b = gates
    scan = a.scan(1)
    assert a.push([scan]).json["acked"] == [scan["scan_id"]]
    stolen = b.push([{**scan, "seq": 1}]).json
    assert stolen["acked"] == [] and stolen["rejected"] == [{"scan_id": scan["scan_id"], "code": "scan_id_taken"}]


def _json_schema(node):
    """An OpenAPI 3.0 schema as JSON Schema: `nullable` becomes "or null"."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


def test_the_push_body_is_documented_from_the_protocol_and_the_gates_bodies_fit_it(tmp_path):
    operation = openapi_document()["paths"]["/api/v1/sync/push"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert tuple(schema["properties"]) == PUSH_FIELDS and schema["additionalProperties"] is False
    assert schema["properties"]["scans"]["maxItems"] == PUSH_MAX_SCANS
    scan = schema["properties"]["scans"]["items"]["properties"]
    assert scan["verdict"]["enum"] == list(VERDICTS) and scan["reason"]["maxLength"] == REASON_MAX_CHARS
    assert (scan["wall_time"]["minimum"], scan["wall_time"]["maximum"]) == (TIME_MIN, TIME_MAX)
    folder = make_gate_folder(tmp_path, timezone="UTC")
    with Gate.open(folder.path) as gate:
        verdicts = [gate.check(text).verdict.value for text in (folder.ticket(), folder.ticket(event_id=2), "hello")]
        items = gate.store.unsynced_scans(PUSH_MAX_SCANS)
    assert verdicts == ["admitted", "wrong_event", "not_a_ticket"]
    valid = jsonschema_rs.validator_for(_json_schema(schema)).is_valid
    assert valid(json.loads(encode_push(time.time(), None, 0, items)))
    assert not valid(json.loads(encode_push(time.time(), 3, 0, [{**items[0], "verdict": "made_up"}])))


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
    hold = client.post(
        f"/api/v1/events/{event['id']}/holds", json={"ga": {"ticket_type": ga_type(event), "quantity": 1}}
    ).json
    order = buy(client, hold).json
    ticket_id = order["tickets"][0]["ticket_id"]
    assert client.post(f"/api/v1/orders/{order['id']}/refund", headers=organizer).status_code == 200
    later = a.pull(keyring_seq=first["keyring"]["seq"], config_version=first["config"]["config_version"]).json
    assert later["keyring"] is None and later["config"] is None
    revocations = RevocationList.from_document(later["revocations"], keyring)
    assert revocations.is_revoked(event["id"], ticket_id)
    quiet = a.pull(
        keyring_seq=first["keyring"]["seq"],
        revocation_seq=revocations.seq,
        config_version=first["config"]["config_version"],
    ).json
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
    assert report["duplicates"] == [
        {
            "ticket_id": 5,
            "entry": {"scan_id": at_b["scan_id"], "gate": "Gate B", "at": report["duplicates"][0]["entry"]["at"]},
            "duplicate": {
                "scan_id": at_a["scan_id"],
                "gate": "Gate A",
                "at": report["duplicates"][0]["duplicate"]["at"],
            },
        }
    ]
    assert report["entries"] == 1 and report["admitted"] == 1 and report["inside"] == 1
    devices = {d["name"]: d for d in client.get("/api/v1/devices", headers=organizer).json["items"]}
    assert abs(devices["Gate B"]["clock_offset_s"] + 7200) < 5
    a.push([a.scan(5, at=now - 90)])  # a late batch from even earlier: it becomes the entry
    report = attendance(client, organizer, event)
    assert len(report["duplicates"]) == 2 and {d["entry"]["gate"] for d in report["duplicates"]} == {"Gate A"}


def test_exits_let_a_ticket_in_again_and_attendance_counts_by_gate(client, organizer, event, gates):
    a, b = gates
    now = time.time()
    a.push(
        [
            a.scan(1, at=now - 50),
            a.scan(2, at=now - 49),
            a.scan(3, verdict="wrong_zone"),
            a.scan(None, verdict="not_a_ticket"),
        ]
    )
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
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["scans", "sent_at", "scan_id", "seq", "wall_time", "verdict", "x"]), inner, max_size=4
            )
        ),
        max_leaves=12,
    )
)
def test_malformed_batches_get_a_clear_4xx(gates, value):
    a, _b = gates
    body = json.dumps({"sent_at": 1.0, "scans": [value]} if not isinstance(value, dict) else value).encode()
    response = a.push([], body=body)
    assert 400 <= response.status_code < 500 and "error" in response.json


@pytest.mark.parametrize(
    "make_body, status, code",
    [
        (lambda s: b"[" * 600 + b"]" * 600, 400, "malformed_json"),  # deeper than the Python stack allows to walk
        (lambda s: b"[" * 100_000 + b"]" * 100_000, 400, "malformed_json"),  # deeper than the JSON parser goes
        (
            lambda s: json.dumps({"sent_at": time.time(), "last_rtt_ms": 2**40, "scans": s}).encode(),
            422,
            "invalid_field",
        ),
        (lambda s: json.dumps({"sent_at": time.time(), "backlog": 2**40, "scans": s}).encode(), 422, "invalid_field"),
        (lambda s: json.dumps({"sent_at": 1e12, "scans": s}).encode(), 422, "clock_out_of_range"),
        (
            lambda s: json.dumps({"sent_at": 1.0, "scans": [{**s[0], "reason": "a\x00b"}]}).encode(),
            400,
            "nul_character",
        ),
        (lambda s: json.dumps({"sent_at": 1.0, "scans": s[:1] * (PUSH_MAX_SCANS + 1)}).encode(), 422, "invalid_batch"),
        (
            lambda s: json.dumps({"sent_at": 1.0, "scans": s, "pad": "x" * PUSH_MAX_BYTES}).encode(),
            413,
            "request_entity_too_large",
        ),
    ],
)
def test_hostile_batches_get_a_json_4xx_and_lose_nothing(client, organizer, event, gates, make_body, status, code):
    a, _b = gates
    scans = [a.scan(1), a.scan(2)]
    refused = a.push(scans, body=make_body(scans))
    assert refused.status_code == status and refused.json["error"]["code"] == code, refused.get_data(as_text=True)
    assert client.get(f"/api/v1/events/{event['id']}/scans", headers=organizer).json["items"] == []
    retried = a.push(scans)  # the gate's own retry of the same scans goes through whole
    assert retried.status_code == 200 and retried.json["stored"] == 2


def test_a_push_as_large_as_the_protocol_allows_is_taken_whatever_max_content_length_says(app_config):
    """A gate builds pushes up to common.protocol.PUSH_MAX_BYTES and cannot know a hub's settings: the push's
    limit is the protocol's, other requests keep MAX_CONTENT_LENGTH."""
    app, organizer = _hub({**app_config, "MAX_CONTENT_LENGTH": 4096})
    client = app.test_client()
    gate = FakeGate(client, organizer, create_event(client, organizer, rows=1, seats=1)["id"], "Gate A")
    scans = [gate.scan(i, reason="r" * 40) for i in range(PUSH_MAX_SCANS)]
    body = gate.push_body(scans)
    assert 4096 < len(body) <= PUSH_MAX_BYTES
    answer = gate.push(scans, body=body)
    assert answer.status_code == 200 and answer.json["stored"] == PUSH_MAX_SCANS, answer.get_data(as_text=True)
    padded = {"sent_at": time.time(), "scans": [], "pad": "x" * PUSH_MAX_BYTES}
    too_large = gate.push([], body=json.dumps(padded).encode())
    assert too_large.status_code == 413 and too_large.json["error"]["code"] == "request_entity_too_large"
    venue = client.post("/api/v1/venues", json={"name": "x" * 5000, "sections": []}, headers=organizer)
    assert venue.status_code == 413  # the setting still holds for every other request
    app.extensions["tickethub.engine"].dispose()


@pytest.mark.parametrize(
    "header, value",
    [
        ("X-Device-Time", "inf"),
        ("X-Device-Time", "1e308"),
        ("X-Device-Time", "nan"),
        ("X-Device-Last-RTT-Ms", "99999999999999999999999"),
        ("X-Device-Last-RTT-Ms", str(2**40)),
    ],
)
def test_pull_refuses_timing_headers_out_of_range(client, organizer, gates, header, value):
    a, _b = gates
    response = a.client.get("/api/v1/sync/pull", headers={**a.auth, "X-Device-Time": "1000", header: value})
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_header"
    listing = client.get("/api/v1/devices", headers=organizer)

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    json.loads(listing.get_data(as_text=True), parse_constant=refuse)  # no Infinity stored as a clock offset
    assert all(d["clock_offset_s"] is None for d in listing.json["items"])


def test_no_scan_for_another_organizers_event_is_stored(client, organizer, event, make_user):
    _user, other_organizer = make_user("organizer")
    theirs = create_event(client, other_organizer, rows=1, seats=1, ga_capacity=5)
    ours_too = create_event(client, organizer, rows=1, seats=1, ga_capacity=5)
    gate = FakeGate(client, organizer, event["id"], "Gate A")
    their_gate = FakeGate(client, other_organizer, theirs["id"], "Their gate")
    foreign = [gate.scan(1, event_id=theirs["id"])] + [  # every verdict, not only admissions and exits
        gate.scan(2, verdict=v, event_id=theirs["id"])
        for v in ("exit_recorded", "already_admitted", "revoked", "wrong_event", "expired")
    ]
    missing = gate.scan(3, event_id=10**12)  # an event no one has
    reassigned = gate.scan(3, event_id=ours_too["id"])  # our other event: a gate moved between them
    answer = gate.push(foreign + [missing, reassigned]).json
    assert answer["rejected"] == [{"scan_id": s["scan_id"], "code": "foreign_event"} for s in foreign + [missing]]
    assert sorted(answer["acked"]) == sorted(s["scan_id"] for s in foreign + [missing, reassigned])  # settled
    assert answer["stored"] == 1
    assert their_gate.pull().json["movements"] == []  # their gates would refuse ticket 1 otherwise
    report = client.get(f"/api/v1/events/{theirs['id']}/attendance", headers=other_organizer).json
    assert (report["entries"], report["exits"], report["rejected"]) == (0, 0, {})
    assert client.get(f"/api/v1/events/{theirs['id']}/scans", headers=other_organizer).json["items"] == []
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


# --- device times and verdict names (docs/sync-protocol.md: bounds) ----------------------

ABSURD_TIMES = [1e12, -1e12, 0, TIME_MIN - 1, TIME_MAX + 1, 10**400, float("nan"), float("inf"), float("-inf")]


def test_device_times_outside_the_window_are_refused_per_scan_and_settled(client, organizer, event, gates):
    a, b = gates
    good = a.scan(1)
    bad = [a.scan(10 + i, at=t) for i, t in enumerate(ABSURD_TIMES)]
    body = a.push_body([good, *bad])
    for attempt in range(2):  # the gate's retry: the refusals stay settled, nothing is stored twice
        answer = a.push([], body=body)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.json["stored"] == 1 - attempt
        assert answer.json["rejected"] == [{"scan_id": s["scan_id"], "code": "time_out_of_range"} for s in bad]
        assert sorted(answer.json["acked"]) == sorted(s["scan_id"] for s in [good, *bad])
    export = client.get(f"/api/v1/events/{event['id']}/scans", headers=organizer).json["items"]
    assert [s["scan_id"] for s in export] == [good["scan_id"]]
    assert attendance(client, organizer, event)["entries"] == 1
    assert [m["ticket_id"] for m in b.pull().json["movements"]] == [1]


def test_a_scan_whose_corrected_time_leaves_the_window_is_refused(client, organizer, event, gates):
    a, _b = gates
    # sent at the window's start but scanned at its end: the offset (+26 years) would place it in 2126
    late = a.scan(1, at=TIME_MAX - 60)
    body = json.dumps({"sent_at": TIME_MIN + 60, "last_rtt_ms": 2, "backlog": 0, "scans": [late]}).encode()
    answer = a.push([], body=body).json
    assert answer["rejected"] == [{"scan_id": late["scan_id"], "code": "time_out_of_range"}]
    assert answer["acked"] == [late["scan_id"]] and answer["stored"] == 0


def test_the_hub_stores_exactly_the_verdicts_the_gate_emits(client, organizer, event, gates):
    a, _b = gates
    emitted = [a.scan(i, verdict=v.value) for i, v in enumerate(GateVerdict, 1)]
    made_up = [
        a.scan(100 + i, verdict=v) for i, v in enumerate(["made_up", "ADMITTED", "admitted ", "", "entry", "x" * 300])
    ]
    answer = a.push(emitted + made_up).json
    assert answer["stored"] == len(emitted)
    assert answer["rejected"] == [{"scan_id": s["scan_id"], "code": "unknown_verdict"} for s in made_up]
    assert sorted(answer["acked"]) == sorted(s["scan_id"] for s in emitted + made_up)  # settled, not resent
    export = client.get(f"/api/v1/events/{event['id']}/scans", headers=organizer).json["items"]
    assert [s["verdict"] for s in export] == [v.value for v in GateVerdict]
    report = attendance(client, organizer, event)
    assert (report["entries"], report["exits"]) == (1, 1)
    assert set(report["rejected"]) == {v.value for v in GateVerdict} - {"admitted", "exit_recorded", "annulled"}


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
_ANY_TIME = st.one_of(
    st.floats(min_value=TIME_MIN, max_value=TIME_MAX),
    st.floats(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([TIME_MIN, TIME_MAX, TIME_MIN - 0.001, TIME_MAX + 0.001, 1e12, -1e12]),
)
_NOW = object()  # sent_at: the real time of the push


@st.composite
def _push_bodies(draw, event_ids):
    """(sent_at, scans, valid scan ids): scans of any verdict, time, event and ticket id, plus
    valid ones (a known verdict, scanned up to a day before sending, for our event or none)."""
    sent_at = draw(_ANY_TIME) if draw(st.integers(0, 3)) == 0 else _NOW  # mostly a sane clock
    stamp = time.time() if sent_at is _NOW else sent_at
    scan_id = st.uuids().map(lambda u: u.hex)
    ids = st.integers(min_value=0, max_value=2**63 - 1)
    anything = st.fixed_dictionaries(
        {
            "scan_id": scan_id,
            "seq": ids,
            "wall_time": _ANY_TIME,
            "event_id": st.one_of(st.none(), st.sampled_from(event_ids), ids),
            "ticket_id": st.none() | ids,
            "verdict": st.one_of(st.sampled_from(VERDICTS), _TEXT),
            "reason": st.none() | _TEXT.map(lambda t: t[:40]),
        }
    )
    valid = st.fixed_dictionaries(
        {
            "scan_id": scan_id,
            "seq": ids,
            "event_id": st.sampled_from([event_ids[0], None]),
            "ticket_id": ids,
            "verdict": st.sampled_from(VERDICTS),
            "reason": st.none(),
            "wall_time": st.floats(min_value=0, max_value=86_400).map(
                lambda ago: max(stamp - ago, TIME_MIN) if plausible_time(stamp) else 0.0
            ),
        }
    )
    scans = draw(st.lists(st.one_of(anything, valid), max_size=40, unique_by=lambda s: s["scan_id"]))
    good = [
        s["scan_id"]
        for s in scans
        if s.get("reason") is None
        and s["verdict"] in VERDICTS
        and s["event_id"] in (event_ids[0], None)
        and plausible_time(s["wall_time"])
        and abs(stamp - s["wall_time"]) <= 86_400
        if plausible_time(stamp)
    ]
    return sent_at, scans, good


@pytest.fixture
def foreign_event_id(client, make_user):
    return create_event(client, make_user("organizer")[1], rows=1, seats=1)["id"]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_arbitrary_pushes_store_only_plausible_known_scans_and_every_valid_one(
    engine, event, gates, foreign_event_id, data
):
    a, _b = gates
    sent_at, scans, valid = data.draw(_push_bodies([event["id"], foreign_event_id]))
    sent_at = time.time() if sent_at is _NOW else sent_at
    control = a.scan(1, at=max(sent_at - 1, TIME_MIN))  # an admission just before sending: valid if sent_at is
    body = json.dumps({"sent_at": sent_at, "last_rtt_ms": 2, "backlog": 0, "scans": [control, *scans]}).encode()
    response = a.push([], body=body)
    assert response.status_code < 500, response.get_data(as_text=True)
    note_case(f"HTTP {response.status_code}, {'some' if valid else 'no'} valid scans besides the control")
    with engine.connect() as conn:
        stored = {r.scan_id: r for r in conn.execute(select(gate_scans).where(gate_scans.c.device_id == a.id))}
    for row in stored.values():  # whatever was pushed so far
        assert plausible_time(row.device_time) and plausible_time(row.corrected_time), row
        assert row.verdict in VERDICTS and row.event_id in (event["id"], None), row
    if plausible_time(sent_at):
        assert response.status_code == 200, response.get_data(as_text=True)
        assert set(response.json["acked"]) == {control["scan_id"]} | {s["scan_id"] for s in scans}
        assert {control["scan_id"], *valid} <= set(stored)
    else:
        assert response.status_code == 422 and response.json["error"]["code"] == "clock_out_of_range"
        assert control["scan_id"] not in stored


def test_a_refused_scan_wakes_no_dashboard_of_the_event_it_names(app, client, organizer, event, make_user):
    theirs = create_event(client, make_user("organizer")[1], rows=1, seats=1)
    ours_too = create_event(client, organizer, rows=1, seats=1)
    gate = FakeGate(client, organizer, event["id"], "Gate A")
    seen: list[int] = []

    def saw(event_id: int) -> bool:
        seen.extend(subscription.drain())
        return event_id in seen

    with notifier_for(app).subscribe() as subscription:
        assert gate.push([gate.scan(1, event_id=theirs["id"])]).json["rejected"][0]["code"] == "foreign_event"
        gate.push([gate.scan(2, event_id=ours_too["id"])])  # its ping comes after every ping of the first push
        wait_for(lambda: saw(ours_too["id"]), 30, "the second push's ping")
    assert event["id"] in seen and theirs["id"] not in seen
