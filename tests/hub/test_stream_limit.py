"""Live dashboard streams cannot starve the hub (security probe, issue #10 finding 8).

Under waitress each open stream holds a worker thread. More streams than threads are opened
against a real server; the streams past the cap get 503 + Retry-After at once, while a purchase
over the API, a real gate's push and pull, and the storefront keep answering. Closed streams give
their slots back; a stream ends itself after its lifetime. On SQLite and PostgreSQL, plus one
real `tickethub serve` process whose cap comes from its --threads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import requests

from hub.services import users
from hub.services.live import notifier_for, slots_for
from tests.e2e.dashboard import PASSWORD, Hub, login, prepared_hub
from tests.hub.web.gates import LiveGate
from tests.hub.web.support import make_event
from tests.support import free_port, wait_for

LIVE_SERVER_THREADS = 16  # the live_server fixture's waitress pool
TIMEOUT = (5, 30)  # generous; on a starved server these calls get no answer at all
RETRY_SECONDS = 7


@pytest.fixture
def app_config(app_config):
    # Idle streams write every second, so the server notices a client that went away within seconds.
    return {**app_config, "DASHBOARD_TICK_SECONDS": 1, "STREAM_RETRY_SECONDS": RETRY_SECONDS}


@pytest.fixture
def night(app, engine):
    """A free event one hour away, owned by org@example.org."""
    with engine.connect() as conn:
        organizer = users.create_user(conn, "org@example.org", PASSWORD, "organizer")
        event = make_event(conn, organizer["id"], price=0, fee=0, starts_in=timedelta(hours=1))
    yield event
    notifier_for(app).close()  # ends the streams still open before the server stops


def _open_streams(url: str, cookies, count: int) -> list[requests.Response]:
    """``count`` streams, each on its own connection, left open (only their headers are read)."""
    return [requests.get(url, cookies=cookies, stream=True, timeout=TIMEOUT) for _ in range(count)]


def _read_until(lines, wanted: str, deadline_s: float = 30) -> list[str]:
    """Lines of an open stream (``lines``: its one line iterator) up to and including ``wanted``.
    Ticks arrive every second, so the deadline is checked at least that often."""
    deadline = time.monotonic() + deadline_s
    seen = []
    for line in lines:
        seen.append(line)
        if line == wanted:
            return seen
        assert time.monotonic() < deadline, f"no {wanted!r} on the stream: {seen[-5:]}"
    raise AssertionError(f"the stream ended before {wanted!r}: {seen[-5:]}")


def _buy_one(base: str, event_id: int) -> dict:
    """A hold and a free order over the API."""
    hold = requests.post(
        f"{base}/api/v1/events/{event_id}/holds", json={"best_available": {"count": 1}}, timeout=TIMEOUT
    )
    assert hold.status_code == 201, hold.text
    order = requests.post(
        f"{base}/api/v1/orders",
        timeout=TIMEOUT,
        json={
            "hold_id": hold.json()["hold_id"],
            "hold_token": hold.json()["hold_token"],
            "buyer": {"name": "Late Buyer", "email": "late@example.org"},
            "payment": {"method": "free"},
        },
    )
    assert order.status_code == 201, order.text
    return order.json()


def test_more_streams_than_threads_leave_sales_sync_and_the_storefront_answering(
    live_server, app, engine, night, tmp_path
):
    gate = LiveGate(engine, live_server, night["id"], "Gate A", tmp_path / "gate-a")  # enrolled before the rush
    watcher = requests.Session()
    login(watcher, live_server, "org@example.org")
    stream_url = f"{live_server}/dashboard/events/{night['id']}/stream"
    limit = slots_for(app).limit
    assert 0 < limit <= LIVE_SERVER_THREADS // 4  # the default leaves most of the pool to requests
    streams = []
    try:
        streams = _open_streams(stream_url, watcher.cookies, LIVE_SERVER_THREADS + 4)
        held = [s for s in streams if s.status_code == 200]
        refused = [s for s in streams if s.status_code != 200]
        assert len(held) == limit and all(s.headers["Content-Type"].startswith("text/event-stream") for s in held)
        assert {(s.status_code, s.headers.get("Retry-After")) for s in refused} == {(503, str(RETRY_SECONDS))}

        # Every open stream slot is taken, and more streams than threads were asked for: the rest still answers.
        order = _buy_one(live_server, night["id"])
        assert gate.scan(order["tickets"][0]["code"]) == "admitted"
        assert gate.push().acked == 1
        assert gate.client.pull_once().cursor >= 1  # raises SyncError when the hub does not answer
        storefront = requests.get(f"{live_server}/", timeout=TIMEOUT)
        assert storefront.status_code == 200 and night["title"] in storefront.text
        # ... and the held streams are real, working streams (each delivers a second "changed": the push)
        for stream in held:
            lines = stream.iter_lines(decode_unicode=True)
            assert _read_until(lines, "event: changed")[:2] == ["retry: 1000", ""]
            _read_until(lines, "event: changed")

        for stream in streams:
            stream.close()
        wait_for(lambda: slots_for(app).open == 0, 30, "the server to notice the closed streams")
        again = _open_streams(stream_url, watcher.cookies, limit)
        streams += again
        assert [s.status_code for s in again] == [200] * limit
    finally:
        for stream in streams:
            stream.close()
        gate.close()


def test_a_stream_ends_itself_after_its_lifetime_and_gives_its_slot_back(live_server, app, night):
    app.config["STREAM_LIFETIME_SECONDS"] = 1
    watcher = requests.Session()
    login(watcher, live_server, "org@example.org")
    with watcher.get(f"{live_server}/dashboard/events/{night['id']}/stream", stream=True, timeout=TIMEOUT) as stream:
        assert stream.status_code == 200
        deadline = time.monotonic() + 30
        lines = []
        for line in stream.iter_lines(decode_unicode=True):  # ends when the server ends the stream
            lines.append(line)
            assert time.monotonic() < deadline, f"the stream outlived its lifetime: {lines[-5:]}"
    assert lines[:4] == ["retry: 1000", "", "event: changed", f"data: {night['id']}"]
    wait_for(lambda: slots_for(app).open == 0, 10, "the ended stream to give its slot back")


def test_serve_caps_streams_at_a_quarter_of_its_threads(tmp_path):
    """A real `tickethub serve --threads 8` process: two streams at most, the rest refused, the API answers."""
    app, env = prepared_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    engine = app.extensions["tickethub.engine"]
    with engine.connect() as conn:
        organizer = users.create_user(conn, "org@example.org", PASSWORD, "organizer")
        event = make_event(conn, organizer["id"], price=0, fee=0)
    engine.dispose()
    hub = Hub(tmp_path, "hub", {**env, "TICKETHUB_DASHBOARD_TICK_SECONDS": "1"})  # --threads 8
    streams = []
    try:
        hub.wait()
        watcher = requests.Session()
        login(watcher, hub.url, "org@example.org")
        streams = _open_streams(f"{hub.url}/dashboard/events/{event['id']}/stream", watcher.cookies, 8 + 2)
        assert sorted(s.status_code for s in streams) == [200] * 2 + [503] * 8
        assert "up to 2 live stream(s) each" in hub.log.read_text()
        assert _buy_one(hub.url, event["id"])["status"] == "paid"
    finally:
        for stream in streams:
            stream.close()
        hub.stop()


def test_serve_refuses_a_negative_max_streams_in_one_line(tmp_path):
    env = {**os.environ, "TICKETHUB_INSTANCE_PATH": str(tmp_path / "inst"), "TICKETHUB_MAX_STREAMS": "-1"}
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )  # a server that started fails by timing out
    assert result.returncode == 1 and "MAX_STREAMS must be 0" in result.stderr and "Traceback" not in result.stderr
