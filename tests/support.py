"""Helpers for tests (import as ``from tests.support import ...``)."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

REPO = Path(__file__).resolve().parent.parent
QR_PHOTOS = REPO.parent / "shared" / "qr-photos"
POSTGRES_URL_ENV = "TICKETHUB_TEST_POSTGRES_URL"


def require(condition: bool, reason: str) -> None:
    """Skip (or, under CI=true, fail) when a stated prerequisite is missing."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"prerequisite missing in CI: {reason}")
    pytest.skip(reason)


def chromium_path() -> str | None:
    return os.environ.get("TICKETGATE_CHROMIUM") or shutil.which("chromium")


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Errors that mean "not ready yet" while polling a server, a process or a database.
NOT_READY = (requests.RequestException, OSError, ValueError, KeyError, sqlite3.Error)


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 60.0,
    what: str = "condition",
    interval: float = 0.05,
    retry_on: tuple[type[BaseException], ...] = NOT_READY,
) -> Any:
    """Poll until ``predicate()`` is truthy; return its value or fail naming ``what``.

    Synchronises on an observable condition with a deadline, never on elapsed
    time; the deadline is generous for a loaded CI machine and costs nothing
    when the condition already holds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except retry_on as exc:
            value, last_error = None, exc
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout:.0f} s waiting for {what}" + (f" ({last_error})" if last_error else "")
    )


def start_process(
    argv: list[str], *, env: dict, log: Path, ready_url: str, what: str, cwd: Path | None = None, timeout: float = 60.0
) -> subprocess.Popen:
    """Start a server process logging to ``log`` and wait until ``ready_url`` answers 2xx.

    A process that exits while starting fails the wait at once, with the end of its log."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        return requests.get(ready_url, timeout=2).ok

    try:
        wait_for(ready, timeout, f"{what} ({ready_url}, log {log})")
    except BaseException:
        stop_process(proc)
        raise
    return proc


def stop_process(proc: subprocess.Popen | None) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 15 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# The test keys a hub uses with localstripe (which accepts any sk_/pk_ key) and the webhook secret
# both sides share.
LOCALSTRIPE_KEYS = {
    "STRIPE_SECRET_KEY": "sk_test_ticketgate",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_ticketgate",
    "STRIPE_WEBHOOK_SECRET": "whsec_ticketgate_test",
}


def start_localstripe(log: Path) -> tuple[subprocess.Popen, str]:
    """A real `localstripe` (a stateful fake Stripe API, fake Stripe.js and webhook sender) on a free
    loopback port; returns the process and its address (the hub's STRIPE_API_BASE).

    --from-scratch: it does not load the state an earlier run left in its one file, /tmp/localstripe.pickle."""
    import importlib.util
    import sys

    require(importlib.util.find_spec("localstripe") is not None, "localstripe is not installed (dev extra)")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_process(
        [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
        env=dict(os.environ),
        log=log,
        ready_url=f"{base}/js.stripe.com/v3/",
        what="localstripe",
    )
    return proc, base


def register_stripe_webhook(api_base: str, url: str, secret: str = LOCALSTRIPE_KEYS["STRIPE_WEBHOOK_SECRET"]) -> None:
    """Send localstripe's webhooks (every event, signed with `secret`) to `url`, instead of any earlier one."""
    response = requests.post(f"{api_base}/_config/webhooks/hub", json={"url": url, "secret": secret}, timeout=10)
    response.raise_for_status()


def stripe_card_token(api_base: str, number: str = "4242424242424242") -> str:
    """What Stripe.js makes of the card a buyer typed (a `tok_...` id; the hub never sees the number)."""
    response = requests.post(
        f"{api_base}/v1/tokens",
        data={
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": "2030",
            "card[cvc]": "123",
            "key": LOCALSTRIPE_KEYS["STRIPE_PUBLISHABLE_KEY"],
        },
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["id"]
