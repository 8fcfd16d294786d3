"""Door staff work for one organizer: the door pages, live dashboards and order APIs they use
show and act on that organizer's events only (hub.services.staff)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.services import staff as staff_service
from hub.services.holds import hold_seats
from hub.services.orders import confirm_payment, get_order, purchase
from hub.services.users import create_token, get_user_by_email
from tests.hub.web.support import Browser, make_event


def _sold(conn, signer, event, buyer: str, seat: str, paid: bool) -> dict:
    held = hold_seats(conn, event["id"], [("A", "1", seat)])
    order = purchase(
        conn,
        held["hold_id"],
        held["hold_token"],
        {"name": buyer, "email": f"{buyer}@example.org"},
        "box_office",
        signer,
    )
    return confirm_payment(conn, order["id"], signer) if paid else order


@pytest.fixture
def two_organizers(app, engine, make_account):
    """Organizers A and B, each with an event starting in three hours, one paid and one pending
    box-office order; door staff of A; door staff assigned to nobody."""
    signer = app.extensions["tickethub.keys"].current()
    world = {}
    with engine.connect() as conn:
        for name in ("a", "b"):
            organizer = make_account("organizer", f"org-{name}@example.org")
            event = make_event(conn, organizer["id"], title=f"Show {name.upper()}", starts_in=timedelta(hours=3))
            world[name] = {
                "organizer": organizer,
                "event": event,
                "paid": _sold(conn, signer, event, f"paid-{name}", "1", paid=True),
                "pending": _sold(conn, signer, event, f"pending-{name}", "2", paid=False),
            }
        staff_a = make_account("door_staff", "staff-a@example.org")
        staff_service.assign_staff(conn, staff_a["id"], world["a"]["organizer"]["id"])
        make_account("door_staff", "loose@example.org")
        world["tokens"] = {
            email: {"Authorization": "Bearer " + create_token(conn, get_user_by_email(conn, email)["id"], "test")[1]}
            for email in ("staff-a@example.org", "loose@example.org")
        }
    return world


def _logged_in(app, email: str) -> Browser:
    web = Browser(app.test_client())
    web.login(email)
    return web


def test_door_staff_see_only_their_organizers_events(app, two_organizers):
    a, b = two_organizers["a"], two_organizers["b"]
    web = _logged_in(app, "staff-a@example.org")
    door = web.get("/door").get_data(as_text=True)
    assert "Show A" in door and "Show B" not in door
    mine = web.get("/door/lookup?q=paid-a").get_data(as_text=True)
    theirs = web.get("/door/lookup?q=paid-b").get_data(as_text=True)
    assert "paid-a@example.org" in mine and "paid-b@example.org" not in theirs and "No ticket matches" in theirs
    for suffix in ("", "/panel", "/live.json"):
        assert web.get(f"/dashboard/events/{a['event']['id']}{suffix}").status_code == 200
        assert web.get(f"/dashboard/events/{b['event']['id']}{suffix}").status_code == 403


def test_door_staff_read_and_confirm_only_their_organizers_orders(app, client, engine, two_organizers):
    a, b = two_organizers["a"], two_organizers["b"]
    token = two_organizers["tokens"]["staff-a@example.org"]
    assert client.get(f"/api/v1/orders/{a['paid']['id']}", headers=token).status_code == 200
    other = client.get(f"/api/v1/orders/{b['paid']['id']}", headers=token)
    assert other.status_code == 403 and other.json["error"]["code"] == "not_your_event"
    ticket = b["paid"]["tickets"][0]["ticket_id"]
    assert client.get(f"/api/v1/tickets/{ticket}/qr.svg", headers=token).status_code == 403

    refused = client.post(f"/api/v1/orders/{b['pending']['id']}/confirm-payment", headers=token)
    assert refused.status_code == 403
    confirmed = client.post(f"/api/v1/orders/{a['pending']['id']}/confirm-payment", headers=token)
    assert confirmed.status_code == 200 and confirmed.json["status"] == "paid"
    with engine.connect() as conn:
        assert get_order(conn, b["pending"]["id"])["status"] == "pending"  # nothing changed on B's side


def test_unassigned_door_staff_work_nowhere_unless_the_hub_is_single_tenant(app, client, two_organizers):
    a = two_organizers["a"]
    token = two_organizers["tokens"]["loose@example.org"]
    web = _logged_in(app, "loose@example.org")
    door = web.get("/door")
    assert door.status_code == 403 and "not assigned to an organizer" in door.get_data(as_text=True)
    assert web.get(f"/dashboard/events/{a['event']['id']}").status_code == 403
    api = client.get(f"/api/v1/orders/{a['paid']['id']}", headers=token)
    assert api.status_code == 403 and api.json["error"]["code"] == "staff_unassigned"

    app.config["SINGLE_TENANT"] = True
    door = web.get("/door").get_data(as_text=True)
    assert "Show A" in door and "Show B" in door
    assert web.get(f"/dashboard/events/{two_organizers['b']['event']['id']}").status_code == 200
    assert client.get(f"/api/v1/orders/{a['paid']['id']}", headers=token).status_code == 200


def test_an_organizer_adds_door_staff_for_their_own_events(app, engine, two_organizers):
    organizer = _logged_in(app, "org-b@example.org")
    organizer.get("/manage/staff")
    added = organizer.post(
        "/manage/staff",
        {
            "email": "staff-b@example.org",
            "password": "door password",
            "organizer_id": str(two_organizers["a"]["organizer"]["id"]),
        },
    )
    assert added.status_code == 302
    listing = organizer.get("/manage/staff").get_data(as_text=True)
    assert "staff-b@example.org" in listing and "staff-a@example.org" not in listing  # only B's own staff
    with engine.connect() as conn:  # an organizer cannot place staff with someone else
        assert get_user_by_email(conn, "staff-b@example.org")["staff_of"] == two_organizers["b"]["organizer"]["id"]
    staff = Browser(app.test_client())
    staff.login("staff-b@example.org", "door password")
    door = staff.get("/door").get_data(as_text=True)
    assert "Show B" in door and "Show A" not in door


def test_an_admin_assigns_door_staff_to_an_organizer(app, engine, make_account, two_organizers):
    make_account("admin", "admin@example.org")
    admin = _logged_in(app, "admin@example.org")
    listing = admin.get("/manage/staff").get_data(as_text=True)
    assert "staff-a@example.org" in listing and "loose@example.org" in listing
    with engine.connect() as conn:
        loose = get_user_by_email(conn, "loose@example.org")
    organizer_b = two_organizers["b"]["organizer"]["id"]
    assert admin.post(f"/manage/staff/{loose['id']}/organizer", {"organizer_id": str(organizer_b)}).status_code == 302
    door = _logged_in(app, "loose@example.org").get("/door").get_data(as_text=True)
    assert "Show B" in door and "Show A" not in door
    customer = make_account("customer", "c@example.org")
    admin.get("/manage/staff")
    admin.post(f"/manage/staff/{customer['id']}/organizer", {"organizer_id": str(organizer_b)})
    with engine.connect() as conn:
        assert get_user_by_email(conn, "c@example.org")["staff_of"] is None  # only door staff work for someone


def test_cli_creates_door_staff_for_an_organizer(runner, engine, two_organizers):
    result = runner.invoke(
        [
            "users",
            "create",
            "--email",
            "gate@example.org",
            "--password",
            "door password",
            "--role",
            "door_staff",
            "--staff-of",
            "org-a@example.org",
        ]
    )
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        assert get_user_by_email(conn, "gate@example.org")["staff_of"] == two_organizers["a"]["organizer"]["id"]
    wrong = runner.invoke(
        [
            "users",
            "create",
            "--email",
            "gate2@example.org",
            "--password",
            "door password",
            "--role",
            "door_staff",
            "--staff-of",
            "paid-a@example.org",
        ]
    )
    assert wrong.exit_code != 0 and "no organizer or admin" in wrong.output
