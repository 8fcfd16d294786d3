"""Organizers invite door staff and co-organizers by mail (services.staff invitations), on SQLite and
PostgreSQL: the link comes from the configured address, works once, only for the invited address,
not with a guessed secret, not after it expired; co-organizers manage the organizer's events only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from hub.services import staff
from hub.services.clock import utcnow
from hub.services.errors import Conflict, Forbidden, NotFound
from tests.hub.web.support import Browser, make_event

LINK = re.compile(r"^(http://localhost:8080)(/invite/(\d+)\.(\S+))$", re.M)


def _text(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def _invite(web: Browser, email: str, role: str, smtp) -> str:
    web.get("/manage/staff")
    sent = web.post("/manage/staff/invites", {"email": email, "role": role}, follow_redirects=True)
    assert f"Invitation sent to {email}" in sent.get_data(as_text=True)
    message = smtp[-1]
    assert message["To"] == email
    match = LINK.search(_text(message))
    assert match, _text(message)
    return match.group(2)


def test_invited_door_staff_make_their_account_and_work_at_the_organizers_doors(
    app, engine, make_account, browser_client, smtp
):
    organizer = make_account("organizer", "boss@example.org")
    other = make_account("organizer", "rival@example.org")
    with engine.connect() as conn:
        mine = make_event(conn, organizer["id"], title="Mine", starts_in=timedelta(hours=3))
        theirs = make_event(conn, other["id"], title="Theirs", starts_in=timedelta(hours=3))
    browser_client.login("boss@example.org")
    path = _invite(browser_client, "door@example.org", "door_staff", smtp)
    assert "door@example.org" in browser_client.get("/manage/staff").get_data(as_text=True)  # pending

    newcomer = Browser(app.test_client())
    page = newcomer.get(path).get_data(as_text=True)
    assert "boss@example.org" in page and "door staff" in page
    accepted = newcomer.post(path, {"password": "a long password", "confirm": "a long password"}, follow_redirects=True)
    text = accepted.get_data(as_text=True)
    assert "you now work as door staff for boss@example.org" in text
    door = newcomer.get("/door").get_data(as_text=True)
    assert "Mine" in door and "Theirs" not in door
    assert newcomer.get(f"/dashboard/events/{mine['id']}").status_code == 200
    assert newcomer.get(f"/dashboard/events/{theirs['id']}").status_code == 403
    assert newcomer.get("/manage").status_code == 403

    again = Browser(app.test_client()).get(path)
    assert again.status_code == 409 and "already accepted" in again.get_data(as_text=True)


def test_a_customer_accepts_as_co_organizer_and_manages_the_organizers_events_only(
    app, engine, make_account, browser_client, smtp
):
    organizer = make_account("organizer", "boss@example.org")
    other = make_account("organizer", "rival@example.org")
    make_account("customer", "helper@example.org")
    with engine.connect() as conn:
        mine = make_event(conn, organizer["id"], title="Mine")
        theirs = make_event(conn, other["id"], title="Theirs")
    browser_client.login("boss@example.org")
    path = _invite(browser_client, "helper@example.org", "organizer", smtp)

    helper = Browser(app.test_client())
    assert "log in</a> to accept" in helper.get(path).get_data(as_text=True)  # an account: log in first
    stranger = Browser(app.test_client())
    make_account("customer", "stranger@example.org")
    stranger.login("stranger@example.org")
    stranger.get(path)
    refused = stranger.post(path, {}, follow_redirects=True).get_data(as_text=True)
    assert "this invitation is for helper@example.org" in refused

    helper.login("helper@example.org")
    helper.get(path)
    welcome = helper.post(path, {}, follow_redirects=True).get_data(as_text=True)
    assert "you now work as co-organizer for boss@example.org" in welcome
    assert "Mine" in welcome and "Theirs" not in welcome  # landed on the organizer's dashboard
    assert helper.get(f"/manage/events/{mine['id']}").status_code == 200
    assert helper.get(f"/manage/events/{theirs['id']}").status_code == 403
    helper.get(f"/manage/events/{mine['id']}")
    paused = helper.post(f"/manage/events/{mine['id']}/status", {"action": "pause"}, follow_redirects=True)
    assert "Sales paused" in paused.get_data(as_text=True)
    staff_page = browser_client.get("/manage/staff").get_data(as_text=True)
    assert re.search(r'id="co-organizers".*helper@example\.org', staff_page, re.S)


def test_guessed_used_expired_and_foreign_links_are_refused(engine, make_account):
    organizer = make_account("organizer", "boss@example.org")
    customer = make_account("customer", "c@example.org")
    now = utcnow()
    with engine.connect() as conn:
        invite, token = staff.invite_staff(conn, organizer, "c@example.org", "door_staff", now=now)
        invite_id, secret = token.split(".")
        assert len(secret) >= 40  # 32 random bytes
        for wrong in (f"{invite_id}.{secret[:-1]}x", f"{int(invite_id) + 1}.{secret}", secret, "", "x.y"):
            with pytest.raises(NotFound):
                staff.live_invite(conn, wrong, now)
        with pytest.raises(Conflict, match="expired"):
            staff.live_invite(conn, token, now + staff.INVITE_TTL)
        with pytest.raises(Forbidden):
            staff.accept_invite(conn, token, user={**organizer, "staff_of": None}, now=now)
        account = staff.accept_invite(conn, token, user={**customer, "staff_of": None}, now=now)
        assert (account["role"], account["staff_of"]) == ("door_staff", organizer["id"])
        with pytest.raises(Conflict, match="already accepted"):
            staff.accept_invite(conn, token, user=account, now=now)
        with pytest.raises(Forbidden):
            staff.invite_staff(conn, customer, "x@example.org", "door_staff", now=now)  # customers invite nobody
