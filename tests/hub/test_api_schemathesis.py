"""Schemathesis over GET /api/v1/openapi.json against a real `tickethub serve`, on SQLite and PostgreSQL.

`st run` (a subprocess, so its report is the failure message) generates requests
for every documented operation from the document itself and checks that none
answers 5xx (`not_a_server_error`) and every documented answer matches its
schema (`response_schema_conformance`). The hub is seeded first with real
objects (a venue, an event with seated and GA ticket types, a promo code, a live hold, a paid
and a pending order, a pending device, an enrolled gate) and their ids, tokens
and seat labels are what the generated path parameters and token headers
mostly hold, so requests get past 404/403 to the code behind them; the
stateful phase follows the document's links (a hold just made is bought, the
order read, refunded, its ticket re-issued). Sync routes carry the enrolled
gate's credential; push bodies are signed by tests/hub/schemathesis_hooks.py.

Bounded for the suite (deterministic, few examples per operation, well under a
minute per backend). To hunt for bugs, run it with more and random examples:

    TICKETGATE_SCHEMATHESIS_EXAMPLES=300 TICKETGATE_SCHEMATHESIS_SEED=random \
        .venv/bin/python -m pytest tests/hub/test_api_schemathesis.py -p no:cacheprovider
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from tests.support import REPO, free_port, start_process, stop_process

HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
CHECKS = "not_a_server_error,response_schema_conformance"
PHASES = "examples,coverage,fuzzing,stateful"
DEFAULT_EXAMPLES = 50
DEFAULT_SEED = 20260501
# a real id this often; otherwise schemathesis' own values (unknown ids, extremes)
REAL_ID_PROBABILITY = 0.9


def _keypair() -> tuple[str, str]:
    """(base64 raw private key, base64 raw public key) of a fresh Ed25519 gate key."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(private).decode(), base64.b64encode(public).decode()


def seed(app) -> dict:
    """Real objects of one organizer, so generated requests reach the code behind 404 and 403."""
    from hub.services import devices, events, holds, orders, promos, users, venues
    from hub.services.clock import iso, utcnow

    now = utcnow()  # the served hub runs on the real clock: the event lies a month ahead of it
    signer = app.extensions["tickethub.keys"].current()
    with app.extensions["tickethub.engine"].connect() as conn:
        organizer = users.create_user(conn, "organizer@example.org", "correct horse", "organizer")
        _token_id, token = users.create_token(conn, organizer["id"], "schemathesis")
        venue = venues.create_venue(
            conn,
            {
                "name": "Hall",
                "sections": [{"name": "A", "rows": [{"name": "1", "seats": 40}, {"name": "2", "seats": 40}]}],
            },
            owner_id=organizer["id"],
        )
        event = events.create_event(
            conn,
            {
                "title": "Probe Night",
                "starts_at": iso(now + timedelta(days=30)),
                "ticket_release_at": iso(now - timedelta(hours=1)),
                "venue_id": venue["id"],
                "ticket_types": [
                    {"name": "Seat", "kind": "seated", "price": 0},
                    {"name": "Standing", "kind": "ga", "price": 0, "capacity": 10_000},
                ],
            },
            organizer_id=organizer["id"],
        )
        ga_type = next(t["id"] for t in event["ticket_types"] if t["kind"] == "ga")
        buyer = {"name": "Ada", "email": "ada@example.org"}

        def ga_hold(quantity: int) -> dict:
            return holds.hold_ga(conn, event["id"], ga_type, quantity, ttl_seconds=3600)

        hold = ga_hold(1)
        paid_hold = ga_hold(2)
        paid = orders.purchase(conn, paid_hold["hold_id"], paid_hold["hold_token"], buyer, "free", signer)
        pending_hold = ga_hold(1)
        pending = orders.purchase(
            conn, pending_hold["hold_id"], pending_hold["hold_token"], buyer, "box_office", signer
        )
        promo = promos.create_promo(conn, event["id"], "PROBE", "percent", 10)
        device, _enrolment = devices.create_device(conn, {"name": "Door 1", "event_id": event["id"]})
        _gate, gate_token = devices.create_device(conn, {"name": "Gate", "event_id": event["id"]})
        gate_private, gate_public = _keypair()
        _gate, credential = devices.enroll(conn, gate_token, gate_public)
    return {
        "token": token,
        "credential": credential,
        "gate_private_key": gate_private,
        "ids": {
            "venue_id": venue["id"],
            "event_id": event["id"],
            "hold_id": hold["hold_id"],
            "order_id": pending["id"],
            "ticket_id": paid["tickets"][0]["ticket_id"],
            "device_id": device["id"],
            "promo_id": promo["id"],
        },
        "ticket_type_ids": [t["id"] for t in event["ticket_types"]],
        "hold_token": hold["hold_token"],
        "pending_order_token": pending["access_token"],
        "paid_order_token": paid["access_token"],
    }


