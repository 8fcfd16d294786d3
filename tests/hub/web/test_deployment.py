"""The hub behind its public address: mailed links from PUBLIC_URL (never the Host header),
Host names refused outside TRUSTED_HOSTS, reverse proxy hops (PROXY_FIX) for client
addresses and HTTPS, HSTS and Secure cookies, Retry-After on every 429."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from hub.config import ConfigError
from hub.web.mailing import mail_queue_once, remind_once
from tests.hub.web.support import Browser, make_event

EVIL = {"Host": "evil.example"}


@pytest.fixture
def make_app(app_config):
    """make_app(**settings) -> a hub app on the test database with these settings."""
    from hub import create_app

    made = []

    def make(**settings):
        made.append(create_app({**app_config, **settings}))
        made[-1].extensions["tickethub.keys"].ensure()
        return made[-1]

    yield make
    for app in made:
        app.extensions["tickethub.engine"].dispose()


def _use_smtp(app, smtp_app):
    """Send `app`'s mail through the test SMTP server the `smtp` fixture started for `smtp_app`."""
    for key in ("SMTP_HOST", "SMTP_PORT", "SMTP_FROM"):
        app.config[key] = smtp_app.config[key]


def _text(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def _ask_reset(web, email: str, **kwargs):
    web.get("/account/reset", **kwargs)
    return web.post("/account/reset", {"email": email}, **kwargs)


# --- mailed links -----------------------------------------------------------------


def test_reset_link_comes_from_public_url_not_the_host_header(app, make_app, make_account, smtp):
    hub = make_app(PUBLIC_URL="https://tickets.example.org/", TRUSTED_HOSTS="*")  # no Host check: links alone
    _use_smtp(hub, app)
    make_account("customer", "c@example.org")
    assert _ask_reset(Browser(hub.test_client()), "c@example.org", headers=EVIL).status_code == 302
    [message] = smtp
    assert "evil.example" not in _text(message)
    assert re.search(r"^https://tickets\.example\.org/account/reset/\S+$", _text(message), re.M)


def test_without_public_url_links_point_at_the_development_address_not_the_host(browser_client, make_account, smtp):
    make_account("customer", "c@example.org")
    _ask_reset(browser_client, "c@example.org", headers=EVIL)
    [message] = smtp
    assert "evil.example" not in _text(message)
    assert re.search(r"^http://localhost:8080/account/reset/\S+$", _text(message), re.M)


def test_registration_mail_links_come_from_public_url(app, make_app, make_account, smtp):
    hub = make_app(PUBLIC_URL="https://tickets.example.org", TRUSTED_HOSTS="*")
    _use_smtp(hub, app)
    make_account("customer", "taken@example.org")
    web = Browser(hub.test_client())
    for email in ("new@example.org", "taken@example.org"):
        web.get("/account/register", headers=EVIL)
        web.post("/account/register", {"email": email}, headers=EVIL)
    links = [link for message in smtp for link in re.findall(r"https?://\S+", _text(message))]
    assert len(links) == 3 and all(link.startswith("https://tickets.example.org/account/") for link in links)


def test_order_confirmation_and_reminder_links_come_from_public_url(app, make_app, engine, make_account, smtp):
    hub = make_app(PUBLIC_URL="https://tickets.example.org/shop", TRUSTED_HOSTS="*")
    _use_smtp(hub, app)
    organizer = make_account("organizer")
    with engine.connect() as conn:
        event = make_event(conn, organizer["id"], price=0, fee=0, starts_in=timedelta(hours=20))
    web = Browser(hub.test_client())
    web.get(f"/events/{event['id']}", headers=EVIL)
    checkout = web.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": ["0"]}, headers=EVIL)
    web.get(checkout.headers["Location"], headers=EVIL)
    web.post(
        checkout.headers["Location"],
        {"name": "Ada", "email": "ada@example.org", "payment_method": "free", "action": "buy"},
        headers=EVIL,
    )
    assert mail_queue_once(hub) == {"sent": 1}
    assert remind_once(hub)
    assert mail_queue_once(hub) == {"sent": 1}
    confirmation, reminder = smtp
    links = re.findall(r"https?://\S+", _text(confirmation)) + re.findall(r"https?://\S+", _text(reminder))
    assert len(links) == 3  # the ticket, the order; the order again in the reminder
    assert all(re.match(r"https://tickets\.example\.org/shop/orders/\d+/", link) for link in links), links


def test_public_url_must_be_an_http_url(make_app):
    for bad in ("tickets.example.org", "ftp://tickets.example.org", "https://", "https://t.example.org/?a=1"):
        with pytest.raises(ConfigError, match="PUBLIC_URL"):
            make_app(PUBLIC_URL=bad)


def test_serve_without_public_url_uses_the_address_it_listens_on(make_app):
    from hub.deployment import assume_public_url

    hub = make_app()
    assert assume_public_url(hub, "0.0.0.0", 8090) == "http://localhost:8090"
    assert hub.config["TRUSTED_HOSTS"] is None  # an assumed address holds nobody to a Host name
    configured = make_app(PUBLIC_URL="https://tickets.example.org")
    assert assume_public_url(configured, "127.0.0.1", 8080) is None
    assert configured.config["PUBLIC_URL"] == "https://tickets.example.org"


# --- Host names -------------------------------------------------------------------


def test_with_a_public_url_other_host_names_are_refused(make_app):
    client = make_app(PUBLIC_URL="https://tickets.example.org").test_client()
    assert client.get("/", headers={"Host": "tickets.example.org"}).status_code == 200
    assert client.get("/", headers={"Host": "127.0.0.1:8080"}).status_code == 200  # local checks keep working
    assert client.get("/", headers={"Host": "localhost"}).status_code == 200
    page = client.get("/account/reset", headers=EVIL)
    assert page.status_code == 400
    api = client.get("/api/v1/events", headers=EVIL)
    assert api.status_code == 400 and api.json["error"]["code"] == "bad_request"


def test_trusted_hosts_can_be_listed_or_switched_off(make_app):
    listed = make_app(PUBLIC_URL="https://tickets.example.org", TRUSTED_HOSTS="gate.lan, .example.net").test_client()
    assert listed.get("/", headers={"Host": "gate.lan:8080"}).status_code == 200
    assert listed.get("/", headers={"Host": "box.example.net"}).status_code == 200
    assert listed.get("/", headers={"Host": "tickets.example.org"}).status_code == 400  # the list is all
    anything = make_app(PUBLIC_URL="https://tickets.example.org", TRUSTED_HOSTS="*").test_client()
    assert anything.get("/", headers=EVIL).status_code == 200


# --- reverse proxy: client addresses, HTTPS ------------------------------------------


def _reset_asks(client, forwarded_for: str, count: int) -> list[int]:
    web = Browser(client)
    headers = {"X-Forwarded-For": forwarded_for}
    web.get("/account/reset", headers=headers)
    return [
        web.post("/account/reset", {"email": "nobody@example.org"}, headers=headers).status_code for _ in range(count)
    ]


def test_proxy_fix_gives_each_client_behind_the_proxy_its_own_rate_limit_and_is_off_by_default(make_app):
    behind_proxy = make_app(PROXY_FIX=1, LOGIN_RATE_LIMIT="2 per minute", HOLD_RATE_LIMIT="2 per minute")
    client = behind_proxy.test_client()
    assert _reset_asks(client, "203.0.113.1", 3) == [302, 302, 429]
    assert _reset_asks(client, "203.0.113.2", 2) == [302, 302]  # another client behind the same proxy
    api = [
        client.post("/api/v1/events/1/holds", json={}, headers={"X-Forwarded-For": address}).status_code
        for address in ("198.51.100.1",) * 3 + ("198.51.100.2",)
    ]
    assert api[2] == 429 and api[3] != 429

    # PROXY_FIX=0 (the default): whoever connects could write X-Forwarded-*, so it is not believed
    direct = make_app(LOGIN_RATE_LIMIT="2 per minute").test_client()
    assert _reset_asks(direct, "203.0.113.1", 2) == [302, 302]
    assert _reset_asks(direct, "203.0.113.2", 1) == [429]  # a made-up address does not buy more tries
    page = direct.get("/account/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"})
    assert "Strict-Transport-Security" not in page.headers
    assert "Secure" not in page.headers.get("Set-Cookie", "")


