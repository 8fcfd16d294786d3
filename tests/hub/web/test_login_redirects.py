"""After login (and after the 2FA step) the browser goes only to a path on this site.

The `next` parameter is checked the way a browser reads the resulting Location:
tabs and line breaks vanish, leading controls and spaces are stripped, and a
backslash counts as a slash; "/\t/evil.example" is "//evil.example" to a browser.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urljoin, urlsplit

import pyotp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.web.auth import safe_next
from tests.hub.web.conftest import PASSWORD

SITE = "https://hub.example/account/login"
C0_AND_SPACE = "".join(chr(c) for c in range(0x21))


def browser_target(location: str) -> tuple[str, str]:
    """(scheme, host) a browser on SITE goes to for this Location header (WHATWG URL parsing, roughly)."""
    cleaned = re.sub(r"[\t\n\r]", "", location).strip(C0_AND_SPACE).replace("\\", "/")
    target = urlsplit(urljoin(SITE, cleaned))
    return target.scheme, target.hostname or ""


def stays_on_site(location: str) -> bool:
    return browser_target(location) == ("https", "hub.example")


# Text around the prefixes that lead browsers astray, and plain arbitrary text.
TRICKY = [
    "/",
    "//",
    "/\t/",
    "/\n/",
    "/\r\n/",
    "/\\",
    "\\",
    "\\\\",
    " /",
    "\t//",
    "/%09/",
    "///",
    "/.//",
    "http://",
    "https:",
    "javascript:",
    "//evil.example",
    "/\u3000/",
    "\x00/",
]
NEXT_VALUES = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",))),
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(TRICKY),
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
    ),
)


def test_browser_target_reads_locations_like_a_browser():
    assert browser_target("/account/orders") == ("https", "hub.example")
    assert browser_target("/\t/evil.example") == ("https", "evil.example")
    assert browser_target("/\\evil.example") == ("https", "evil.example")
    assert browser_target(" //evil.example/x") == ("https", "evil.example")
    assert browser_target("http:evil.example") != ("https", "hub.example")


@given(NEXT_VALUES)
@settings(max_examples=2000, deadline=None)
def test_safe_next_only_ever_gives_a_same_site_path(target):
    result = safe_next(target, "/fallback")
    assert result == "/fallback" or (result == target and stays_on_site(result))


@pytest.mark.parametrize(
    "raw_next",
    [
        "%2F%09%2Fevil.example",
        "%2F%0A%2Fevil.example",
        "%2F%0D%2Fevil.example",
        "%2Faccount%0D%0ASet-Cookie:x=1",
        "%2F%5Cevil.example",
        "%5C%5Cevil.example",
        "https:%2F%2Fevil.example",
        "%20%2F%2Fevil.example",
        "%2F%2F%2Fevil.example",
    ],
)
def test_login_refuses_off_site_next(browser_client, make_account, raw_next):
    make_account("customer", "c@example.org")
    web = browser_client
    web.get("/account/login")
    response = web.post(f"/account/login?next={raw_next}", {"email": "c@example.org", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_login_keeps_a_same_site_next(browser_client, make_account):
    make_account("customer", "c@example.org")
    web = browser_client
    web.get("/account/login")
    response = web.post(
        "/account/login?next=%2Faccount%2Forders%3Fpage%3D2", {"email": "c@example.org", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/account/orders?page=2"


def test_the_2fa_step_refuses_off_site_next(browser_client, make_account, engine):
    from hub.services import accounts

    user = make_account("organizer", "o@example.org")
    with engine.connect() as conn:
        secret, _uri = accounts.begin_totp_setup(conn, user)
        totp = pyotp.TOTP(secret)
        assert accounts.confirm_totp_setup(conn, user["id"], totp.now())
    web = browser_client
    web.get("/account/login")
    first = web.post("/account/login?next=%2F%09%2Fevil.example", {"email": "o@example.org", "password": PASSWORD})
    assert first.status_code == 302 and first.headers["Location"] == "/account/login/2fa"  # the bad next dropped
    web.get("/account/login/2fa")
    # a next= put on the 2FA address by hand is checked there too
    done = web.post("/account/login/2fa?next=%2F%0D%0A%2Fevil.example", {"code": totp.at(time.time() + totp.interval)})
    assert done.status_code == 302 and done.headers["Location"] == "/manage"


@given(target=NEXT_VALUES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_login_with_any_next_lands_on_this_site_and_never_fails(app, engine, make_account, target):
    """Logs in for real each time (a real password check), so a few dozen examples per backend."""
    from hub.services.users import get_user_by_email
    from tests.hub.web.support import Browser

    app.config["LOGIN_RATE_LIMIT"] = "100000 per minute"
    email = "prop@example.org"
    with engine.connect() as conn:
        if get_user_by_email(conn, email) is None:  # made by the first example; the database is the test's
            make_account("customer", email)
    web = Browser(app.test_client())
    web.get("/account/login")
    response = web.client.post(
        "/account/login",
        query_string={"next": target},
        data={"email": email, "password": PASSWORD, "csrf_token": web.token()},
    )
    assert response.status_code < 500
    if "\x00" in target:
        assert response.status_code == 400  # refused up front: PostgreSQL text cannot hold NUL
    else:
        assert response.status_code == 302 and stays_on_site(response.headers["Location"])
