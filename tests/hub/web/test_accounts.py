"""Accounts: registration, login/logout, rate limit, password reset by mail, TOTP, history, security headers."""

from __future__ import annotations

import re
import time
from datetime import UTC

import pyotp

from tests.hub.web.conftest import PASSWORD


def _mailed_link(message, path: str) -> str:
    """The path of the one public-URL link to `path` in a mail (PUBLIC_URL unset: http://localhost:8080)."""
    text = message.get_body(("plain",)).get_content()
    return re.search(rf"http://localhost:8080({re.escape(path)}\S*)", text).group(1)


def test_register_by_mailed_link_login_logout(browser_client, smtp):
    web = browser_client
    web.get("/account/register")
    asked = web.post("/account/register", {"email": "New@Example.org"}, follow_redirects=True)
    assert "Check your mail" in asked.get_data(as_text=True)
    assert "My orders" not in asked.get_data(as_text=True)  # no account before the address is proven
    [message] = smtp
    assert message["To"] == "New@Example.org" and "choose your password" in message.get_body(("plain",)).get_content()
    link = _mailed_link(message, "/account/register/")
    form = web.get(link).get_data(as_text=True)
    assert "new@example.org" in form.lower()
    created = web.post(link, {"password": "long enough", "confirm": "long enough"})
    assert created.headers["Location"] == "/"
    assert "My orders" in web.get("/").get_data(as_text=True)
    assert web.post("/account/logout").status_code == 302
    assert web.get("/account/orders").status_code == 302  # back to the login page
    assert web.get(link).headers["Location"] == "/account/login"  # the link made its account; it is spent
    web.login("new@example.org", "long enough")


def test_a_mangled_registration_link_is_refused(browser_client, smtp):
    web = browser_client
    web.get("/account/register")
    web.post("/account/register", {"email": "new@example.org"})
    link = _mailed_link(smtp[0], "/account/register/")
    forged = link[:-3] + ("abc" if not link.endswith("abc") else "xyz")
    assert web.get(forged).headers["Location"] == "/account/register"
    web.get("/account/register")
    assert (
        web.post(forged, {"password": "long enough", "confirm": "long enough"}).headers["Location"]
        == "/account/register"
    )
    web.get("/")
    assert "My orders" not in web.get("/").get_data(as_text=True)


def test_registration_does_not_tell_which_emails_have_accounts(browser_client, make_account, smtp):
    make_account("customer", "taken@example.org")
    web = browser_client
    answers = []
    for email in ("taken@example.org", "fresh@example.org"):
        web.get("/account/register")
        response = web.post("/account/register", {"email": email})
        answers.append(
            (
                response.status_code,
                response.headers["Location"],
                web.get(response.headers["Location"]).get_data(as_text=True).replace(email, "EMAIL"),
            )
        )
    assert answers[0] == answers[1]
    # the owner of the existing account hears about it instead; the new address gets its link
    existing, fresh = smtp
    assert existing["To"] == "taken@example.org" and "already has one" in existing.get_body(("plain",)).get_content()
    assert "/account/register/" not in existing.get_body(("plain",)).get_content()
    assert fresh["To"] == "fresh@example.org" and "/account/register/" in fresh.get_body(("plain",)).get_content()


def test_registration_links_expire(app):
    from datetime import datetime, timedelta

    from hub.services import accounts

    issued = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    token = accounts.registration_token(app.secret_key, "a@example.org", now=issued)
    assert accounts.registration_email(app.secret_key, token, now=issued + timedelta(hours=23)) == "a@example.org"
    assert accounts.registration_email(app.secret_key, token, now=issued + timedelta(hours=25)) is None
    assert accounts.registration_email("another secret", token, now=issued) is None


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
    assert not any(password_hash[i : i + 8] in str(content) for i in range(0, len(password_hash) - 8))


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
    link = _mailed_link(message, "/account/reset/")

    web.get(link)
    done = web.post(link, {"password": "brand new pw", "confirm": "brand new pw"})
    assert done.headers["Location"] == "/account/login"
    assert web.get(link).headers["Location"] == "/account/reset"  # used up
    web.get("/account/login")
    assert "Wrong email" in web.post("/account/login", {"email": "c@example.org", "password": PASSWORD}).get_data(
        as_text=True
    )
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
    assert "Two-factor login is on" in web.post("/account/2fa", {"code": totp.now()}, follow_redirects=True).get_data(
        as_text=True
    )
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
    bought = web.post(
        checkout, {"name": "C", "email": "c@example.org", "payment_method": "box_office", "action": "buy"}
    )
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
        order = purchase(
            conn,
            held["hold_id"],
            held["hold_token"],
            {"name": "C", "email": "c@example.org"},
            "box_office",
            app.extensions["tickethub.keys"].current(),
        )
        accounts.link_order(conn, order["id"], user["id"])
        accounts.link_order(conn, order["id"], user["id"])
        assert [o["id"] for o in accounts.order_history(conn, user["id"])] == [order["id"]]


