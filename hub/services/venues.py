"""Venues: sections, rows and seats. A seat's `position` is its index in the seat map."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from ..db import atomic
from ..schema import venue_seats, venues
from .clock import utcnow
from .errors import Invalid, NotFound
from .validate import either, fail, integer, list_of, obj, string

MAX_SEATS_PER_ROW = 1000
MAX_VENUE_SEATS = 100_000



def _seat_part(max_len: int):
    """A section, row or seat name: it is a path segment of /events/{id}/seats/{section}/{row}/{seat}."""
    text = string(max_len, 1)

    def check(value, where):
        value = text(value, where)
        if "/" in value:
            fail(where, "may not contain '/' (seats are addressed as .../seats/{section}/{row}/{seat})")
        return value
    return check


_label = _seat_part(20)
VENUE_SPEC = obj(
    required={
        "name": string(200, 1),
        "sections": list_of(obj(
            required={"name": _seat_part(100), "rows": list_of(obj(
                required={"name": _seat_part(20),
                          "seats": either(integer(1, MAX_SEATS_PER_ROW),
                                          list_of(_label, MAX_SEATS_PER_ROW, 1))},
            ), 1000, 1)},
        ), 200, 1),
    },
)


def create_venue(conn: Connection, data: dict, owner_id: int | None = None, now: datetime | None = None) -> dict:
    """Create a venue from {"name", "sections": [{"name", "rows": [{"name", "seats": N | [labels]}]}]}."""
    spec = VENUE_SPEC(data, "venue")
    seats = []
    seen_sections, seen_rows = set(), set()
    for s_idx, section in enumerate(spec["sections"]):
        if section["name"] in seen_sections:
            raise Invalid(f"section {section['name']!r} appears twice", "duplicate_section")
        seen_sections.add(section["name"])
        for r_idx, row in enumerate(section["rows"]):
            key = (section["name"], row["name"])
            if key in seen_rows:
                raise Invalid(f"row {row['name']!r} appears twice in section {section['name']!r}", "duplicate_row")
            seen_rows.add(key)
            labels = ([str(n) for n in range(1, row["seats"] + 1)]
                      if isinstance(row["seats"], int) else row["seats"])
            if len(set(labels)) != len(labels):
                raise Invalid(f"row {row['name']!r} of section {section['name']!r} repeats a seat label",
                              "duplicate_seat")
            for seat_idx, label in enumerate(labels):
                seats.append({"section": section["name"], "row": row["name"], "label": label,
                              "section_order": s_idx, "row_order": r_idx, "seat_order": seat_idx})
    if len(seats) > MAX_VENUE_SEATS:
        raise Invalid(f"a venue has at most {MAX_VENUE_SEATS} seats", "too_many_seats")
    with atomic(conn):
        venue_id = conn.execute(insert(venues).values(
            name=spec["name"], owner_id=owner_id, created_at=now or utcnow()).returning(venues.c.id)).scalar_one()
        for position, seat in enumerate(seats):
            seat.update(venue_id=venue_id, position=position)
        for start in range(0, len(seats), 5000):
            conn.execute(insert(venue_seats), seats[start:start + 5000])
    return get_venue(conn, venue_id)


def get_venue(conn: Connection, venue_id: int) -> dict:
    row = conn.execute(select(venues).where(venues.c.id == venue_id)).mappings().first()
    if row is None:
        raise NotFound(f"no venue {venue_id}", "venue_not_found")
    sections: dict[str, dict[str, list[str]]] = {}
    for seat in conn.execute(select(venue_seats.c.section, venue_seats.c.row, venue_seats.c.label)
                             .where(venue_seats.c.venue_id == venue_id).order_by(venue_seats.c.position)):
        sections.setdefault(seat.section, {}).setdefault(seat.row, []).append(seat.label)
    return {
        "id": row["id"], "name": row["name"], "owner_id": row["owner_id"],
        "num_seats": sum(len(labels) for rows in sections.values() for labels in rows.values()),
        "sections": [{"name": name, "rows": [{"name": r, "seats": labels} for r, labels in rows.items()]}
                     for name, rows in sections.items()],
    }


def list_venues(conn: Connection, owner_id: int | None = None) -> list[dict]:
    query = (select(venues.c.id, venues.c.name, venues.c.owner_id, func.count(venue_seats.c.id).label("num_seats"))
             .outerjoin(venue_seats, venue_seats.c.venue_id == venues.c.id)
             .group_by(venues.c.id, venues.c.name, venues.c.owner_id).order_by(venues.c.id))
    if owner_id is not None:
        query = query.where(venues.c.owner_id == owner_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def seat_labels(conn: Connection, venue_id: int) -> list[str]:
    """Human labels where list index == seat index in signed tickets ("Section A, Row 3, Seat 12")."""
    rows = conn.execute(select(venue_seats.c.section, venue_seats.c.row, venue_seats.c.label)
                        .where(venue_seats.c.venue_id == venue_id).order_by(venue_seats.c.position))
    return [f"Section {r.section}, Row {r.row}, Seat {r.label}" for r in rows]
