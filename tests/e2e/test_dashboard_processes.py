"""Live updates across hub processes: two real `tickethub serve` processes on one database.
A dashboard stream is open on process B; a gate pushes its admissions to process A;
B's stream announces the change and B's figures show it. PostgreSQL carries the ping
by LISTEN/NOTIFY; on SQLite (`serve --workers N`) B's poller finds the new scans."""

from __future__ import annotations

import os
import queue
import threading

import pytest
import requests

from hub.services import users
from tests.e2e.dashboard import PASSWORD, Hub, login, next_changed, postgres_database, prepared_hub, read_events
from tests.hub.web.gates import LiveGate, sell_seats
from tests.hub.web.support import make_event
from tests.support import POSTGRES_URL_ENV, require

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.sqlite3'}"
        return
    url = os.environ.get(POSTGRES_URL_ENV)
    require(bool(url), f"{POSTGRES_URL_ENV} is not set")
    with postgres_database(url) as database_url:
        yield database_url


def test_a_sync_received_by_process_a_reaches_a_dashboard_on_process_b(tmp_path, database_url):
    app, env = prepared_hub(tmp_path, database_url)
    engine = app.extensions["tickethub.engine"]
    with engine.connect() as conn:
        organizer = users.create_user(conn, "org@example.org", PASSWORD, "organizer")
        event = make_event(conn, organizer["id"])
    tickets = sell_seats(app, engine, event["id"], [("A", "1", "1"), ("A", "1", "2")])
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
        # one "changed" on connecting, one when B's listener (LISTEN / poller) is up: nothing is missed after
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
