"""A real `tickethub serve` process and a logged-in dashboard event-stream reader
(for the cross-process dashboard test and bench/bench_dashboard.py)."""
from __future__ import annotations

import queue
import re
import subprocess
import time

import requests
import urllib3

from tests.e2e.harness import command, wait_for
from tests.support import free_port

PASSWORD = "correct horse"


class Hub:
    """`tickethub serve` on a free loopback port (already migrated: --no-upgrade)."""

    def __init__(self, tmp_path, name: str, env: dict):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"{name}.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([*command("tickethub", "hub.cli"), "serve", "--port", str(self.port),
                                          "--threads", "8", "--no-upgrade"],
                                         env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait(self) -> "Hub":
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
    reply = session.post(base + "/account/login", data={"csrf_token": token, "email": email, "password": PASSWORD},
                         allow_redirects=False, timeout=10)
    assert reply.status_code == 302, reply.text[:300]


def read_events(response, into: queue.Queue) -> None:
    """Server-sent event names, as they arrive."""
    try:
        for line in response.iter_lines(decode_unicode=True):
            if line and line.startswith("event: "):
                into.put(line[len("event: "):])
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
