"""Whether a seat is free now (hub.services.seats): the rule itself, and every reader of it agreeing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hub.schema import event_seats
from hub.services import events, holds, orders, storefront
from hub.services.seats import held_by, seat_is_free, seat_status

from .helpers import create_event


def test_a_seat_is_free_when_available_or_its_hold_ran_out_never_when_held_live_or_sold(app, client, organizer):
    event = create_event(client, organizer, rows=1, seats=4)
    event_id = event["id"]
    now = datetime.now(UTC)
    engine = app.extensions["tickethub.engine"]
    with engine.connect() as conn:
        # seat 1: its hold ran out a minute ago and nobody swept it; seat 2: held for ten more minutes;
        # seat 3: sold; seat 4: never touched
        ran_out = holds.hold_seats(conn, event_id, [("A", "1", "1")], ttl_seconds=60, now=now - timedelta(minutes=2))
        live = holds.hold_seats(conn, event_id, [("A", "1", "2")], ttl_seconds=600, now=now)
        sold = holds.hold_seats(conn, event_id, [("A", "1", "3")], now=now)
        orders.purchase(
            conn,
            sold["hold_id"],
            sold["hold_token"],
            {"name": "B", "email": "b@example.org"},
            "free",
            app.extensions["tickethub.keys"].current(),
            now=now,
        )
        rows = conn.execute(
            select(
                event_seats.c.position,
                event_seats.c.status,
                seat_is_free(now),
                seat_status(now),
                held_by(ran_out["hold_id"], now),
                held_by(live["hold_id"], now),
            )
            .where(event_seats.c.event_id == event_id)
            .order_by(event_seats.c.position)
        ).all()
        assert [tuple(r) for r in rows] == [
            (0, "held", True, "available", False, False),  # stored as held, but its time is up
            (1, "held", False, "held", False, True),
            (2, "sold", False, "sold", False, False),
            (3, "available", True, "available", False, False),
        ]
        # every page and answer that shows seats says the same
        shown = [s["status"] for s in events.seat_map(conn, event_id, now)["seats"]]
        assert shown == ["available", "held", "sold", "available"]
        assert [events.check_seat(conn, event_id, "A", "1", label, now)["status"] for label in "1234"] == shown
        seat_type = event["ticket_types"][0]["id"]
        assert storefront.availability(conn, events.get_event(conn, event_id), now) == {seat_type: 2}
        # and the seat whose hold ran out can be held again at once, the live one cannot
        assert holds.hold_seats(conn, event_id, [("A", "1", "1")], now=now)["quantity"] == 1
        assert holds.hold_best_available(conn, event_id, 1, now=now)["seats"][0]["seat"] == "4"
        assert events.seat_map(conn, event_id, now)["num_available"] == 0
        # ten minutes on, the live hold has run out too
        later = now + timedelta(minutes=11)
        assert events.check_seat(conn, event_id, "A", "1", "2", later)["status"] == "available"