def _toml(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def config_text(base_url: str, seeded: dict) -> str:
    """schemathesis.toml: auth, and real ids and tokens as what parameters mostly hold."""
    lines = [
        f"base-url = {_toml(base_url)}",
        f"headers = {{ Authorization = {_toml('Bearer ' + seeded['token'])} }}",
        "",
    ]
    lines.append("[dictionaries]")
    for name, value in seeded["ids"].items():
        lines.append(f"{name} = {{ values = [{value}] }}")
    lines.append(f"ticket_type_id = {{ values = [{', '.join(map(str, seeded['ticket_type_ids']))}] }}")
    lines += ["", "[parameters]"]
    for name in [*seeded["ids"], "ticket_type_id"]:
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = {REAL_ID_PROBABILITY} }}')
    # request bodies naming existing objects get past "not found" to the rest of their validation
    # (a hold_id comes with its token from the hold just made: the stateful phase follows the OpenAPI links)
    for field, name in (
        ("venue_id", "venue_id"),
        ("event_id", "event_id"),
        ("ticket_type", "ticket_type_id"),
        ("ga.ticket_type", "ticket_type_id"),
    ):
        lines.append(f'"body.{field}" = {{ dictionary = "{name}", probability = {REAL_ID_PROBABILITY} }}')
    lines += [
        '"query.event_id" = { dictionary = "event_id", probability = 0.5 }',
        f'"header.X-Hold-Token" = {_toml(seeded["hold_token"])}',
        '"path.section" = "A"',
        '"path.row" = "1"',
        '"path.seat" = "1"',
        "",
    ]
    # the gate's routes take the enrolled gate's credential, not a user's token
    lines += [
        "[[operations]]",
        'include-path-regex = "^/api/v1/sync/"',
        f"headers = {{ Authorization = {_toml('Bearer ' + seeded['credential'])} }}",
        "",
    ]
    # an order's buyer token: the pending order's for /orders/{id}, the paid one's for its tickets
    for path_regex, token in (
        ("^/api/v1/orders/", seeded["pending_order_token"]),
        ("^/api/v1/tickets/", seeded["paid_order_token"]),
    ):
        lines += [
            "[[operations]]",
            f"include-path-regex = {_toml(path_regex)}",
            f'parameters = {{ "header.X-Order-Token" = {_toml(token)}, "query.access_token" = {_toml(token)} }}',
            "",
        ]
    return "\n".join(lines)


class ServedHub:
    """`tickethub serve` on a free loopback port over its own instance folder and the given database."""

    def __init__(self, root: Path, database_url: str):
        self.instance = root / "instance"
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = root / "hub.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETHUB_")}
        self.env = {
            **env,
            "TICKETHUB_INSTANCE_PATH": str(self.instance),
            "TICKETHUB_DATABASE_URL": database_url,
            "TICKETHUB_RATELIMIT_ENABLED": "false",
            "TICKETHUB_SWEEP_INTERVAL_SECONDS": "0",
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
        }
        self.proc: subprocess.Popen | None = None

    def app(self):
        from hub import create_app

        app = create_app(
            {
                "INSTANCE_PATH": str(self.instance),
                "DATABASE_URL": self.env["TICKETHUB_DATABASE_URL"],
                "SWEEP_INTERVAL_SECONDS": 0,
            }
        )
        app.extensions["tickethub.keys"].ensure()
        return app

    def start(self) -> None:
        port = self.url.rsplit(":", 1)[1]
        self.proc = start_process(
            [sys.executable, "-m", "hub.cli", "serve", "--port", port, "--threads", "4"],
            env=self.env,
            log=self.log,
            ready_url=self.url + "/api/v1/openapi.json",
            what="tickethub serve",
            cwd=REPO,
        )

    def stop(self) -> None:
        stop_process(self.proc)


@pytest.fixture
def served(database_url, tmp_path):
    hub = ServedHub(tmp_path, database_url)
    app = hub.app()
    try:
        seeded = seed(app)
    finally:
        app.extensions["tickethub.engine"].dispose()
    hub.start()
    yield hub, seeded
    hub.stop()


def _run_settings() -> tuple[int, list[str]]:
    examples = int(os.environ.get("TICKETGATE_SCHEMATHESIS_EXAMPLES", DEFAULT_EXAMPLES))
    seed_value = os.environ.get("TICKETGATE_SCHEMATHESIS_SEED", str(DEFAULT_SEED))
    if seed_value == "random":
        return examples, ["--generation-database", "none"]
    return examples, ["--seed", seed_value, "--generation-deterministic"]


@pytest.mark.timeout(600)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(served, tmp_path):
    hub, seeded = served
    config = tmp_path / "schemathesis.toml"
    config.write_text(config_text(hub.url, seeded), "utf-8")
    examples, seed_args = _run_settings()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "SCHEMATHESIS_DEVICE_KEY": seeded["gate_private_key"],
    }
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "--no-color",
        "run",
        hub.url + "/api/v1/openapi.json",
        "--checks",
        CHECKS,
        "--phases",
        PHASES,
        "--max-examples",
        str(examples),
        *seed_args,
        "--workers",
        "1",
        "--request-timeout",
        "30",
    ]
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=540)
    print(result.stdout[-4000:])  # the run's summary (shown with -s or -rP)
    hub_log = hub.log.read_text("utf-8", "replace")
    tracebacks = hub_log.count("Traceback (most recent call last)")
    assert result.returncode == 0 and tracebacks == 0, (
        f"schemathesis exited {result.returncode}; {tracebacks} traceback(s) in the hub log\n"
        f"{result.stdout[-20000:]}\n{result.stderr[-3000:]}\n--- hub log (end) ---\n{hub_log[-6000:]}"
    )
    # every documented operation was exercised, none skipped
    selected, total = map(int, re.search(r"Selected: (\d+)/(\d+)", result.stdout).groups())
    tested = int(re.search(r"Tested: (\d+)", result.stdout).group(1))
    assert selected == total == tested >= 30, result.stdout[-4000:]
