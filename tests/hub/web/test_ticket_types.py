"""Ticket types edited after the event exists (services.event_admin.update_ticket_type), on SQLite and
PostgreSQL: rename, price, hide, standing quota, sale window, sections of the venue; and the page route."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.services import event_admin, holds
from hub.services.clock import iso, utcnow
from hub.services.errors import Conflict, Invalid, NotFound
from hub.services.events import create_event, get_event, seat_map
from hub.services.orders import confirm_payment, purchase
from hub.services.venues import create_venue
from tests.hub.web.support import grid_layout


@pytest.fixture
def two_sections(engine, make_account):
    organizer = make_account("organizer", "org@example.org")
    with engine.connect() as conn:
        venue = create_venue(
            conn, grid_layout(rows=1, seats=4, sections=("Stalls", "Balcony")), owner_id=organizer["id"]
        )
        event = create_event(
            conn,
            {
                "title": "Types",
                "starts_at": iso(utcnow() + timedelta(days=5)),
                "venue_id": venue["id"],
                "ticket_types": [
                    {"name": "Seat", "kind": "seated", "price": 3000, "sections": ["Stalls"]},
                    {"name": "Standing", "kind": "ga", "price": 1000, "capacity": 5},
                ],
            },
            organizer_id=organizer["id"],
        )
    seated, standing = (t["id"] for t in event["ticket_types"])
    return {"event": event, "seated": seated, "standing": standing, "organizer": organizer}


def test_rename_price_sections_and_window(engine, two_sections):
    event_id, seated = two_sections["event"]["id"], two_sections["seated"]
    with engine.connect() as conn:
        assert seat_map(conn, event_id)["num_seats"] == 4  # Stalls only
        assert event_admin.venue_sections(conn, two_sections["event"]["venue_id"]) == ["Stalls", "Balcony"]
        changed = event_admin.update_ticket_type(
            conn, event_id, seated, {"name": "Stalls & Balcony", "price": 3500, "sections": ["Stalls", "Balcony"]}
        )
        assert (changed["name"], changed["price"], changed["sections"]) == (
            "Stalls & Balcony",
            3500,
            ["Balcony", "Stalls"],
        )
        assert seat_map(conn, event_id)["num_seats"] == 8  # the balcony's seats joined the inventory
        assert len(holds.hold_seats(conn, event_id, [("Balcony", "1", "2")])["seats"]) == 1  # now on sale
        later = iso(utcnow() + timedelta(days=1))
        event_admin.update_ticket_type(conn, event_id, seated, {"sales_start": later})
        with pytest.raises(Conflict, match="no ticket type is on sale for section"):
            holds.hold_seats(conn, event_id, [("Stalls", "1", "1")])
        cleared = event_admin.update_ticket_type(conn, event_id, seated, {"sales_start": None})
        assert cleared["sales_start"] is None
        holds.hold_seats(conn, event_id, [("Stalls", "1", "1")])
        with pytest.raises(Invalid, match="sales_end must be after"):
            event_admin.update_ticket_type(conn, event_id, seated, {"sales_start": later, "sales_end": later})
        with pytest.raises(Invalid, match="unknown section"):
            event_admin.update_ticket_type(conn, event_id, seated, {"sections": ["Pit"]})
        with pytest.raises(Invalid, match="capacity is its seats"):
            event_admin.update_ticket_type(conn, event_id, seated, {"capacity": 10})
        with pytest.raises(NotFound):
            event_admin.update_ticket_type(conn, event_id, 10**6, {"name": "x"})
        with pytest.raises(Invalid):
            event_admin.update_ticket_type(conn, event_id, seated, {"name": ""})


def test_hidden_types_are_not_offered_or_sold_and_quota_never_below_sold(app, engine, two_sections):
    event_id, standing = two_sections["event"]["id"], two_sections["standing"]
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        held = holds.hold_ga(conn, event_id, standing, 3)
        order = purchase(
            conn, held["hold_id"], held["hold_token"], {"name": "A", "email": "a@example.org"}, "box_office", signer
        )
        confirm_payment(conn, order["id"], signer)
        assert event_admin.type_sales(conn, event_id) == {standing: 3}
        with pytest.raises(Conflict, match="3 are sold already") as refused:
            event_admin.update_ticket_type(conn, event_id, standing, {"capacity": 2})
        assert refused.value.code == "capacity_below_sold"
        assert event_admin.update_ticket_type(conn, event_id, standing, {"capacity": 3})["capacity"] == 3
        event_admin.update_ticket_type(conn, event_id, standing, {"capacity": 10, "hidden": True})
        with pytest.raises(Conflict, match="not on sale"):
            holds.hold_ga(conn, event_id, standing, 1)
        assert [t["hidden"] for t in get_event(conn, event_id)["ticket_types"]] == [False, True]
    page = app.test_client().get(f"/events/{event_id}").get_data(as_text=True)
    assert "Standing" not in page and "Seat" in page


def test_the_page_route_saves_the_owners_changes_only(browser_client, new_browser, make_account, two_sections):
    event_id, seated = two_sections["event"]["id"], two_sections["seated"]
    browser_client.login("org@example.org")
    page = browser_client.get(f"/manage/events/{event_id}").get_data(as_text=True)
    assert f'name="t{seated}-sections" type="checkbox" value="Balcony"' in page
    saved = browser_client.post(
        f"/manage/events/{event_id}/ticket-types/{seated}",
        {
            f"t{seated}-name": "Front",
            f"t{seated}-price": "32.50",
            f"t{seated}-sections": ["Stalls", "Balcony"],
            f"t{seated}-zones": "1,2",
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Ticket type Front saved." in saved and "Balcony, Stalls" in saved
    make_account("organizer", "rival@example.org")
    rival = new_browser()
    rival.login("rival@example.org")
    rival.get("/manage")
    refused = rival.post(f"/manage/events/{event_id}/ticket-types/{seated}", {f"t{seated}-name": "Mine"})
    assert refused.status_code == 403
