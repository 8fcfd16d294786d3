"""Helpers for tests (import as ``from tests.support import ...``)."""
from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

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
