"""Venues: sections, rows and seats. A seat's `position` is its index in the seat map.

A venue is built once (`create_venue`) and may later grow (`edit_venue`): both
check their input with the same spec and place seats with the same builder
(`_Layout`), so an edit refuses whatever creation refuses.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from ..db import atomic
from ..schema import venue_seats, venues
from .clock import utcnow
from .errors import Invalid, NotFound
from .validate import either, fail, integer, list_of, obj, string, with_schema

MAX_SEATS_PER_ROW = 1000
MAX_ROWS_PER_SECTION = 1000
MAX_SECTIONS = 200
MAX_VENUE_SEATS = 100_000


def _seat_part(max_len: int):
    """A section, row or seat name: it is a path segment of /events/{id}/seats/{section}/{row}/{seat}."""
    text = string(max_len, 1)

    def check(value, where):
        value = text(value, where)
        if "/" in value:
            fail(where, "may not contain '/' (seats are addressed as .../seats/{section}/{row}/{seat})")
        return value

    return with_schema(check, lambda: {**text.json_schema(), "pattern": r"^[^/]*[^/\s][^/]*$"})


_label = _seat_part(20)
VENUE_NAME = string(200, 1)
SECTIONS = list_of(
    obj(
        required={
            "name": _seat_part(100),
            "rows": list_of(
                obj(
                    required={
                        "name": _seat_part(20),
                        "seats": either(integer(1, MAX_SEATS_PER_ROW), list_of(_label, MAX_SEATS_PER_ROW, 1)),
                    },
                ),
                MAX_ROWS_PER_SECTION,
                1,
            ),
        },
    ),
    MAX_SECTIONS,
    1,
)
VENUE_SPEC = obj(required={"name": VENUE_NAME, "sections": SECTIONS})
VENUE_CHANGES = obj(optional={"name": VENUE_NAME, "sections": SECTIONS})  # sections: rows and sections to add


class _Layout:
    """Where a venue's seats stand, and where new rows and sections go: after all of them.

    Existing seats never move (signed tickets carry a seat's position). Rows may
    be added to an existing section, never seats to an existing row.
    """

    def __init__(self, rows=(), num_seats: int = 0, next_position: int = 0):
        # rows: (section, row, section_order, row_order) of the rows the venue has
        self.section_order: dict[str, int] = {}
        self.row_order: dict[str, dict[str, int]] = {}
        for r in rows:
            self.section_order[r.section] = r.section_order
            self.row_order.setdefault(r.section, {})[r.row] = r.row_order
        self.existing_rows = {(section, row) for section, rows_of in self.row_order.items() for row in rows_of}
        self.num_seats = num_seats
        self.next_position = next_position

    @classmethod
    def of_venue(cls, conn: Connection, venue_id: int) -> _Layout:
        of_venue = venue_seats.c.venue_id == venue_id
        rows = conn.execute(
            select(venue_seats.c.section, venue_seats.c.row, venue_seats.c.section_order, venue_seats.c.row_order)
            .distinct()
            .where(of_venue)
        ).all()
        num_seats, last = conn.execute(select(func.count(), func.max(venue_seats.c.position)).where(of_venue)).one()
        return cls(rows, num_seats, 0 if last is None else last + 1)

    def add(self, sections: list[dict]) -> list[dict]:
        """venue_seats rows (without venue_id) for `sections` as checked by SECTIONS."""
        seats: list[dict] = []
        named = set()
        for section in sections:
            name = section["name"]
            if name in named:
                raise Invalid(f"section {name!r} appears twice", "duplicate_section")
            named.add(name)
            if name not in self.section_order:
                if len(self.section_order) >= MAX_SECTIONS:
                    raise Invalid(f"a venue has at most {MAX_SECTIONS} sections", "too_many_sections")
                self.section_order[name] = max(self.section_order.values(), default=-1) + 1
            row_order = self.row_order.setdefault(name, {})
            for row in section["rows"]:
                seats += self._row(name, self.section_order[name], row_order, row)
        if self.num_seats + len(seats) > MAX_VENUE_SEATS:
            raise Invalid(f"a venue has at most {MAX_VENUE_SEATS} seats", "too_many_seats")
        for position, seat in enumerate(seats, self.next_position):
            seat["position"] = position
        self.num_seats += len(seats)
        self.next_position += len(seats)
        return seats

    def _row(self, section: str, section_order: int, row_order: dict[str, int], row: dict) -> list[dict]:
        name = row["name"]
        if (section, name) in self.existing_rows:
            raise Invalid(f"row {name} of section {section} exists; add new rows only", "duplicate_row")
        if name in row_order:
            raise Invalid(f"row {name!r} appears twice in section {section!r}", "duplicate_row")
        if len(row_order) >= MAX_ROWS_PER_SECTION:
            raise Invalid(f"a section has at most {MAX_ROWS_PER_SECTION} rows", "too_many_rows")
        row_order[name] = max(row_order.values(), default=-1) + 1
        labels = [str(n) for n in range(1, row["seats"] + 1)] if isinstance(row["seats"], int) else row["seats"]
        if len(set(labels)) != len(labels):
            raise Invalid(f"row {name!r} of section {section!r} repeats a seat label", "duplicate_seat")
        return [
            {
                "section": section,
                "row": name,
                "label": label,
                "section_order": section_order,
                "row_order": row_order[name],
                "seat_order": seat_order,
            }
            for seat_order, label in enumerate(labels)
        ]


def _insert_seats(conn: Connection, venue_id: int, seats: list[dict]) -> None:
    for seat in seats:
        seat["venue_id"] = venue_id
    for start in range(0, len(seats), 5000):
        conn.execute(insert(venue_seats), seats[start : start + 5000])


def create_venue(conn: Connection, data: dict, owner_id: int | None = None, now: datetime | None = None) -> dict:
    """Create a venue from {"name", "sections": [{"name", "rows": [{"name", "seats": N | [labels]}]}]}."""
    spec = VENUE_SPEC(data, "venue")
    seats = _Layout().add(spec["sections"])
    with atomic(conn):
        venue_id = conn.execute(
            insert(venues)
            .values(name=spec["name"], owner_id=owner_id, created_at=now or utcnow())
            .returning(venues.c.id)
        ).scalar_one()
        _insert_seats(conn, venue_id, seats)
    return get_venue(conn, venue_id)


def edit_venue(
    conn: Connection, venue_id: int, *, name: str | None = None, add_sections: list[dict] | None = None
) -> int:
    """Rename a venue and/or append rows and sections; returns the number of seats added.

    The same checks as `create_venue`, on the venue as it will be. Events
    already created keep their seats; an organizer adds a ticket type to put
    new sections on sale.
    """
    spec = VENUE_CHANGES({"name": name, "sections": add_sections or None}, "venue")
    with atomic(conn):
        if conn.execute(select(venues.c.id).where(venues.c.id == venue_id).with_for_update()).first() is None:
            raise NotFound(f"no venue {venue_id}", "venue_not_found")
        if "name" in spec:
            conn.execute(update(venues).where(venues.c.id == venue_id).values(name=spec["name"]))
        seats = _Layout.of_venue(conn, venue_id).add(spec.get("sections", []))
        _insert_seats(conn, venue_id, seats)
    return len(seats)


def get_venue(conn: Connection, venue_id: int) -> dict:
    row = conn.execute(select(venues).where(venues.c.id == venue_id)).mappings().first()
    if row is None:
        raise NotFound(f"no venue {venue_id}", "venue_not_found")
    sections: dict[str, dict[str, list[str]]] = {}
    for seat in conn.execute(
        select(venue_seats.c.section, venue_seats.c.row, venue_seats.c.label)
        .where(venue_seats.c.venue_id == venue_id)
        .order_by(venue_seats.c.position)
    ):
        sections.setdefault(seat.section, {}).setdefault(seat.row, []).append(seat.label)
    return {
        "id": row["id"],
        "name": row["name"],
        "owner_id": row["owner_id"],
        "num_seats": sum(len(labels) for rows in sections.values() for labels in rows.values()),
        "sections": [
            {"name": name, "rows": [{"name": r, "seats": labels} for r, labels in rows.items()]}
            for name, rows in sections.items()
        ],
    }


def list_venues(conn: Connection, owner_id: int | None = None) -> list[dict]:
    query = (
        select(venues.c.id, venues.c.name, venues.c.owner_id, func.count(venue_seats.c.id).label("num_seats"))
        .outerjoin(venue_seats, venue_seats.c.venue_id == venues.c.id)
        .group_by(venues.c.id, venues.c.name, venues.c.owner_id)
        .order_by(venues.c.id)
    )
    if owner_id is not None:
        query = query.where(venues.c.owner_id == owner_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def seat_labels(conn: Connection, venue_id: int) -> list[str]:
    """Human labels where list index == seat index in signed tickets ("Section A, Row 3, Seat 12")."""
    rows = conn.execute(
        select(venue_seats.c.section, venue_seats.c.row, venue_seats.c.label)
        .where(venue_seats.c.venue_id == venue_id)
        .order_by(venue_seats.c.position)
    )
    return [f"Section {r.section}, Row {r.row}, Seat {r.label}" for r in rows]
