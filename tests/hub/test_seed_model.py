"""Every behaviour of the seed dmuth/ticket-sales seat-lock model, and its flaws fixed.

Seed model: check a seat, lock it, a second lock is refused, claim (buy) it,
unlock it, unknown section/row/seat, counts, expired locks released. Flaws
fixed here: an expired lock cannot be claimed; a stranger cannot unlock or claim.
"""

from __future__ import annotations

from datetime import timedelta

from hub.services import holds as hold_service
from hub.services import orders as order_service
from hub.services.clock import utcnow

from .helpers import buy, create_event, seat


def hold(client, event_id, *seats, **extra):
    return client.post(f"/api/v1/events/{event_id}/holds", json={"seats": list(seats), **extra})


def test_check_lock_second_lock_refused_claim(client, organizer):
    event = create_event(client, organizer, rows=2, seats=3)
    url = f"/api/v1/events/{event['id']}/seats/A/1/2"
    assert client.get(url).json["status"] == "available"

    first = hold(client, event["id"], seat("A", "1", "2"))
    assert first.status_code == 201
    assert client.get(url).json["status"] == "held"

    second = hold(client, event["id"], seat("A", "1", "2"))
    assert second.status_code == 409
    assert second.json["error"]["code"] == "seats_unavailable"

    order = buy(client, first.json)
    assert order.status_code == 201
    assert client.get(url).json["status"] == "sold"
    assert hold(client, event["id"], seat("A", "1", "2")).status_code == 409


def test_unlock_makes_the_seat_available_again(client, organizer):
    event = create_event(client, organizer, rows=1, seats=2)
    held = hold(client, event["id"], seat("A", "1", "1")).json
    response = client.delete(f"/api/v1/holds/{held['hold_id']}", headers={"X-Hold-Token": held["hold_token"]})
    assert response.status_code == 204
    assert client.get(f"/api/v1/events/{event['id']}/seats/A/1/1").json["status"] == "available"
    # a released hold cannot be bought or released again
    assert buy(client, held).json["error"]["code"] == "hold_released"
    again = client.delete(f"/api/v1/holds/{held['hold_id']}", headers={"X-Hold-Token": held["hold_token"]})
    assert again.status_code == 409
    assert hold(client, event["id"], seat("A", "1", "1")).status_code == 201


def test_unknown_section_row_seat(client, organizer):
    event = create_event(client, organizer, rows=2, seats=2)
    base = f"/api/v1/events/{event['id']}/seats"
    for path, code in (
        (f"{base}/Z/1/1", "unknown_section"),
        (f"{base}/A/9/1", "unknown_row"),
        (f"{base}/A/1/99", "unknown_seat"),
    ):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json["error"]["code"] == code
    response = hold(client, event["id"], seat("A", "1", "1"), seat("A", "7", "1"))
    assert response.status_code == 404 and response.json["error"]["code"] == "unknown_row"
    # all or nothing: the known seat was not held either
    assert client.get(f"{base}/A/1/1").json["status"] == "available"


def test_counts(client, organizer):
    event = create_event(client, organizer, rows=3, seats=4)
    seats_url = f"/api/v1/events/{event['id']}/seats"
    assert client.get(seats_url).json["num_available"] == 12
    held = hold(client, event["id"], seat("A", "1", "1"), seat("A", "1", "2")).json
    assert client.get(seats_url).json["num_available"] == 10
    buy(client, held)
    other = hold(client, event["id"], seat("A", "2", "1")).json
    seat_map = client.get(seats_url).json
    assert seat_map["num_available"] == 9
    statuses = [s["status"] for s in seat_map["seats"]]
    assert statuses.count("sold") == 2 and statuses.count("held") == 1
    client.delete(f"/api/v1/holds/{other['hold_id']}", headers={"X-Hold-Token": other["hold_token"]})
    assert client.get(seats_url).json["num_available"] == 10


def test_expired_locks_are_released_with_or_without_the_sweeper(app, client, organizer):
    event = create_event(client, organizer, rows=1, seats=3)
    # A hold made 11 minutes ago with the default 10-minute TTL has expired by now.
    past = utcnow() - timedelta(minutes=11)
    with app.extensions["tickethub.engine"].connect() as conn:
        stale = hold_service.hold_seats(conn, event["id"], [("A", "1", "1")], now=past)
        swept = hold_service.hold_seats(conn, event["id"], [("A", "1", "2")], now=past)
    url = f"/api/v1/events/{event['id']}/seats/A/1/"
    # not swept: still reported and sellable as available
    assert client.get(url + "1").json["status"] == "available"
    assert client.get(f"/api/v1/events/{event['id']}/seats").json["num_available"] == 3
    assert hold(client, event["id"], seat("A", "1", "1")).status_code == 201
    # the sweeper marks the other one expired and frees its seat
    with app.extensions["tickethub.engine"].connect() as conn:
        assert hold_service.sweep_expired(conn) == 2
        assert hold_service.get_hold(conn, swept["hold_id"], swept["hold_token"])["status"] == "expired"
    assert client.get(url + "2").json["status"] == "available"
    assert stale["hold_id"] != swept["hold_id"]


def test_expired_lock_cannot_be_claimed(app, client, organizer):
    event = create_event(client, organizer, rows=1, seats=2)
    held = hold(client, event["id"], seat("A", "1", "1")).json
    later = utcnow() + timedelta(minutes=10, seconds=1)
    with app.extensions["tickethub.engine"].connect() as conn:
        try:
            order_service.purchase(
                conn,
                held["hold_id"],
                held["hold_token"],
                {"name": "B", "email": "b@x.org"},
                "free",
                app.extensions["tickethub.keys"].current(),
                now=later,
            )
        except order_service.Conflict as exc:
            assert exc.code == "hold_expired"
        else:
            raise AssertionError("an expired hold was sold")
    # nothing was sold; over HTTP an already-expired hold is refused the same way
    assert client.get(f"/api/v1/events/{event['id']}/seats/A/1/1").json["status"] == "held"
    with app.extensions["tickethub.engine"].connect() as conn:
        old = hold_service.hold_seats(conn, event["id"], [("A", "1", "2")], now=utcnow() - timedelta(hours=1))
    response = buy(client, old)
    assert response.status_code == 409 and response.json["error"]["code"] == "hold_expired"
    assert client.get(f"/api/v1/events/{event['id']}/seats/A/1/2").json["status"] == "available"


def test_a_stranger_cannot_unlock_or_claim(client, organizer):
    event = create_event(client, organizer, rows=1, seats=2)
    held = hold(client, event["id"], seat("A", "1", "1")).json
    for token in ("wrong-token", ""):
        response = client.delete(f"/api/v1/holds/{held['hold_id']}", headers={"X-Hold-Token": token})
        assert response.status_code == 403
        assert response.json["error"]["code"] == "bad_hold_token"
    assert client.delete(f"/api/v1/holds/{held['hold_id']}").status_code == 403
    stolen = buy(client, {"hold_id": held["hold_id"], "hold_token": "guess"})
    assert stolen.status_code == 403
    assert client.get(f"/api/v1/events/{event['id']}/seats/A/1/1").json["status"] == "held"
    assert buy(client, held).status_code == 201
