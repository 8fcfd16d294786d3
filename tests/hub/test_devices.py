"""Gate devices: creation, one-time enrolment, credentials, management and the CLI (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import threading
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.signing import Keyring, RevocationList
from hub.services import devices as device_service
from hub.services.clock import utcnow
from tests.hub.helpers import create_event


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@pytest.fixture
def event(client, organizer):
    return create_event(client, organizer, rows=2, seats=3)


def new_device(client, headers, event_id, **fields):
    response = client.post("/api/v1/devices", json={"name": "Gate A", "event_id": event_id, **fields}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def test_enrolment_returns_credential_keyring_revocations_and_config_once(client, organizer, event):
    created = new_device(client, organizer, event["id"], zones=[2, 1], direction="entry")
    assert created["device"]["status"] == "pending"
    assert created["enrolment_qr_text"].startswith("TGE1:" + created["enrolment_token"] + "@http")
    key = Ed25519PrivateKey.generate()
    response = client.post(
        "/api/v1/enrol", json={"token": created["enrolment_token"], "public_key": public_key_b64(key)}
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["device"]["status"] == "active" and body["credential"].startswith("td_")
    keyring = Keyring.from_document(body["keyring"])
    RevocationList.from_document(body["revocations"], keyring)  # signed by the hub's key
    config = body["config"]
    assert config["gate_name"] == "Gate A" and config["zones"] == [1, 2]
    assert config["events"][0]["event_id"] == event["id"]
    assert len(config["events"][0]["seat_labels"]) == 6
    again = client.post("/api/v1/enrol", json={"token": created["enrolment_token"], "public_key": public_key_b64(key)})
    assert again.status_code == 401 and again.json["error"]["code"] == "enrolment_token_used"


def test_credential_is_stored_only_as_a_hash(client, organizer, event, engine):
    created = new_device(client, organizer, event["id"])
    body = client.post(
        "/api/v1/enrol",
        json={"token": created["enrolment_token"], "public_key": public_key_b64(Ed25519PrivateKey.generate())},
    ).json
    from hub.schema_devices import devices, enrolment_tokens

    with engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(devices.select())] + [
            tuple(r) for r in conn.execute(enrolment_tokens.select())
        ]
    flat = " ".join(map(str, stored))
    assert body["credential"] not in flat and created["enrolment_token"] not in flat
    assert device_service.hash_secret(body["credential"]) in flat


def test_expired_and_unknown_tokens_are_refused(engine, client, organizer, event):
    with engine.connect() as conn:
        _device, token = device_service.create_device(
            conn, {"name": "Old", "event_id": event["id"]}, now=utcnow() - timedelta(days=2)
        )
    key = public_key_b64(Ed25519PrivateKey.generate())
    expired = client.post("/api/v1/enrol", json={"token": token, "public_key": key})
    assert expired.status_code == 401 and expired.json["error"]["code"] == "enrolment_token_expired"
    unknown = client.post("/api/v1/enrol", json={"token": "te_nope", "public_key": key})
    assert unknown.json["error"]["code"] == "enrolment_token_invalid"
    bad_key = client.post("/api/v1/enrol", json={"token": token, "public_key": "not base64!"})
    assert bad_key.status_code == 422 and bad_key.json["error"]["code"] == "invalid_public_key"


def test_a_token_works_once_even_when_redeemed_concurrently(app, client, organizer, event):
    token = new_device(client, organizer, event["id"])["enrolment_token"]
    results = []

    def redeem():
        with app.test_client() as c:
            results.append(
                c.post(
                    "/api/v1/enrol", json={"token": token, "public_key": public_key_b64(Ed25519PrivateKey.generate())}
                ).status_code
            )

    threads = [threading.Thread(target=redeem) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] + [401] * 5


def test_rename_reassign_and_revoke(client, organizer, event, make_user):
    created = new_device(client, organizer, event["id"])
    device_id = created["device"]["id"]
    body = client.post(
        "/api/v1/enrol",
        json={"token": created["enrolment_token"], "public_key": public_key_b64(Ed25519PrivateKey.generate())},
    ).json
    auth = {"Authorization": f"Bearer {body['credential']}"}
    version = body["device"]["config_version"]
    changed = client.patch(
        f"/api/v1/devices/{device_id}", json={"name": "North", "direction": "exit", "zones": [3]}, headers=organizer
    )
    assert changed.status_code == 200 and changed.json["config_version"] == version + 1
    pulled = client.get(f"/api/v1/sync/pull?config_version={version}", headers=auth).json
    assert pulled["config"]["gate_name"] == "North" and pulled["config"]["direction"] == "exit"
    listed = client.get(f"/api/v1/devices?event_id={event['id']}", headers=organizer).json["items"]
    assert [d["name"] for d in listed] == ["North"]
    _other, stranger = make_user("organizer")
    assert client.post(f"/api/v1/devices/{device_id}/revoke", headers=stranger).status_code == 403
    assert client.get("/api/v1/devices", headers=stranger).json["items"] == []
    revoked = client.post(f"/api/v1/devices/{device_id}/revoke", headers=organizer)
    assert revoked.json["status"] == "revoked"
    denied = client.get("/api/v1/sync/pull", headers=auth)
    assert denied.status_code == 401 and denied.json["error"]["code"] == "device_revoked"
    assert client.patch(f"/api/v1/devices/{device_id}", json={"name": "x"}, headers=organizer).status_code == 409


def test_device_routes_need_an_organizer(client, make_user, event):
    _user, customer = make_user("customer")
    assert client.post("/api/v1/devices", json={"name": "G", "event_id": event["id"]}).status_code == 401
    assert (
        client.post("/api/v1/devices", json={"name": "G", "event_id": event["id"]}, headers=customer).status_code == 403
    )
    assert (
        client.get("/api/v1/sync/pull", headers={"Authorization": "Bearer td_unknown"}).json["error"]["code"]
        == "device_unknown"
    )


@pytest.mark.parametrize("event_id", [2**64, 10**30, 0, -1])
def test_event_ids_beyond_the_database_get_a_422_on_create_and_reassign(client, organizer, event, event_id):
    created = client.post("/api/v1/devices", json={"name": "G", "event_id": event_id}, headers=organizer)
    assert created.status_code == 422 and created.json["error"]["code"] == "invalid_field"
    device_id = new_device(client, organizer, event["id"])["device"]["id"]
    moved = client.patch(f"/api/v1/devices/{device_id}", json={"event_id": event_id}, headers=organizer)
    assert moved.status_code == 422 and moved.json["error"]["code"] == "invalid_field"
    assert client.get(f"/api/v1/devices/{device_id}", headers=organizer).json["event_id"] == event["id"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.text(max_size=30),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    )
)
def test_enrol_bodies_never_cause_a_server_error(client, value):
    response = client.post("/api/v1/enrol", json={"token": value, "public_key": value})
    assert 400 <= response.status_code < 500 and "error" in response.json


def test_cli_creates_a_device_with_token_and_qr(runner, client, organizer, event, tmp_path):
    qr = tmp_path / "enrol.png"
    result = runner.invoke(
        [
            "devices",
            "create",
            "--name",
            "Gate C",
            "--event",
            str(event["id"]),
            "--zones",
            "1,2",
            "--hub-url",
            "http://hub.example:8080",
            "--qr",
            str(qr),
        ]
    )
    assert result.exit_code == 0, result.output
    token = next(w for w in result.output.split() if w.startswith("te_"))
    import cv2

    from gate_agent.scanner import make_decoder

    texts = make_decoder("zxing").decode(cv2.imread(str(qr)))
    assert texts == [f"TGE1:{token}@http://hub.example:8080"]
    listed = runner.invoke(["devices", "list", "--event", str(event["id"])])
    assert "Gate C" in listed.output and "pending" in listed.output
    device_id = client.get("/api/v1/devices", headers=organizer).json["items"][0]["id"]
    assert runner.invoke(["devices", "revoke", str(device_id)]).exit_code == 0
    enrol = client.post(
        "/api/v1/enrol", json={"token": token, "public_key": public_key_b64(Ed25519PrivateKey.generate())}
    )
    assert enrol.status_code == 401  # revoking also spends its unused tokens
