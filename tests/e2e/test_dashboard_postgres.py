"""Live updates across hub processes: two real `tickethub serve` processes on one PostgreSQL
database. A dashboard stream is open on process B; a gate pushes its admissions to
process A; B's stream announces the change (LISTEN/NOTIFY) and B's figures show it."""
from __future__ import annotations

import os
import queue
import secrets
import threading

import pytest
import requests

from hub.services import users
from tests.e2e.dashboard import PASSWORD, Hub, login, next_changed, read_events
from tests.e2e.harness import _base_env
from tests.hub.web.gates import LiveGate, sell_seats
from tests.hub.web.support import make_event
from tests.support import POSTGRES_URL_ENV, require

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def pg_database():
    url = os.environ.get(POSTGRES_URL_ENV)
    require(bool(url), f"{POSTGRES_URL_ENV} is not set")
    from tests.hub.conftest import _admin_pg, _with_database

    name = f"tg_live_{secrets.token_hex(4)}"
    with _admin_pg(url) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield _with_database(url, name)
    with _admin_pg(url) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_sync_received_by_process_a_reaches_a_dashboard_on_process_b(tmp_path, pg_database):
    from hub import create_app
    from hub.db import upgrade

    instance = tmp_path / "instance"
    app = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": pg_database, "SWEEP_INTERVAL_SECONDS": 0,
                      "AREAS": ""})
    engine = app.extensions["tickethub.engine"]
    upgrade(engine)
    app.extensions["tickethub.keys"].ensure()
    with engine.connect() as conn:
        organizer = users.create_user(conn, "org@example.org", PASSWORD, "organizer")
        event = make_event(conn, organizer["id"])
    tickets = sell_seats(app, engine, event["id"], [("A", "1", "1"), ("A", "1", "2")])
    env = {**_base_env(), "TICKETHUB_INSTANCE_PATH": str(instance), "TICKETHUB_DATABASE_URL": pg_database,
           "TICKETHUB_SWEEP_INTERVAL_SECONDS": "0", "TICKETHUB_RATELIMIT_ENABLED": "false"}
    hub_a = hub_b = gate = stream = reader = None
    try:
        hub_a, hub_b = Hub(tmp_path, "hub-a", env), Hub(tmp_path, "hub-b", env)  # both start at once
        hub_a.wait(), hub_b.wait()
        watcher = requests.Session()
        login(watcher, hub_b.url, "org@example.org")
        stream = watcher.get(f"{hub_b.url}/dashboard/events/{event['id']}/stream", stream=True, timeout=(5, 60))
        assert stream.status_code == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
        events: queue.Queue = queue.Queue()
        reader = threading.Thread(target=read_events, args=(stream, events), daemon=True)
        reader.start()
        # one "changed" on connecting, one when B's LISTEN connection is up: nothing can be missed after
        assert next_changed(events, 10) and next_changed(events, 10), "process B's stream did not start"

        gate = LiveGate(engine, hub_a.url, event["id"], "Gate A", tmp_path / "gate-a")  # enrols with A
        assert [gate.scan(t["code"]) for t in tickets] == ["admitted", "admitted"]
        assert gate.push().acked == 2  # to process A only
        assert next_changed(events, 5), "process B's dashboard heard nothing of A's sync"
        figures = watcher.get(f"{hub_b.url}/dashboard/events/{event['id']}/live.json", timeout=10).json()
        assert figures["admitted"] == 2 and figures["per_gate"][0]["name"] == "Gate A"
    finally:
        for process in (hub_a, hub_b):
            if process is not None:
                process.stop()  # ends B's stream: the reader thread returns
        if reader is not None:
            reader.join(10)
        if stream is not None:
            stream.close()
        if gate is not None:
            gate.close()
        engine.dispose()
