"""A real `tickethub serve` process and a logged-in dashboard event-stream reader
(for the cross-process dashboard test and bench/bench_dashboard.py)."""

from __future__ import annotations

import queue
import re
import secrets
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import requests
import urllib3

from tests.e2e.harness import _base_env, command
from tests.support import free_port, wait_for

PASSWORD = "correct horse"


def prepared_hub(root: Path, database_url: str):
    """A migrated hub instance with its signing key, and the environment of `tickethub serve`
    processes sharing it: (app for in-process set-up, env)."""
    from hub import create_app
    from hub.db import upgrade

    instance = root / "instance"
    app = create_app(
        {"INSTANCE_PATH": str(instance), "DATABASE_URL": database_url, "SWEEP_INTERVAL_SECONDS": 0, "WEB_PAGES": False}
    )
    upgrade(app.extensions["tickethub.engine"])
    app.extensions["tickethub.keys"].ensure()
    env = {
        **_base_env(),
        "TICKETHUB_INSTANCE_PATH": str(instance),
        "TICKETHUB_DATABASE_URL": database_url,
        "TICKETHUB_SWEEP_INTERVAL_SECONDS": "0",
        "TICKETHUB_RATELIMIT_ENABLED": "false",
    }
    return app, env


@contextmanager
def postgres_database(server_url: str):
    """A fresh empty database on the server of ``server_url``; yields its URL, drops it after."""
    from tests.hub.conftest import _admin_pg, _with_database

    name = f"tg_live_{secrets.token_hex(4)}"
    with _admin_pg(server_url) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield _with_database(server_url, name)
    finally:
        with _admin_pg(server_url) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Hub:
    """`tickethub serve` on a free loopback port (already migrated: --no-upgrade)."""

    def __init__(self, tmp_path, name: str, env: dict):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"{name}.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*command("tickethub", "hub.cli"), "serve", "--port", str(self.port), "--threads", "8", "--no-upgrade"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait(self) -> Hub:
        wait_for(self._up, 60, f"tickethub serve on {self.url} (log {self.log})")
        return self

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"tickethub serve exited: {self.log.read_text()[-2000:]}")
        return requests.get(self.url + "/api/v1/keyring", timeout=2).ok

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def login(session: requests.Session, base: str, email: str) -> None:
    page = session.get(base + "/account/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    reply = session.post(
        base + "/account/login",
        data={"csrf_token": token, "email": email, "password": PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert reply.status_code == 302, reply.text[:300]


def read_events(response, into: queue.Queue) -> None:
    """Server-sent event names, as they arrive."""
    try:
        for line in response.iter_lines(decode_unicode=True):
            if line and line.startswith("event: "):
                into.put(line[len("event: ") :])
    except (requests.RequestException, urllib3.exceptions.HTTPError):
        pass  # the server went away: the test is over


def next_changed(events: queue.Queue, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if events.get(timeout=max(deadline - time.monotonic(), 0.01)) == "changed":
                return True
        except queue.Empty:
            break
    return False
