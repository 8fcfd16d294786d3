"""Accounts: registration, login/logout, rate limit, password reset by mail, TOTP, history, security headers."""
from __future__ import annotations

import re
import time

import pyotp

from tests.hub.web.conftest import PASSWORD


def test_register_login_logout(browser_client):
    web = browser_client
    web.get("/account/register")
    created = web.post("/account/register", {"email": "New@Example.org", "password": "long enough", "confirm": "long enough"})
    assert created.status_code == 302
    assert "My orders" in web.get("/").get_data(as_text=True)
    web.get("/")
    assert web.post("/account/logout").status_code == 302
    assert web.get("/account/orders").status_code == 302  # back to the login page
    web.get("/account/register")
    again = web.post("/account/register", {"email": "new@example.org", "password": "long enough", "confirm": "long enough"})
    assert "exists" in again.get_data(as_text=True)
    web.login("new@example.org", "long enough")


def test_wrong_password_and_open_redirect_are_refused(browser_client, make_account):
    make_account("customer", "c@example.org")
    web = browser_client
    web.get("/account/login")
    wrong = web.post("/account/login", {"email": "c@example.org", "password": "nope nope"})
    assert wrong.status_code == 200 and "Wrong email or password" in wrong.get_data(as_text=True)
    web.get("/account/login")
    hop = web.post("/account/login?next=//evil.example/x", {"email": "c@example.org", "password": PASSWORD})
    assert hop.headers["Location"] == "/"
    web.post("/account/logout")
    web.get("/account/login")
    inside = web.post("/account/login?next=/account/orders", {"email": "c@example.org", "password": PASSWORD})
    assert inside.headers["Location"] == "/account/orders"


def test_login_is_rate_limited(browser_client, make_account):
    make_account("customer", "c@example.org")
    web = browser_client
    web.get("/account/login")
    responses = [web.post("/account/login", {"email": "c@example.org", "password": "wrong guess"}) for _ in range(11)]
    assert [r.status_code for r in responses[:10]] == [200] * 10
    assert responses[10].status_code == 429 and "Too many attempts" in responses[10].get_data(as_text=True)


def test_session_cookie_and_secure_headers(app, browser_client, make_account, engine):
    from hub.services.users import get_user

    user = make_account("customer", "c@example.org")
    web = browser_client
    page = web.get("/account/login")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    login = web.post("/account/login", {"email": "c@example.org", "password": PASSWORD})
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # the cookie is signed, not encrypted: it must carry nothing of the password hash
    content = app.session_interface.get_signing_serializer(app).loads(cookie.split(";")[0].split("=", 1)[1])
    with engine.connect() as conn:
        password_hash = get_user(conn, user["id"])["password_hash"]
    assert content["user_id"] == user["id"]
    assert not any(password_hash[i:i + 8] in str(content) for i in range(0, len(password_hash) - 8))


def test_password_reset_by_mailed_single_use_link(browser_client, make_account, smtp):
    make_account("customer", "c@example.org")
    web = browser_client
    web.get("/account/reset")
    unknown = web.post("/account/reset", {"email": "nobody@example.org"}, follow_redirects=True)
    assert "If that address has an account" in unknown.get_data(as_text=True)
    assert smtp == []
    web.get("/account/reset")
    web.post("/account/reset", {"email": "c@example.org"})
    [message] = smtp
    assert message["To"] == "c@example.org"
    link = re.search(r"http://localhost(/account/reset/\S+)", message.get_body(("plain",)).get_content()).group(1)

    web.get(link)
    done = web.post(link, {"password": "brand new pw", "confirm": "brand new pw"})
    assert done.headers["Location"] == "/account/login"
    assert web.get(link).headers["Location"] == "/account/reset"  # used up
    web.get("/account/login")
    assert "Wrong email" in web.post("/account/login", {"email": "c@example.org", "password": PASSWORD}).get_data(as_text=True)
    web.login("c@example.org", "brand new pw")


def test_password_change_ends_other_sessions(browser_client, new_browser, make_account, engine):
    from hub.services.users import set_password

    user = make_account("customer", "c@example.org")
    browser_client.login("c@example.org")
    assert browser_client.get("/account/orders").status_code == 200
    with engine.connect() as conn:
        set_password(conn, user["id"], "changed elsewhere")
    assert browser_client.get("/account/orders").status_code == 302


def test_totp_two_factor_login_for_organizer(browser_client, make_account):
    make_account("organizer", "o@example.org")
    web = browser_client
    web.login("o@example.org")
    setup = web.get("/account/2fa").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', setup).group(1)
    totp = pyotp.TOTP(secret)
    assert "Two-factor login is on" in web.post("/account/2fa", {"code": totp.now()}, follow_redirects=True).get_data(as_text=True)
    web.post("/account/logout")

    web.get("/account/login")
    first = web.post("/account/login", {"email": "o@example.org", "password": PASSWORD})
    assert first.headers["Location"].startswith("/account/login/2fa")
    assert web.get("/manage").status_code == 302  # not logged in yet
    web.get("/account/login/2fa")
    assert "not right" in web.post("/account/login/2fa", {"code": "000000"}).get_data(as_text=True)
    ok = web.post("/account/login/2fa", {"code": totp.at(time.time() + totp.interval)})
    assert ok.headers["Location"] == "/manage"
    assert web.get("/manage").status_code == 200


def test_customers_cannot_turn_on_totp(browser_client, make_account):
    make_account("customer", "c@example.org")
    browser_client.login("c@example.org")
    assert browser_client.get("/account/2fa").status_code == 403


def test_order_history_shows_only_own_orders(browser_client, new_browser, make_account, event):
    make_account("customer", "c@example.org")
    make_account("customer", "d@example.org")
    web = browser_client
    web.login("c@example.org")
    web.get(f"/events/{event['id']}")
    checkout = web.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": ["3"]}).headers["Location"]
    page = web.get(checkout).get_data(as_text=True)
    assert 'value="c@example.org"' in page  # prefilled from the account
    bought = web.post(checkout, {"name": "C", "email": "c@example.org", "payment_method": "box_office", "action": "buy"})
    order_url = bought.headers["Location"]
    history = web.get("/account/orders").get_data(as_text=True)
    assert order_url in history and "Brass Night" in history
    other = new_browser()
    other.login("d@example.org")
    assert "Brass Night" not in other.get("/account/orders").get_data(as_text=True)


def test_linking_an_order_twice_is_harmless(engine, event, make_account, app):
    from hub.services import accounts
    from hub.services.holds import hold_seats
    from hub.services.orders import purchase

    user = make_account("customer", "c@example.org")
    with engine.connect() as conn:
        held = hold_seats(conn, event["id"], [("A", "1", "2")])
        order = purchase(conn, held["hold_id"], held["hold_token"], {"name": "C", "email": "c@example.org"},
                         "box_office", app.extensions["tickethub.keys"].current())
        accounts.link_order(conn, order["id"], user["id"])
        accounts.link_order(conn, order["id"], user["id"])
        assert [o["id"] for o in accounts.order_history(conn, user["id"])] == [order["id"]]
