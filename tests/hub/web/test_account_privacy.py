"""The account's profile and privacy controls: name (prefilled at checkout), password and email
changes, a JSON export of what the hub holds, deleting the account; and an order's calendar file."""

from __future__ import annotations

import json
import re

from icalendar import Calendar

from common.protocol import to_utc
from hub.services.holds import hold_seats
from hub.services.orders import purchase
from tests.hub.web.conftest import PASSWORD


def _buy_as(app, engine, web, event, seat="1") -> dict:
    """Hold and buy through the pages, logged in, so the order lands in the account's history."""
    web.get(f"/events/{event['id']}")
    held = web.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": [str(int(seat) - 1)]})
    checkout = held.headers["Location"]
    web.get(checkout)
    done = web.post(
        checkout, {"name": "Ada Lovelace", "email": "ada@example.org", "payment_method": "box_office", "action": "buy"}
    )
    assert done.status_code == 302, done.get_data(as_text=True)[:300]
    order_id, token = re.search(r"/orders/(\d+)/([^/?#]+)", done.headers["Location"]).groups()
    return {"id": int(order_id), "token": token, "url": done.headers["Location"]}


def test_the_profile_name_fills_in_checkout(browser_client, make_account, event):
    make_account("customer", "ada@example.org")
    web = browser_client
    web.login("ada@example.org")
    web.get("/account/profile")
    assert web.post("/account/profile", {"name": "Ada Lovelace"}).status_code == 302
    assert 'value="Ada Lovelace"' in web.get("/account/profile").get_data(as_text=True)
    web.get(f"/events/{event['id']}")
    held = web.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": ["0"]})
    checkout = web.get(held.headers["Location"]).get_data(as_text=True)
    assert 'value="Ada Lovelace"' in checkout and 'value="ada@example.org"' in checkout


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(browser_client, new_browser, make_account):
    make_account("customer", "ada@example.org")
    web, elsewhere = browser_client, new_browser()
    web.login("ada@example.org")
    elsewhere.login("ada@example.org")
    web.get("/account/profile")
    wrong = web.post("/account/password", {"current": "not it", "password": "brand new pw", "confirm": "brand new pw"})
    assert "the current password is not right" in wrong.get_data(as_text=True)
    assert elsewhere.get("/account/profile").status_code == 200  # nothing changed yet
    web.get("/account/profile")
    done = web.post("/account/password", {"current": PASSWORD, "password": "brand new pw", "confirm": "brand new pw"})
    assert done.status_code == 302
    assert web.get("/account/profile").status_code == 200  # this browser stays logged in
    assert "/account/login" in elsewhere.get("/account/profile").headers.get("Location", "")  # the other is out
    fresh = new_browser()
    fresh.get("/account/login")
    assert fresh.post("/account/login", {"email": "ada@example.org", "password": PASSWORD}).status_code == 200
    fresh.login("ada@example.org", "brand new pw")


def test_an_email_change_happens_only_through_the_link_sent_to_the_new_address(
    app, browser_client, new_browser, make_account, smtp
):
    make_account("customer", "ada@example.org")
    make_account("customer", "taken@example.org")
    web = browser_client
    web.login("ada@example.org")
    web.get("/account/profile")
    assert web.post("/account/email", {"email": "ada@new.example"}).status_code == 302
    assert "ada@example.org" in web.get("/account/profile").get_data(as_text=True)  # not changed yet
    [message] = smtp
    assert message["To"] == "ada@new.example"
    link = re.search(r"https?://\S+/account/email/\S+", message.get_body(("plain",)).get_content()).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]

    stranger = new_browser()
    make_account("customer", "mallory@example.org")
    stranger.login("mallory@example.org")
    stranger.get("/" + path)
    stranger.post("/" + path)
    assert "another account" in stranger.get("/account/profile").get_data(as_text=True)  # not theirs to use

    web.get("/" + path)
    assert web.post("/" + path).status_code == 302
    assert "ada@new.example" in web.get("/account/profile").get_data(as_text=True)
    web.get("/" + path)
    web.post("/" + path)  # used once already
    assert "already used" in web.get("/account/profile").get_data(as_text=True)
    new_browser().login("ada@new.example")

    web.get("/account/profile")
    web.post("/account/email", {"email": "taken@example.org"})
    taken = re.search(r"/account/email/\S+", smtp[-1].get_body(("plain",)).get_content()).group(0)
    web.get(taken)
    web.post(taken)
    assert "has an account already" in web.get("/account/profile").get_data(as_text=True)


