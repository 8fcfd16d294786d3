"""Organizer pages through the test client: venues from text, event edits, prices, promo codes, orders, users."""

from __future__ import annotations

import html
import io
import re
import time
from datetime import timedelta

import pytest
from PIL import Image

from common.signing import verify_ticket
from hub.services.devices import create_device
from hub.services.errors import Invalid
from hub.services.holds import hold_seats
from hub.services.layouts import layout_text, parse_layout
from hub.services.orders import confirm_payment, purchase
from hub.services.staff import assign_staff
from tests.hub.web.support import decode_image, make_event


def test_layout_text_round_trips_and_explains_mistakes():
    sections = parse_layout("Stalls: A=3, B=2-4\n# comment\n\nBalcony: 1=2")
    assert sections == [
        {"name": "Stalls", "rows": [{"name": "A", "seats": 3}, {"name": "B", "seats": ["2", "3", "4"]}]},
        {"name": "Balcony", "rows": [{"name": "1", "seats": 2}]},
    ]
    venue = {
        "sections": [
            {
                "name": "Stalls",
                "rows": [{"name": "A", "seats": ["1", "2", "3"]}, {"name": "B", "seats": ["2", "3", "4"]}],
            }
        ]
    }
    assert layout_text(venue) == "Stalls: A=3, B=2-4"
    for bad, reason in [
        ("Stalls A=3", "line 1"),
        ("Stalls: A", "not `Row=count`"),
        ("S: A=5-2", "backwards"),
        ("", "at least one section"),
        ("S: A=0", "at least one seat"),
    ]:
        with pytest.raises(Invalid, match=reason):
            parse_layout(bad)


def test_venue_page_reports_layout_errors(browser_client, make_account):
    make_account("organizer", "o@example.org")
    web = browser_client
    web.login("o@example.org")
    web.get("/manage/venues/new")
    bad = web.post("/manage/venues/new", {"name": "Hall", "layout": "Stalls: A=x"})
    assert bad.status_code == 200 and "is not `Row=count`" in bad.get_data(as_text=True)
    good = web.post("/manage/venues/new", {"name": "Hall", "layout": "Stalls: A=4, B=4"}, follow_redirects=True)
    assert "with 8 seats created" in good.get_data(as_text=True)


def test_edit_event_price_and_promo_through_pages(browser_client, event):
    web = browser_client
    web.login("org@example.org")
    edit = web.get(f"/manage/events/{event['id']}/edit").get_data(as_text=True)
    assert 'value="Brass Night"' in edit
    saved = web.post(
        f"/manage/events/{event['id']}/edit",
        {
            "title": "Brass Night (extra date)",
            "starts_at": "2031-02-03T20:00",
            "ticket_release_at": "2030-01-01T10:00",
            "service_fee": "2",
            "location": "Potsdam",
            "category": "concert",
        },
        follow_redirects=True,
    )
    assert "Event saved." in saved.get_data(as_text=True)
    type_id = event["ticket_types"][0]["id"]
    web.post(f"/manage/events/{event['id']}/ticket-types/{type_id}/price", {"price": "31.50"})
    web.post(f"/manage/events/{event['id']}/promos", {"code": "fans", "kind": "fixed", "value": "5", "max_uses": "10"})
    page = browser_client.get(f"/events/{event['id']}").get_data(as_text=True)
    assert "Brass Night (extra date)" in page and "€31.50" in page and "Potsdam" in page
    assert "Sat 3 Feb 2031" not in page and "Mon 3 Feb 2031, 20:00" in page
    manage = web.get(f"/manage/events/{event['id']}").get_data(as_text=True)
    assert "FANS" in manage and "€5.00" in manage and "0 / 10" in manage


