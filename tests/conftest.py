"""Fixtures shared by every test area.

A prerequisite that is missing (Chromium, PostgreSQL, the qr-photos folder)
skips its tests on a developer machine but fails them under CI=true, where
.ci/run has installed and started everything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import POSTGRES_URL_ENV, QR_PHOTOS, chromium_path, require


@pytest.fixture(scope="session")
def qr_photos() -> list[tuple[Path, str]]:
    """Real camera photos of QR codes with their expected text."""
    require(QR_PHOTOS.is_dir(), f"{QR_PHOTOS} not found")
    pairs = []
    for png in sorted(QR_PHOTOS.glob("*.png")):
        txt = png.with_suffix(".txt")
        if txt.exists():
            pairs.append((png, txt.read_text("utf-8").strip()))
    return pairs


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get(POSTGRES_URL_ENV)
    require(bool(url), f"{POSTGRES_URL_ENV} is not set")
    return url


@pytest.fixture(scope="session")
def browser():
    """Real headless Debian Chromium driven by Playwright."""
    path = chromium_path()
    require(bool(path) and Path(path).exists(), "Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=path,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    pg = context.new_page()
    yield pg
    context.close()
