"""Application factory, configuration layers, JSON errors, OpenAPI coverage, input fuzzing."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import create_app
from hub.config import load_config

from .helpers import assert_documented, buy, create_event, ga_type


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
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "WEB_PAGES": False})
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
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "seats",
                        "best_available",
                        "ga",
                        "count",
                        "section",
                        "row",
                        "seat",
                        "ttl_seconds",
                        "quantity",
                        "ticket_type",
                        "hold_id",
                        "hold_token",
                        "buyer",
                        "payment",
                        "name",
                        "sections",
                        "rows",
                        "title",
                        "x",
                    ]
                ),
                children,
                max_size=5,
            )
        ),
        max_leaves=12,
    )
)
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


def test_openapi_documents_general_admission_events_and_tickets_as_they_are(client, organizer):
    # found by tests/hub/test_api_schemathesis.py: a GA-only event has no venue (venue_id null) and a GA
    # ticket no seat (seat null), where the document promised an integer and a Seat object
    event = client.post(
        "/api/v1/events",
        headers=organizer,
        json={
            "title": "Open Air",
            "starts_at": "2031-06-01T18:00:00Z",
            "ticket_types": [{"name": "Standing", "kind": "ga", "price": 0, "capacity": 10}],
        },
    )
    assert event.status_code == 201 and event.json["venue_id"] is None
    assert_documented(client, "POST", "/api/v1/events", event)
    assert_documented(client, "GET", "/api/v1/events/{event_id}", client.get(f"/api/v1/events/{event.json['id']}"))
    hold = client.post(
        f"/api/v1/events/{event.json['id']}/holds", json={"ga": {"ticket_type": ga_type(event.json), "quantity": 1}}
    ).json
    order = buy(client, hold)
    assert order.status_code == 201 and order.json["tickets"][0]["seat"] is None
    assert_documented(client, "POST", "/api/v1/orders", order)
    ticket = client.get(f"/api/v1/tickets/{order.json['tickets'][0]['ticket_id']}", headers=organizer)
    assert_documented(client, "GET", "/api/v1/tickets/{ticket_id}", ticket)
    listed = client.get(f"/api/v1/events/{event.json['id']}/orders", headers=organizer)
    assert_documented(client, "GET", "/api/v1/events/{event_id}/orders", listed)


def test_signing_key_is_encrypted_with_the_passphrase(tmp_path):
    from common.signing import Keyring, SigningKey, sign_ticket, verify_ticket

    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "WEB_PAGES": False, "KEY_PASSPHRASE": "s3cret pass"})
    key = app.extensions["tickethub.keys"].ensure()
    [pem] = (tmp_path / "inst" / "keys").glob("*.pem")
    assert pem.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert SigningKey.load(pem, b"s3cret pass").kid == key.kid
    # the same key object is reused: loaded once per app, not per ticket
    assert app.extensions["tickethub.keys"].current() is key
    text = sign_ticket(key, event_id=1, ticket_id=2, ticket_type=3)
    ring = Keyring.from_document(app.test_client().get("/api/v1/keyring").json)
    assert verify_ticket(text, ring, 0).valid


def test_config_file_and_variable_mistakes_are_named(tmp_path):
    from hub.config import ConfigError

    (tmp_path / "broken.toml").write_text("hold_ttl_seconds 120\n")
    (tmp_path / "typed.toml").write_text('hold_ttl_seconds = "120"\n')
    (tmp_path / "typo.toml").write_text("hold_ttl_secs = 120\n")
    mistakes = {
        "hold_ttl_secs is not a hub setting \\(did you mean hold_ttl_seconds\\?\\)": {
            "TICKETHUB_CONFIG": str(tmp_path / "typo.toml")
        },
        "not valid TOML": {"TICKETHUB_CONFIG": str(tmp_path / "broken.toml")},
        "hold_ttl_seconds must be an integer": {"TICKETHUB_CONFIG": str(tmp_path / "typed.toml")},
        "which is not a file": {"TICKETHUB_CONFIG": str(tmp_path / "missing.toml")},
        "TICKETHUB_RATELIMIT_ENABLED must be true or false": {"TICKETHUB_RATELIMIT_ENABLED": "maybe"},
    }
    for expected, environ in mistakes.items():
        with pytest.raises(ConfigError, match=expected):
            load_config(tmp_path, environ=environ)


def test_a_mistyped_variable_is_logged_with_the_setting_it_resembles(tmp_path, caplog):
    with caplog.at_level("WARNING", logger="hub.config"):
        config = load_config(
            tmp_path,
            environ={
                "TICKETHUB_HOLD_TTL_SECOND": "60",
                "TICKETHUB_TEST_POSTGRES_URL": "x",
                "TICKETHUB_CONFIG_DIR": "x",
            },
        )
    assert config["HOLD_TTL_SECONDS"] == 600
    warned = [r.getMessage() for r in caplog.records]
    assert any("TICKETHUB_HOLD_TTL_SECOND is not a hub setting (did you mean hold_ttl_seconds?)" in m for m in warned)
    assert not any("TEST_POSTGRES" in m for m in warned)


def test_an_unmigrated_database_answers_503_naming_the_fix(tmp_path):
    from hub.db import upgrade

    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "SWEEP_INTERVAL_SECONDS": 0})
    client = app.test_client()
    for path in ("/api/v1/events", "/api/v1/events/1/seats", "/api/v1/no-such-route"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.json["error"]["code"] == "database_not_migrated"
        assert "tickethub db upgrade" in response.json["error"]["message"]
    page = client.get("/")  # the web pages say so too, instead of a 500
    assert page.status_code == 503 and b"tickethub db upgrade" in page.data
    upgrade(app.extensions["tickethub.engine"])
    assert client.get("/api/v1/events").status_code == 200
    app.extensions["tickethub.engine"].dispose()


def test_an_unreachable_database_is_503_json(tmp_path):
    from tests.support import free_port

    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=5"
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "DATABASE_URL": url, "SWEEP_INTERVAL_SECONDS": 0})
    response = app.test_client().get("/api/v1/events")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json["error"]["code"] == "database_unavailable"


def test_ids_beyond_the_database_integer_range_are_4xx(client, organizer):
    event = create_event(client, organizer, rows=1, seats=2, ga_capacity=5)
    huge = 10**20
    ga_type = next(t["id"] for t in event["ticket_types"] if t["kind"] == "ga")
    cases = {
        f"/api/v1/events/{huge}": client.get(f"/api/v1/events/{huge}"),
        f"/api/v1/venues/{huge}": client.get(f"/api/v1/venues/{huge}", headers=organizer),
        f"/api/v1/orders/{huge}": client.get(f"/api/v1/orders/{huge}"),
        "hold ga.ticket_type": client.post(
            f"/api/v1/events/{event['id']}/holds", json={"ga": {"ticket_type": huge, "quantity": 1}}
        ),
        "order hold_id": client.post(
            "/api/v1/orders",
            json={
                "hold_id": huge,
                "hold_token": "t",
                "buyer": {"name": "B", "email": "b@example.org"},
                "payment": {"method": "free"},
            },
        ),
        "event venue_id": client.post(
            "/api/v1/events",
            headers=organizer,
            json={"title": "T", "starts_at": "2031-01-01T20:00:00Z", "venue_id": huge, "ticket_types": []},
        ),
    }
    assert {name: r.status_code for name, r in cases.items()} == {
        f"/api/v1/events/{huge}": 404,
        f"/api/v1/venues/{huge}": 404,
        f"/api/v1/orders/{huge}": 404,
        "hold ga.ticket_type": 422,
        "order hold_id": 422,
        "event venue_id": 422,
    }
    for response in cases.values():
        assert set(response.json["error"]) == {"code", "message"}
    # the largest storable id is still an ordinary "not found"
    assert (
        client.post(
            f"/api/v1/events/{event['id']}/holds", json={"ga": {"ticket_type": 2**63 - 1, "quantity": 1}}
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/events/{event['id']}/seats").json["num_available"] == 2
    assert (
        client.post(
            f"/api/v1/events/{event['id']}/holds", json={"ga": {"ticket_type": ga_type, "quantity": 1}}
        ).status_code
        == 201
    )


def test_sqlite_storage_is_wal_with_busy_timeout_and_immediate_write_transactions(tmp_path):
    import sqlite3

    from hub.db import atomic, make_engine

    path = tmp_path / "hub.sqlite3"
    engine = make_engine(f"sqlite:///{path}", busy_timeout_ms=1234)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        with atomic(conn):
            # the write lock is taken at BEGIN, before this transaction has written anything
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        other.execute("BEGIN IMMEDIATE")  # free again after the commit
        other.execute("ROLLBACK")
        other.close()
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    engine.dispose()


def test_a_hub_with_rate_limits_off_starts_and_answers(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "RATELIMIT_ENABLED": False, "SWEEP_INTERVAL_SECONDS": 0})
    assert app.test_client().get("/api/v1/keyring").status_code in (200, 503)
    app.extensions["tickethub.engine"].dispose()