def test_edit_event_page_explains_a_refused_change_and_keeps_the_event(browser_client, event):
    web = browser_client
    web.login("org@example.org")
    web.get(f"/manage/events/{event['id']}/edit")
    refused = web.post(
        f"/manage/events/{event['id']}/edit",
        {"title": "   ", "starts_at": "2031-02-03T20:00", "ticket_release_at": "2030-01-01T10:00", "service_fee": "2"},
    )
    assert refused.status_code == 200 and "event.title: must not be empty" in refused.get_data(as_text=True)
    assert "Brass Night" in web.get(f"/events/{event['id']}").get_data(as_text=True)


def test_reissue_replaces_the_ticket_code(app, browser_client, engine, event):
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        held = hold_seats(conn, event["id"], [("A", "2", "3")])
        order = purchase(
            conn, held["hold_id"], held["hold_token"], {"name": "B", "email": "b@example.org"}, "box_office", signer
        )
    web = browser_client
    web.login("org@example.org")
    web.get(f"/manage/events/{event['id']}/orders")
    web.post(f"/manage/orders/{order['id']}/mark-paid")
    orders = web.get(f"/manage/events/{event['id']}/orders").get_data(as_text=True)
    old_id = int(re.search(r"/manage/tickets/(\d+)/reissue", orders).group(1))
    done = web.post(f"/manage/tickets/{old_id}/reissue", follow_redirects=True).get_data(as_text=True)
    new_id = int(re.search(rf"Ticket {old_id} replaced by ticket (\d+)", done).group(1))
    buyer = browser_client.get(f"/orders/{order['id']}/{order['access_token']}").get_data(as_text=True)
    assert f"/tickets/{new_id}" in buyer and f'no. {old_id} · <span class="badge">revoked' in buyer
    png = browser_client.get(f"/orders/{order['id']}/{order['access_token']}/tickets/{new_id}.png")
    [text] = decode_image(Image.open(io.BytesIO(png.data)))
    verdict = verify_ticket(text, app.extensions["tickethub.keys"].keyring(), time.time())
    assert verdict.valid and verdict.ticket.ticket_id == new_id and verdict.ticket.seat == 10


