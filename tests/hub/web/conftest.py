"""Fixtures for the page tests: users with a password, page clients, a seated event."""

from __future__ import annotations

import pytest

from tests.hub.web.support import Browser, make_event

PASSWORD = "correct horse"


@pytest.fixture
def make_account(engine):
    """make_account(role, email=None) -> user dict (password PASSWORD)."""
    from hub.services import users

    counter = {"n": 0}

    def make(role: str = "customer", email: str | None = None) -> dict:
        counter["n"] += 1
        with engine.connect() as conn:
            return users.create_user(conn, email or f"{role}{counter['n']}@example.org", PASSWORD, role)

    return make


@pytest.fixture
def browser_client(client):
    return Browser(client)


@pytest.fixture
def new_browser(app):
    """Another independent client (its own cookies)."""
    return lambda: Browser(app.test_client())


@pytest.fixture
def event(engine, make_account):
    organizer = make_account("organizer", "org@example.org")
    with engine.connect() as conn:
        found = make_event(conn, organizer["id"])
    found["organizer"] = organizer
    return found


@pytest.fixture
def smtp(app):
    """A real SMTP server on loopback that the app sends through; yields the collected messages."""
    from tests.hub.web.support import smtp_server

    with smtp_server() as (host, port, collector):
        app.config.update(SMTP_HOST=host, SMTP_PORT=port, SMTP_FROM="Tickets <tickets@hub.test>")
        yield collector.messages
