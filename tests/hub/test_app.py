"""Application factory, configuration layers, JSON errors, OpenAPI coverage, input fuzzing."""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import create_app
from hub.config import load_config

from .helpers import create_event


def test_config_layers_defaults_file_env_overrides(tmp_path):
    (tmp_path / "tickethub.toml").write_text('hold_ttl_seconds = 120\nhold_max_seats = 4\nsecret_key = "f"\n')
    config = load_config(tmp_path, environ={})
    assert (config["HOLD_TTL_SECONDS"], config["HOLD_MAX_SEATS"], config["SWEEP_INTERVAL_SECONDS"]) == (120, 4, 30)
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'tickethub.sqlite3'}"
    assert config["KEYS_DIR"] == str(tmp_path / "keys")
    env = {"TICKETHUB_HOLD_TTL_SECONDS": "300", "TICKETHUB_RATELIMIT_ENABLED": "false"}
    config = load_config(tmp_path, environ=env)
    assert config["HOLD_TTL_SECONDS"] == 300 and config["RATELIMIT_ENABLED"] is False
    assert config["HOLD_MAX_SEATS"] == 4
    assert load_config(tmp_path, {"HOLD_TTL_SECONDS": 60}, environ=env)["HOLD_TTL_SECONDS"] == 60
    try:
        load_config(tmp_path, environ={"TICKETHUB_HOLD_TTL_SECONDS": "ten"})
    except ValueError as exc:
        assert "TICKETHUB_HOLD_TTL_SECONDS" in str(exc)
    else:
        raise AssertionError("a non-integer was accepted")


def test_factory_uses_instance_folder_and_creates_a_signing_key(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "AREAS": ""})
    assert app.config["DATABASE_URL"].endswith("/inst/tickethub.sqlite3")
    ring = app.test_client().get("/api/v1/keyring").json
    assert ring["type"] == "ticketgate.keyring" and len(ring["keys"]) == 1
    assert list((tmp_path / "inst" / "keys").glob("*.pem"))  # private key stays in the instance folder
    assert "private" not in json.dumps(ring).lower()


def test_errors_are_json_never_500(client, organizer):
    cases = [
        client.post("/api/v1/orders", data="{not json", content_type="application/json"),
        client.post("/api/v1/orders", data="[1, 2]", content_type="application/json"),
        client.post("/api/v1/orders", data=""),
        client.post("/api/v1/venues", data='"x"', headers=organizer),
        client.get("/api/v1/no-such-route"),
        client.put("/api/v1/events"),
        client.get("/api/v1/events/abc"),
        client.get("/api/v1/events/99"),
        client.post("/api/v1/orders", data="x" * 300_000, content_type="application/json"),
    ]
    statuses = [r.status_code for r in cases]
    assert statuses == [400, 400, 400, 400, 404, 405, 404, 404, 413]
    for response in cases:
        assert set(response.json["error"]) == {"code", "message"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                         lambda children: st.lists(children, max_size=4)
                         | st.dictionaries(st.sampled_from(["seats", "best_available", "ga", "count", "section", "row",
                                                            "seat", "ttl_seconds", "quantity", "ticket_type",
                                                            "hold_id", "hold_token", "buyer", "payment", "name",
                                                            "sections", "rows", "title", "x"]), children, max_size=5),
                         max_leaves=12))
def test_fuzzed_bodies_get_4xx(fuzz_client, body):
    client, headers, event_id = fuzz_client
    for url in (f"/api/v1/events/{event_id}/holds", "/api/v1/orders", "/api/v1/venues", "/api/v1/events"):
        response = client.post(url, json=body, headers=headers)
        assert response.status_code in (201, 400, 404, 409, 413, 422), (url, body, response.json)
        if response.status_code >= 400:
            assert set(response.json["error"]) == {"code", "message"}



@pytest.fixture
def fuzz_client(client, organizer):
    event = create_event(client, organizer, rows=2, seats=5, ga_capacity=10)
    return client, organizer, event["id"]


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_openapi_lists_every_api_route(tmp_path):
    # the full app, with every area that registers routes under /api/v1
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    doc = app.test_client().get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = _openapi_path(rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in doc["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert missing == []
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["responses"], path


def test_signing_key_is_encrypted_with_the_passphrase(tmp_path):
    from common.signing import Keyring, SigningKey, sign_ticket, verify_ticket

    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "AREAS": "", "KEY_PASSPHRASE": "s3cret pass"})
    key = app.extensions["tickethub.keys"].ensure()
    [pem] = (tmp_path / "inst" / "keys").glob("*.pem")
    assert pem.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert SigningKey.load(pem, b"s3cret pass").kid == key.kid
    # the same key object is reused: loaded once per app, not per ticket
    assert app.extensions["tickethub.keys"].current() is key
    text = sign_ticket(key, event_id=1, ticket_id=2, ticket_type=3)
    ring = Keyring.from_document(app.test_client().get("/api/v1/keyring").json)
    assert verify_ticket(text, ring, 0).valid
