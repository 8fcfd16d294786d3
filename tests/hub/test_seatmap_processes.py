"""Seat maps across hub processes (hub/services/seatmap_shared.py): two real `tickethub serve` processes
on one PostgreSQL database share one version sequence per event through Redis, so a seat sold on one
shows on the other's map within a second, and either answers ``?since=V`` for a version the other gave.
Needs TICKETHUB_TEST_POSTGRES_URL and TICKETHUB_TEST_REDIS_URL (skipped locally without them, a
failure under CI=true)."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import pytest
import requests

from hub.services import users
from tests.e2e.dashboard import PASSWORD, postgres_database, prepared_hub
from tests.e2e.harness import command
from tests.hub.web.support import make_event
from tests.support import POSTGRES_URL_ENV, free_port, require, wait_for

REDIS_URL_ENV = "TICKETHUB_TEST_REDIS_URL"


class Serve:
    def __init__(self, root, env: dict, name: str, stream_port: int = 0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / f"{name}.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    *command("tickethub", "hub.cli"),
                    "serve",
                    "--port",
                    str(self.port),
                    "--no-upgrade",
                    "--stream-port",
                    str(stream_port),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._up, 60, f"{name} on {self.url}")

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"tickethub serve exited: {self.log.read_text()[-2000:]}")
        return requests.get(self.url + "/api/v1/keyring", timeout=5).ok

    def get(self, path: str, **params) -> dict:
        answer = requests.get(self.url + path, params=params, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_URL_ENV)
    require(bool(url), f"{REDIS_URL_ENV} is not set (Redis for hub processes sharing seat maps)")
    return url


def test_a_seat_sold_on_one_process_shows_on_the_others_map_within_a_second(tmp_path, redis_url):
    require(bool(os.environ.get(POSTGRES_URL_ENV)), f"{POSTGRES_URL_ENV} is not set")
    with postgres_database(os.environ[POSTGRES_URL_ENV]) as database_url:
        app, env = prepared_hub(tmp_path, database_url)
        engine = app.extensions["tickethub.engine"]
        with engine.connect() as conn:
            organizer = users.create_user(conn, "org@example.org", PASSWORD, "organizer")
            event = make_event(conn, organizer["id"], price=0, fee=0, rows=4, seats=10)
        engine.dispose()
        env = {**env, "TICKETHUB_REDIS_URL": redis_url}
        stream_port = free_port()
        first, second = Serve(tmp_path, env, "first"), Serve(tmp_path, env, "second", stream_port)
        try:
            base = f"/api/v1/events/{event['id']}"
            version = second.get(f"{base}/seatmap/status")["version"]
            assert first.get(f"{base}/seatmap/status")["version"] == version  # one sequence for both
            stream = _stream(stream_port, f"{base}/seatmap/stream?since={version}")

            hold = requests.post(
                f"{first.url}{base}/holds", timeout=10, json={"seats": [{"section": "A", "row": "2", "seat": "3"}]}
            ).json()
            order = requests.post(
                f"{first.url}/api/v1/orders",
                timeout=10,
                json={
                    "hold_id": hold["hold_id"],
                    "hold_token": hold["hold_token"],
                    "buyer": {"name": "Buyer", "email": "buyer@example.org"},
                    "payment": {"method": "free"},
                },
            )
            assert order.status_code == 201
            sold_at = time.monotonic()
            wait_for(
                lambda: second.get(f"{base}/seats/A/2/3")["status"] == "sold",
                1.0,
                "the seat sold on the first process to show on the second's map",
            )
            assert time.monotonic() - sold_at < 1.0

            # a version the first process gave is one the second can answer for, and the other way round
            now = first.get(f"{base}/seatmap/status")["version"]
            assert second.get(f"{base}/seatmap/status")["version"] == now
            for process in (first, second):
                assert process.get(f"{base}/seatmap/changes", since=version)["changes"] == [[12, "s"]]
            wait_for(lambda: b'"changes":[[12,"s"]]' in stream.data, 10, "the sale on the second's stream")
        finally:
            first.stop()
            second.stop()


class _Reader:
    def __init__(self, sock: socket.socket):
        self.sock, self.data = sock, b""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.data += chunk
        except OSError:
            pass


def _stream(port: int, path: str) -> _Reader:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return _Reader(sock)
