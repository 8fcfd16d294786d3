"""The seat check finds its seat through the venue's unique label index (issue #12, found by
profiling: without the venue condition the look-up by label scanned venue_seats, 5.5 ms instead of
0.014 ms on a 10,000-seat venue on SQLite, and a sequential scan on PostgreSQL).

The route answers from the in-memory seat map (services.seatmap); the database look-up checked
here is what answers a seat the map does not know yet (and names which part is unknown)."""

from __future__ import annotations

import re
from contextlib import contextmanager

from sqlalchemy import event

from .helpers import create_event


@contextmanager
def _statements(engine):
    """Every SQL statement (text, parameters) the engine sends while the block runs."""
    sent = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany):
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _plan(engine, statement: str, parameters) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            return "\n".join(row[-1] for row in rows)
        conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: ask which index the planner can use
        return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters).all())


def test_the_seat_check_looks_the_seat_up_by_the_label_index(app, client, organizer):
    from hub.services.events import check_seat

    shown = create_event(client, organizer, rows=20, seats=20, sections=("A", "B"))
    engine = app.extensions["tickethub.engine"]
    with engine.connect() as conn, _statements(engine) as sent:
        found = check_seat(conn, shown["id"], "B", "7", "12")
    assert found["seat"] == "12" and found["status"] == "available"
    by_label = [(sql, params) for sql, params in sent if "venue_seats" in sql and "label" in sql.split("WHERE")[-1]]
    assert len(by_label) == 1, sent
    plan = _plan(engine, *by_label[0])
    if engine.dialect.name == "sqlite":  # the unique constraint is an automatic index there
        assert re.search(
            r"SEARCH venue_seats USING (COVERING )?INDEX \S+ \(venue_id=\? AND section=\? AND row=\? "
            r"AND label=\?\)",
            plan,
        ), plan
        assert "SCAN venue_seats" not in plan, plan
    else:  # an index seek on the venue, not a whole-index scan with a filter
        assert re.search(r"Index (Only )?Scan using \w+ on venue_seats.*\n\s+Index Cond: \(.*venue_id = ", plan), plan
