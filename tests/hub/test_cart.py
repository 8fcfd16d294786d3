"""A buyer's cart is one seat hold that changes in place (holds.change_seats): all or nothing, one
countdown, named seats when someone else was faster, a ticket type chosen per seat; and, raced from
many threads on SQLite and PostgreSQL, never a seat held or sold twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hub.schema import event_seats
from hub.services import holds, orders
from hub.services.errors import Conflict

from .helpers import create_event

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def event(client, organizer):
    return create_event(
        client,
        organizer,
        rows=2,
        seats=5,
        price=3500,
        release_at=NOW - timedelta(days=1),
        extra_types=[{"name": "Stalls", "kind": "seated", "price": 4500}],
        starts_at=(NOW + timedelta(days=10)).isoformat(),  # ahead of the pinned clock: unpaid orders get time to pay
    )


def _seats_of(conn, hold_id):
    return conn.execute(
        select(func.count())
        .select_from(event_seats)
        .where(event_seats.c.hold_id == hold_id, event_seats.c.status == "held")
    ).scalar_one()


def test_a_cart_changes_its_seats_in_place_keeping_id_token_and_countdown(engine, event):
    with engine.connect() as conn:
        cart = holds.hold_seats(conn, event["id"], [("A", "1", "1"), ("A", "1", "2")], now=NOW)
        later = NOW + timedelta(minutes=3)
        changed = holds.change_seats(
            conn, cart["hold_id"], cart["hold_token"], [("A", "1", "2"), ("A", "2", "3")], now=later
        )
        assert changed["hold_id"] == cart["hold_id"] and changed["expires_at"] == cart["expires_at"]
        assert [(s["row"], s["seat"]) for s in changed["seats"]] == [("1", "2"), ("2", "3")]
        # the dropped seat is free for anyone at once
        other = holds.hold_seats(conn, event["id"], [("A", "1", "1")], now=later)
        assert other["quantity"] == 1
        assert holds.get_hold(conn, cart["hold_id"], cart["hold_token"], now=later)["quantity"] == 2
        assert _seats_of(conn, cart["hold_id"]) == 2


def test_a_change_that_hits_a_taken_seat_changes_nothing_and_names_the_seat(engine, event):
    with engine.connect() as conn:
        cart = holds.hold_seats(conn, event["id"], [("A", "1", "1")], now=NOW)
        holds.hold_seats(conn, event["id"], [("A", "2", "4")], now=NOW)
        with pytest.raises(holds.SeatsTaken) as taken:
            holds.change_seats(conn, cart["hold_id"], cart["hold_token"], [("A", "1", "2"), ("A", "2", "4")], now=NOW)
        assert taken.value.seats == [("A", "2", "4")]
        assert taken.value.code == "seats_unavailable"
        assert "Section A · Row 2 · Seat 4 was just taken" in taken.value.message
        held = holds.get_hold(conn, cart["hold_id"], cart["hold_token"], now=NOW)
        assert [(s["row"], s["seat"]) for s in held["seats"]] == [("1", "1")]  # unchanged
        # a new hold names the taken seat too
        with pytest.raises(holds.SeatsTaken) as again:
            holds.hold_seats(conn, event["id"], [("A", "1", "1"), ("A", "1", "5")], now=NOW)
        assert again.value.seats == [("A", "1", "1")]


def test_an_expired_or_bought_cart_cannot_change(engine, event):
    with engine.connect() as conn:
        cart = holds.hold_seats(conn, event["id"], [("A", "1", "1")], ttl_seconds=60, now=NOW)
        with pytest.raises(Conflict) as expired:
            holds.change_seats(
                conn, cart["hold_id"], cart["hold_token"], [("A", "1", "2")], now=NOW + timedelta(minutes=2)
            )
        assert expired.value.code == "hold_expired"


def test_the_buyer_chooses_a_ticket_type_per_seat(app, engine, event):
    stalls = next(t["id"] for t in event["ticket_types"] if t["name"] == "Stalls")
    with engine.connect() as conn:
        cart = holds.hold_seats(
            conn, event["id"], [("A", "1", "1"), ("A", "1", "2")], seat_types={("A", "1", "2"): stalls}, now=NOW
        )
        assert [s["ticket_type_id"] for s in cart["seats"]] == [event["ticket_types"][0]["id"], stalls]
        order = orders.purchase(
            conn,
            cart["hold_id"],
            cart["hold_token"],
            {"name": "Ada", "email": "ada@example.org"},
            "box_office",
            app.extensions["tickethub.keys"].current(),
            now=NOW,
        )
        assert order["total"] == 3500 + 4500
        with pytest.raises(Exception) as unknown:
            holds.hold_seats(conn, event["id"], [("A", "2", "1")], seat_types={("A", "2", "1"): 999999}, now=NOW)
        assert getattr(unknown.value, "code", None) == "ticket_type_not_found"


def test_carts_changing_at_once_never_share_a_seat(app, engine, event):
    """Eight carts keep swapping among the same ten seats from their own threads and connections; at any
    commit each seat belongs to at most one hold, and every cart holds what its last change said."""
    seats = [("A", row, str(n)) for row in ("1", "2") for n in range(1, 6)]
    with engine.connect() as conn:
        carts = [holds.hold_seats(conn, event["id"], [seat], now=NOW) for seat in seats[:8]]
    barrier = threading.Barrier(len(carts))
    last: dict[int, set] = {}
    errors: list[BaseException] = []

    def shopper(i: int, cart: dict) -> None:
        try:
            with engine.connect() as conn:
                barrier.wait()
                mine = {seats[i]}
                for step in range(12):
                    wanted = [seats[i], seats[(i + step) % len(seats)]] if step % 3 else [seats[(i + 2 * step) % 10]]
                    try:
                        holds.change_seats(
                            conn, cart["hold_id"], cart["hold_token"], list(dict.fromkeys(wanted)), now=NOW
                        )
                        mine = set(wanted)
                    except holds.SeatsTaken:
                        pass
                last[cart["hold_id"]] = mine
        except BaseException as exc:  # reported below, with the thread's traceback
            errors.append(exc)

    threads = [threading.Thread(target=shopper, args=(i, cart)) for i, cart in enumerate(carts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as conn:
        for cart in carts:
            held = holds.get_hold(conn, cart["hold_id"], cart["hold_token"], now=NOW)
            got = {(s["section"], s["row"], s["seat"]) for s in held["seats"]}
            assert got == last[cart["hold_id"]] and held["quantity"] == len(got)
        owners = conn.execute(
            select(event_seats.c.seat_id, func.count())
            .where(event_seats.c.hold_id.is_not(None))
            .group_by(event_seats.c.seat_id)
        ).all()
    assert all(n == 1 for _seat, n in owners)
    assert sum(len(mine) for mine in last.values()) == sum(1 for _ in owners)


def test_the_api_changes_a_carts_seats_with_the_hold_token(client, organizer):
    from .helpers import assert_documented, seat

    event = create_event(
        client,
        organizer,
        rows=1,
        seats=6,
        price=3500,
        extra_types=[{"name": "Stalls", "kind": "seated", "price": 4500}],
    )
    stalls = next(t["id"] for t in event["ticket_types"] if t["name"] == "Stalls")
    made = client.post(
        f"/api/v1/events/{event['id']}/holds",
        json={"seats": [seat("A", "1", "1"), {**seat("A", "1", "2"), "ticket_type": stalls}]},
    )
    assert made.status_code == 201 and made.json["seats"][1]["ticket_type_id"] == stalls
    url, token = f"/api/v1/holds/{made.json['hold_id']}/seats", {"X-Hold-Token": made.json["hold_token"]}
    changed = client.put(url, json={"seats": [seat("A", "1", "3")]}, headers=token)
    assert changed.status_code == 200, changed.json
    assert_documented(client, "put", "/api/v1/holds/{hold_id}/seats", changed)
    assert changed.json["hold_id"] == made.json["hold_id"] and changed.json["expires_at"] == made.json["expires_at"]
    assert [s["seat"] for s in changed.json["seats"]] == ["3"]
    assert client.get(f"/api/v1/events/{event['id']}/seats").json["num_available"] == 5
    other = client.post(f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", "4")]})
    taken = client.put(url, json={"seats": [seat("A", "1", "3"), seat("A", "1", "4")]}, headers=token)
    assert taken.status_code == 409 and taken.json["error"]["code"] == "seats_unavailable"
    assert "Seat 4 was just taken" in taken.json["error"]["message"]
    assert other.status_code == 201
    wrong = client.put(url, json={"seats": [seat("A", "1", "5")]}, headers={"X-Hold-Token": "nope"})
    assert wrong.status_code == 403 and wrong.json["error"]["code"] == "bad_hold_token"
    bad = client.put(url, json={"seats": []}, headers=token)
    assert bad.status_code == 422