def test_export_holds_the_profile_and_orders_and_no_secrets(app, engine, browser_client, make_account, event):
    make_account("customer", "ada@example.org")
    web = browser_client
    web.login("ada@example.org")
    order = _buy_as(app, engine, web, event)
    response = web.get("/account/export.json")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == "ada@example.org"
    assert [o["id"] for o in data["orders"]] == [order["id"]]
    assert data["orders"][0]["event"] == event["title"] and data["orders"][0]["status"] == "pending"
    text = response.get_data(as_text=True)
    assert "password" not in text and order["token"] not in text and "TG1:" not in text


def test_deleting_the_account_keeps_the_tickets_working(app, engine, browser_client, new_browser, make_account, event):
    make_account("customer", "ada@example.org")
    web = browser_client
    web.login("ada@example.org")
    order = _buy_as(app, engine, web, event)
    page = web.get("/account/delete").get_data(as_text=True)
    assert "Your tickets stay valid" in page
    assert "the password is not right" in web.post("/account/delete", {"password": "wrong"}).get_data(as_text=True)
    web.get("/account/delete")
    assert web.post("/account/delete", {"password": PASSWORD}).status_code == 302
    assert "/account/login" in web.get("/account/profile").headers["Location"]
    again = new_browser()
    again.get("/account/login")
    assert again.post("/account/login", {"email": "ada@example.org", "password": PASSWORD}).status_code == 200
    assert new_browser().get(order["url"]).status_code == 200  # the order and its tickets are still there


def test_an_organizer_with_events_cannot_delete_the_account(browser_client, event):
    web = browser_client
    web.login("org@example.org")
    web.get("/account/delete")
    assert "hand them over first" in web.post("/account/delete", {"password": PASSWORD}).get_data(as_text=True)
    assert web.get("/account/profile").status_code == 200  # still there, still logged in


def test_an_order_goes_into_a_calendar(app, engine, event):
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        held = hold_seats(conn, event["id"], [("A", "1", "1")])
        order = purchase(
            conn, held["hold_id"], held["hold_token"], {"name": "B", "email": "b@example.org"}, "box_office", signer
        )
    client = app.test_client()
    response = client.get(f"/orders/{order['id']}/{order['access_token']}/calendar.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    [entry] = Calendar.from_ical(response.data).walk("VEVENT")
    assert str(entry["summary"]) == event["title"]
    assert entry.decoded("dtstart") == to_utc(event["starts_at"]).replace(microsecond=0)  # iCalendar keeps seconds
    assert (entry.decoded("dtend") - entry.decoded("dtstart")).total_seconds() == 3 * 3600
    assert "Berlin" in str(entry["location"]) and f"/orders/{order['id']}/" in str(entry["url"])
    again = Calendar.from_ical(client.get(f"/orders/{order['id']}/{order['access_token']}/calendar.ics").data)
    assert str(again.walk("VEVENT")[0]["uid"]) == str(entry["uid"])  # the same entry: calendars update it
    assert client.get(f"/orders/{order['id']}/wrong-token/calendar.ics").status_code == 403


def test_the_export_names_api_tokens_but_never_their_secrets(engine, browser_client, make_account):
    from hub.services.users import create_token

    user = make_account("organizer", "org2@example.org")
    with engine.connect() as conn:
        _, secret = create_token(conn, user["id"], "till")
    web = browser_client
    web.login("org2@example.org")
    text = web.get("/account/export.json").get_data(as_text=True)
    assert '"till"' in text and secret not in text


def test_a_fresh_organizer_without_events_may_leave(engine, browser_client, make_account):
    make_account("organizer", "solo@example.org")
    web = browser_client
    web.login("solo@example.org")
    web.get("/account/delete")
    assert web.post("/account/delete", {"password": PASSWORD}).status_code == 302


def test_an_organizer_with_a_venue_only_cannot_leave_either(engine, browser_client, make_account):
    from hub.services.venues import create_venue
    from tests.hub.web.support import grid_layout

    owner = make_account("organizer", "venue@example.org")
    with engine.connect() as conn:
        create_venue(conn, grid_layout(1, 1), owner_id=owner["id"])
    web = browser_client
    web.login("venue@example.org")
    web.get("/account/delete")
    assert "hand them over first" in web.post("/account/delete", {"password": PASSWORD}).get_data(as_text=True)