def _copy_session(source, target) -> None:
    """Put the session cookie of one client into another, as a thief with a copy of the cookie would."""
    cookie = source.client.get_cookie("session")
    target.client.set_cookie("session", cookie.value)


def test_logout_ends_the_session_for_every_copy_of_the_cookie(browser_client, new_browser, make_account):
    make_account("customer", "c@example.org")
    web = browser_client
    web.login("c@example.org")
    thief = new_browser()
    _copy_session(web, thief)
    assert thief.get("/account/orders").status_code == 200  # a copy works while the session lives
    web.get("/")
    assert web.post("/account/logout").status_code == 302
    assert thief.get("/account/orders").status_code == 302  # ...and not after logout
    web.login("c@example.org")  # logging in again works
    assert web.get("/account/orders").status_code == 200


def test_password_reset_ends_other_sessions(browser_client, new_browser, make_account, engine, smtp):
    make_account("customer", "c@example.org")
    elsewhere = new_browser()
    elsewhere.login("c@example.org")
    web = browser_client
    web.get("/account/reset")
    web.post("/account/reset", {"email": "c@example.org"})
    link = _mailed_link(smtp[0], "/account/reset/")
    web.get(link)
    web.post(link, {"password": "brand new pw", "confirm": "brand new pw"})
    assert elsewhere.get("/account/orders").status_code == 302


def _turn_on_totp(web) -> pyotp.TOTP:
    setup = web.get("/account/2fa").get_data(as_text=True)
    totp = pyotp.TOTP(re.search(r'id="totp-secret">([A-Z2-7]+)<', setup).group(1))
    assert "Two-factor login is on" in web.post("/account/2fa", {"code": totp.now()}, follow_redirects=True).get_data(
        as_text=True
    )
    return totp


def test_turning_totp_off_needs_a_current_code_and_ends_other_sessions(
    browser_client, new_browser, make_account, engine
):
    from hub.services import accounts

    user = make_account("organizer", "o@example.org")
    web = browser_client
    web.login("o@example.org")
    elsewhere = new_browser()
    _copy_session(web, elsewhere)
    totp = _turn_on_totp(web)
    assert web.get("/manage").status_code == 200  # this browser stays logged in
    assert elsewhere.get("/manage").status_code == 302  # other sessions end with the change

    page = web.get("/account/2fa").get_data(as_text=True)
    assert 'name="code"' in page
    no_code = web.post("/account/2fa", {"confirm": "y"})
    wrong = web.post("/account/2fa", {"code": "000000"}, follow_redirects=True)
    assert no_code.status_code == 200 and "not right" in wrong.get_data(as_text=True)
    with engine.connect() as conn:
        assert accounts.totp_enabled(conn, user["id"])  # a borrowed session alone cannot turn it off
    off = web.post("/account/2fa", {"code": totp.at(time.time() + totp.interval)}, follow_redirects=True)
    assert "Two-factor login is off" in off.get_data(as_text=True)
    with engine.connect() as conn:
        assert not accounts.totp_enabled(conn, user["id"])
    assert web.get("/manage").status_code == 200


def test_login_for_an_unknown_email_does_the_same_password_hash_work(engine, make_account):
    """Timing must not tell which emails have accounts: an unknown email is checked against a
    dummy scrypt hash. (Before, it answered after a database look-up alone, ~50x faster.)"""
    import statistics

    from hub.services.users import authenticate

    make_account("customer", "c@example.org")
    known, unknown = [], []
    with engine.connect() as conn:
        authenticate(conn, "nobody@example.org", "warm up")  # the dummy hash is made once, on first use
        for _ in range(7):
            for email, times in (("c@example.org", known), ("nobody@example.org", unknown)):
                started = time.perf_counter()
                assert authenticate(conn, email, "wrong guess") is None
                times.append(time.perf_counter() - started)
    assert statistics.median(unknown) > 0.5 * statistics.median(known)