def _login_cookie(client, **headers) -> tuple[str, object]:
    web = Browser(client)
    page = web.get("/account/login", headers=headers)
    return page.headers.get("Set-Cookie", ""), page


def test_https_through_the_proxy_gets_hsts_and_a_secure_cookie(make_app):
    client = make_app(PROXY_FIX=1).test_client()
    cookie, page = _login_cookie(client, **{"X-Forwarded-Proto": "https"})
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in cookie and "HttpOnly" in cookie
    cookie, page = _login_cookie(make_app(PROXY_FIX=1).test_client(), **{"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in page.headers and "Secure" not in cookie


def test_an_https_public_url_makes_the_cookie_secure_even_over_plain_http(make_app):
    cookie, page = _login_cookie(make_app(PUBLIC_URL="https://tickets.example.org", TRUSTED_HOSTS="*").test_client())
    assert "Secure" in cookie
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")


# --- Retry-After --------------------------------------------------------------------


def test_every_429_says_when_to_retry(make_app):
    client = make_app(LOGIN_RATE_LIMIT="1 per minute", HOLD_RATE_LIMIT="1 per minute").test_client()
    web = Browser(client)
    web.get("/account/reset")
    _first, limited = (web.post("/account/reset", {"email": "nobody@example.org"}) for _ in range(2))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "Too many attempts" in limited.get_data(as_text=True)
    client.post("/api/v1/events/1/holds", json={})
    api = client.post("/api/v1/events/1/holds", json={})
    assert api.status_code == 429 and int(api.headers["Retry-After"]) > 0
    assert set(api.json) == {"error"} and api.json["error"]["code"] == "too_many_requests"


def test_one_limiter_limits_every_listed_endpoint_api_and_pages(make_app):
    from flask import url_for

    from hub.extensions import RATE_LIMITED

    app = make_app(**{setting: "1 per minute" for setting, _methods in RATE_LIMITED.values()})
    assert len(app.extensions["limiter"]) == 1  # one set of counts, one check per request
    client = app.test_client()
    web = Browser(client)
    for endpoint, (_setting, (method, *_)) in RATE_LIMITED.items():
        with app.test_request_context():
            rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
            url = url_for(endpoint, **{name: 1 for name in rule.arguments})  # any ids: the limiter counts first
        send = (
            (lambda: client.open(url, method=method, json={}))
            if endpoint.startswith("api.")
            else (lambda: web.post(url))
        )
        _first, limited = send(), send()
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0, endpoint


# --- the API is not a page ---------------------------------------------------------


def test_api_requests_skip_the_pages_session_and_headers(make_app, make_account):
    make_account("customer", "c@example.org")
    web = Browser(make_app().test_client())
    web.login("c@example.org")  # a browser with a session cookie also calls the API
    api = web.client.get("/api/v1/events")
    assert api.status_code == 200 and api.headers["X-Content-Type-Options"] == "nosniff"
    assert "Cookie" not in api.headers.get("Vary", "") and "Set-Cookie" not in api.headers
    assert "Content-Security-Policy" not in api.headers and "X-Frame-Options" not in api.headers
    page = web.get("/")
    assert "Cookie" in page.headers["Vary"] and page.headers["X-Frame-Options"] == "DENY"
