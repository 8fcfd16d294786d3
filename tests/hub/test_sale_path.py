"""The fast sale path (issue #12), on SQLite and PostgreSQL: a hold and a purchase are one write
transaction each with the fewest statements, tickets go in signed with one executemany, the
purchase answers from what it wrote, a best-available pick reads a bounded number of seats
inside its write transaction, and on PostgreSQL picks run side by side. (The no-oversell proof for
the same code is tests/hub/test_race.py.)
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, text

from common.signing import verify_ticket
from hub.services import holds, orders
from hub.services.holds import LOCKED_SCAN_SEATS
from tests.support import wait_for

from .helpers import create_event, ga_type

BUYER = {"name": "Ada", "email": "ada@example.org"}


class Statements:
    """What a connection sends while recording: each statement (whether it ran inside a hub.db.atomic
    write transaction, its bound values) and each transaction begun (a write transaction or a read)."""

    def __init__(self, engine):
        self.engine = engine
        self.sent: list[tuple[str, bool, dict | None]] = []
        self.begun: list[str] = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "begin", self._begin)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "begin", self._begin)

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("BEGIN"):
            return  # SQLite's BEGIN [IMMEDIATE], counted in `begun`
        values = context.compiled_parameters[0] if context.compiled is not None else None
        self.sent.append((" ".join(statement.split()), bool(conn.info.get("atomic_depth")), values))

    def _begin(self, conn):
        self.begun.append("write" if conn.info.get("atomic_depth") else "read")

    def sql(self) -> list[str]:
        return [statement for statement, _, _ in self.sent]


def _hold_best(engine, event_id: int, count: int) -> dict:
    with engine.connect() as conn:
        return holds.hold_best_available(conn, event_id, count)


def test_a_hold_is_one_write_transaction_of_four_statements(client, organizer, engine):
    """Four on SQLite; PostgreSQL adds one: the chosen seats locked (FOR UPDATE SKIP LOCKED, see
    holds._pick_block), which lets picks run side by side instead of one at a time."""
    event = create_event(client, organizer, rows=3, seats=10)
    _hold_best(engine, event["id"], 2)  # the venue's layout is read once per process, then kept
    with Statements(engine) as seen:
        hold = _hold_best(engine, event["id"], 3)
    assert len(hold["seats"]) == 3
    assert seen.begun == ["write"]
    # the event with its ticket types, the free seats, [their lock,] the new hold, the conditional UPDATE
    expected = 4 if engine.dialect.name == "sqlite" else 5
    assert len(seen.sent) == expected and all(inside for _, inside, _ in seen.sent), seen.sql()


def test_a_purchase_is_one_write_transaction_and_answers_with_what_it_stored(client, organizer, engine, app):
    event = create_event(client, organizer, rows=3, seats=10, ga_capacity=10)
    signer = app.extensions["tickethub.keys"].current()
    hold = _hold_best(engine, event["id"], 3)
    with Statements(engine) as seen, engine.connect() as conn:
        order = orders.purchase(conn, hold["hold_id"], hold["hold_token"], BUYER, "free", signer)
    assert seen.begun == ["write"]  # no look-up before it, no read of the order after it
    statements = seen.sql()
    # the hold (locked), its price, the order, the hold and seats marked, ticket ids, the tickets,
    # and in the same transaction the order.paid notification, its mail job and the look-up of the
    # organizer's webhook endpoints that want it (services.notifications, services.webhooks fan_out)
    assert len(statements) <= 10 and all(inside for _, inside, _ in seen.sent), statements
    assert sum(s.startswith(("INSERT INTO notifications", "INSERT INTO mail_jobs")) for s in statements) == 2
    assert sum(s.startswith("INSERT INTO tickets") for s in statements) == 1  # one executemany
    assert not [s for s in statements if s.startswith("UPDATE tickets")]  # signed before they went in

    with engine.connect() as conn:
        assert order == orders.get_order(conn, order["id"])
        ga_hold = holds.hold_ga(conn, event["id"], ga_type(event), 2)
        ga_order = orders.purchase(conn, ga_hold["hold_id"], ga_hold["hold_token"], BUYER, "free", signer)
        assert ga_order == orders.get_order(conn, ga_order["id"])
        pending_hold = _hold_best(engine, event["id"], 2)
        pending = orders.purchase(
            conn, pending_hold["hold_id"], pending_hold["hold_token"], BUYER, "box_office", signer
        )
        assert pending == orders.get_order(conn, pending["id"]) and pending["tickets"] == []

    assert [t["seat"]["seat"] for t in order["tickets"]] == [s["seat"] for s in hold["seats"]]
    ids = [t["ticket_id"] for t in order["tickets"] + ga_order["tickets"]]
    assert len(set(ids)) == 5 and ids == sorted(ids)
    keyring = app.extensions["tickethub.keys"].keyring()
    for ticket in order["tickets"] + ga_order["tickets"]:
        result = verify_ticket(ticket["code"], keyring, datetime.now(UTC))
        signed = result.ticket
        assert result.valid and (signed.ticket_id, signed.event_id, signed.ticket_type) == (
            ticket["ticket_id"],
            event["id"],
            ticket["ticket_type_id"],
        )
        assert signed.seat == (ticket["seat"]["index"] if ticket["seat"] else None)


def _positions_read_under_the_write_lock(seen: Statements) -> int:
    """How many free-seat positions the statements run inside the write transaction could return
    (the sum of their LIMITs)."""
    total = 0
    for statement, inside, values in seen.sent:
        if inside and statement.startswith("SELECT event_seats.position FROM event_seats"):
            total += values["page"] if "page" in values else values["param_1"]  # the LIMIT, by its bind name
    return total


def test_best_available_reads_a_bounded_number_of_seats_under_the_write_lock(client, organizer, engine):
    """70 rows of 50 seats with every other seat sold, then 10 free rows: the front-most pair of
    adjacent seats is in row 71, behind 1,750 free single seats. The pick finds it, but reads at
    most about LOCKED_SCAN_SEATS of them while other buyers wait for the lock."""
    event = create_event(client, organizer, rows=80, seats=50)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE event_seats SET status = 'sold' WHERE event_id = :e AND position < 3500 AND position % 2 = 0"),
            {"e": event["id"]},
        )
    _hold_best(engine, event["id"], 1)  # the layout is read once per process, then kept
    with Statements(engine) as seen:
        pair = _hold_best(engine, event["id"], 2)
    assert {s["row"] for s in pair["seats"]} == {"71"}
    assert abs(int(pair["seats"][0]["seat"]) - int(pair["seats"][1]["seat"])) == 1
    assert _positions_read_under_the_write_lock(seen) <= LOCKED_SCAN_SEATS + 256, seen.sql()


def test_postgresql_picks_pass_over_seats_another_transaction_is_taking(client, organizer, engine):
    """No event lock serialises best-available picks on PostgreSQL: while another transaction has the
    centre of the row locked (a pick in flight, not yet committed), a pick neither waits for it nor
    fails, but takes the next best seats."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's row locks (SQLite serialises picks with BEGIN IMMEDIATE)")
    event = create_event(client, organizer, rows=1, seats=10)
    picked: list = []
    with engine.connect() as taker:
        taker.execute(
            text("SELECT seat_id FROM event_seats WHERE event_id = :e AND position BETWEEN 3 AND 5 FOR UPDATE"),
            {"e": event["id"]},
        )
        picker = threading.Thread(target=lambda: picked.append(_hold_best(engine, event["id"], 3)), daemon=True)
        picker.start()
        try:
            wait_for(lambda: picked, 20, "a pick beside the seats being taken")
        finally:
            taker.rollback()  # lets a pick that waited for the lock finish
            picker.join(60)
    assert not {s["index"] for s in picked[0]["seats"]} & {3, 4, 5}
    assert [s["seat"] for s in picked[0]["seats"]] in (["1", "2", "3"], ["7", "8", "9"], ["8", "9", "10"])