def test_admin_manages_users_and_cannot_demote_self(browser_client, make_account):
    admin = make_account("admin", "a@example.org")
    web = browser_client
    web.login("a@example.org")
    web.get("/manage/users")
    created = web.post(
        "/manage/users",
        {"email": "door@example.org", "password": "door staff pw", "role": "door_staff"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "door@example.org (door_staff) created" in created
    web.get("/manage/users")
    refused = web.post(f"/manage/users/{admin['id']}/role", {"role": "customer"}, follow_redirects=True)
    assert "cannot take away your own admin role" in refused.get_data(as_text=True)


def test_door_lookup_finds_tickets_by_buyer(app, browser_client, engine, event, make_account):
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        held = hold_seats(conn, event["id"], [("A", "3", "8")])
        order = purchase(
            conn,
            held["hold_id"],
            held["hold_token"],
            {"name": "Grace Hopper", "email": "grace@example.org"},
            "box_office",
            signer,
        )
        confirm_payment(conn, order["id"], signer)
        soon = make_event(conn, event["organizer"]["id"], title="Tonight", starts_in=timedelta(hours=3))
        create_device(conn, {"name": "Gate North", "event_id": soon["id"]})
        door_staff = make_account("door_staff", "d@example.org")
        assign_staff(conn, door_staff["id"], event["organizer"]["id"])  # works at this organizer's doors
    web = browser_client
    web.login("d@example.org")
    door = web.get("/door").get_data(as_text=True)
    assert "Tonight" in door and "Gate North" in door and "<strong>0</strong> of 0 tickets admitted" in door
    assert "Brass Night" not in door  # ten days away
    found = web.get("/door/lookup?q=hopper").get_data(as_text=True)
    assert "grace@example.org" in found and "row 3 · seat 8" in found
    assert "No ticket matches" in web.get("/door/lookup?q=nobody").get_data(as_text=True)


def test_add_ticket_types_to_an_existing_event(browser_client, engine, make_account):
    from hub.services.clock import iso, utcnow
    from hub.services.events import create_event
    from hub.services.venues import create_venue

    organizer = make_account("organizer", "o2@example.org")
    with engine.connect() as conn:
        venue = create_venue(
            conn,
            {
                "name": "Two Rooms",
                "sections": [
                    {"name": "A", "rows": [{"name": "1", "seats": 4}]},
                    {"name": "B", "rows": [{"name": "1", "seats": 3}]},
                ],
            },
            owner_id=organizer["id"],
        )
        event = create_event(
            conn,
            {
                "title": "Split",
                "starts_at": iso(utcnow() + timedelta(days=5)),
                "venue_id": venue["id"],
                "ticket_types": [{"name": "Front", "kind": "seated", "price": 1000, "sections": ["A"]}],
            },
            organizer_id=organizer["id"],
        )
    web = browser_client
    assert web.get(f"/events/{event['id']}/seats.json").get_json()["num_seats"] == 4
    web.login("o2@example.org")
    web.get(f"/manage/events/{event['id']}")
    web.post(
        f"/manage/events/{event['id']}/ticket-types",
        {"name": "Back", "kind": "seated", "price": "8", "sections": "B", "zones": "2"},
    )
    web.post(
        f"/manage/events/{event['id']}/ticket-types", {"name": "Standing", "kind": "ga", "price": "5", "capacity": "40"}
    )
    wrong = web.post(
        f"/manage/events/{event['id']}/ticket-types",
        {"name": "Ghost", "kind": "seated", "price": "1", "sections": "Z"},
        follow_redirects=True,
    )
    assert "unknown section(s) Z" in wrong.get_data(as_text=True)
    assert web.get(f"/events/{event['id']}/seats.json").get_json()["num_seats"] == 7
    page = web.get(f"/events/{event['id']}").get_data(as_text=True)
    assert "€8.00" in page and "General admission: Standing" in page and "Ghost" not in page


def test_edit_venue_renames_and_appends_seats_without_moving_existing_ones(browser_client, engine, event):
    web = browser_client
    web.login("org@example.org")
    venue_id = event["venue_id"]
    before = web.get(f"/events/{event['id']}/seats.json").get_json()["seats"]
    web.get(f"/manage/venues/{venue_id}/edit")
    clash = web.post(f"/manage/venues/{venue_id}/edit", {"name": "Hall", "add_layout": "A: 2=5"})
    assert "row 2 of section A exists" in clash.get_data(as_text=True)
    saved = web.post(
        f"/manage/venues/{venue_id}/edit",
        {"name": "Renamed Hall", "add_layout": "A: 4=5\nGallery: 1=3"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "8 seat(s) added" in saved and "Renamed Hall" in saved and "A: 1=8, 2=8, 3=8, 4=5" in saved
    assert "Gallery: 1=3" in saved
    # the event keeps its seats until a ticket type puts the new ones on sale; old positions are unchanged
    assert web.get(f"/events/{event['id']}/seats.json").get_json()["seats"] == before
    web.get(f"/manage/events/{event['id']}")
    web.post(
        f"/manage/events/{event['id']}/ticket-types",
        {"name": "Gallery", "kind": "seated", "price": "9", "sections": "Gallery"},
    )
    after = web.get(f"/events/{event['id']}/seats.json").get_json()["seats"]
    assert after[: len(before)] == before and len(after) == len(before) + 3
    assert [(s["section"], s["row"], s["seat"], s["index"]) for s in after[-3:]] == [
        ("Gallery", "1", "1", 29),
        ("Gallery", "1", "2", 30),
        ("Gallery", "1", "3", 31),
    ]


@pytest.mark.parametrize(
    "add_layout, reason",
    [
        ("B/C: 1=3", "may not contain '/'"),  # unreachable at /events/{id}/seats/{section}/{row}/{seat}
        ("Gallery: 1/2=3", "may not contain '/'"),
        ("G" * 101 + ": 1=3", "longer than 100 characters"),  # the column holds 100 (PostgreSQL would refuse it)
        ("Huge: " + ", ".join(f"{n}=1000" for n in range(1, 101)), "at most 100000 seats"),  # 24 + 100,000 seats
        ("Gallery: 1=3\nGallery: 2=3", "section 'Gallery' appears twice"),
    ],
)
def test_edit_venue_refuses_what_creating_a_venue_refuses(browser_client, event, add_layout, reason):
    web = browser_client
    web.login("org@example.org")
    venue_id = event["venue_id"]
    web.get(f"/manage/venues/{venue_id}/edit")
    refused = web.post(f"/manage/venues/{venue_id}/edit", {"name": "New Name", "add_layout": add_layout})
    assert refused.status_code == 200 and reason in html.unescape(refused.get_data(as_text=True))
    page = web.get(f"/manage/venues/{venue_id}").get_data(as_text=True)
    assert "A: 1=8, 2=8, 3=8</" in page and "New Name" not in page  # nothing stored, not even the new name


def test_edit_venue_refuses_a_repeated_seat_label_with_a_reason(engine, event):
    from hub.services.venues import edit_venue, get_venue

    with engine.connect() as conn:
        with pytest.raises(Invalid, match="repeats a seat label") as refused:
            edit_venue(
                conn, event["venue_id"], add_sections=[{"name": "A", "rows": [{"name": "9", "seats": ["1", "1"]}]}]
            )
        assert refused.value.code == "duplicate_seat"
        assert get_venue(conn, event["venue_id"])["num_seats"] == 24


def test_orders_page_far_past_the_end_is_empty_not_a_server_error(browser_client, event):
    web = browser_client
    web.login("org@example.org")
    response = web.get(f"/manage/events/{event['id']}/orders?page=99999999999999999999")
    assert response.status_code == 200


def test_an_event_in_yen_shows_yen_without_decimals_and_refuses_cents(browser_client, make_account):
    """The currency chosen in the event form: prices typed and shown in it, its minor unit respected."""
    make_account("organizer", "yen@example.org")
    web = browser_client
    web.login("yen@example.org")
    web.get("/manage/events/new")
    form = {
        "title": "Taiko",
        "starts_at": "2031-02-03T20:00",
        "currency": "jpy",
        "service_fee": "300",
        "venue_id": "0",
        "ticket_types-0-name": "Standing",
        "ticket_types-0-kind": "ga",
        "ticket_types-0-price": "4500",
        "ticket_types-0-capacity": "100",
        **{f"ticket_types-{i}-kind": "seated" for i in (1, 2)},  # the form's empty rows, as a browser sends them
    }
    refused = web.post("/manage/events/new", {**form, "ticket_types-0-price": "45.50"}, follow_redirects=True)
    assert "JPY amounts have no decimals" in html.unescape(refused.get_data(as_text=True))
    created = web.post("/manage/events/new", form)
    assert created.status_code == 302, created.get_data(as_text=True)
    event_id = int(created.headers["Location"].rsplit("/", 1)[1])
    web.post(f"/manage/events/{event_id}/status", {"action": "publish"})  # pages make drafts
    page = web.get(f"/events/{event_id}").get_data(as_text=True)
    assert "¥4,500" in page and "service fee of ¥300" in page and "4500.00" not in page
    manage = web.get(f"/manage/events/{event_id}").get_data(as_text=True)
    assert 'value="4500"' in manage and "prices in JPY" in manage
    web.post(f"/manage/events/{event_id}/promos", {"code": "yen", "kind": "fixed", "value": "500"})
    assert "¥500" in web.get(f"/manage/events/{event_id}").get_data(as_text=True)
    assert web.get(f"/api/v1/events/{event_id}").json["currency"] == "JPY"