def _waiting_for_a_lock(engine) -> int:
    with engine.connect() as conn:  # a fresh transaction: pg_stat_activity is a snapshot per transaction
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar()


def test_postgresql_a_pick_waits_when_only_seats_being_taken_are_left(client, organizer, engine):
    """Every free seat is locked by a transaction in flight: the pick neither answers 409 (seats may
    still come free) nor deadlocks; it waits for that transaction and takes what it left."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's row locks (SQLite serialises picks with BEGIN IMMEDIATE)")
    event = create_event(client, organizer, rows=1, seats=3)
    picked: list = []
    with engine.connect() as taker:
        taker.execute(text("SELECT seat_id FROM event_seats WHERE event_id = :e FOR UPDATE"), {"e": event["id"]})
        picker = threading.Thread(target=lambda: picked.append(_hold_best(engine, event["id"], 1)), daemon=True)
        picker.start()
        try:
            wait_for(lambda: _waiting_for_a_lock(engine), 20, "the pick to wait for the seats' lock")
            assert not picked
            taker.execute(
                text("UPDATE event_seats SET status = 'sold' WHERE event_id = :e AND position < 2"), {"e": event["id"]}
            )
        finally:
            taker.commit()
            picker.join(60)
    assert [s["index"] for s in picked[0]["seats"]] == [2]


def test_postgresql_connections_are_recycled_not_pinged_on_every_request(app, engine):
    """A pre-ping is a round trip on every checkout, i.e. on every request; connections are renewed
    after DB_POOL_RECYCLE_SECONDS instead."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's connection pool (a SQLite connection is a local file)")
    assert engine.pool._pre_ping is False
    assert engine.pool._recycle == app.config["DB_POOL_RECYCLE_SECONDS"] == 1800
