"""Events (shows), their ticket types and per-event seat inventory."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, and_, func, insert, literal, or_, select

from ..db import atomic
from ..schema import event_seats, events, ticket_types, venue_seats, venues
from .clock import iso, utcnow
from .errors import Forbidden, Invalid, NotFound
from .seats import seat_status
from .validate import boolean, integer, list_of, obj, one_of, string, timestamp

MAX_PRICE = 10**9
PRICE = integer(0, MAX_PRICE)  # minor units (cents) of the event's currency

TICKET_TYPE_SPEC = obj(
    required={"name": string(200, 1), "kind": one_of("seated", "ga"), "price": PRICE},
    optional={
        "capacity": integer(1, 1_000_000),
        "sections": list_of(string(100, 1), 200),
        "sales_start": timestamp(),
        "sales_end": timestamp(),
        "zones": list_of(integer(1, 16), 16),
    },
)
# What an event is, the same when it is created (EVENT_SPEC) and when it is edited (EVENT_CHANGES).
EVENT_DETAILS = {
    "title": string(300, 1),
    "starts_at": timestamp(),
    "artist": string(300),
    "location": string(300),
    "description": string(10_000),
    "category": string(100),
    "ticket_release_at": timestamp(),
    "service_fee": integer(0, MAX_PRICE),
    # the on-sale waiting room (services.waiting_room); 0 a minute pauses admission
    "waiting_room": boolean(),
    "admit_per_minute": integer(0, 1_000_000),
    # minutes an unpaid order of each method is kept (services.orders.payment_due_at); a missing
    # method takes the hub's PAYMENT_DEADLINE_<METHOD>_MINUTES
    "payment_deadlines": obj(optional={method: integer(1, 366 * 24 * 60) for method in ("box_office", "card")}),
}
_REQUIRED_DETAILS = ("title", "starts_at")
EVENT_SPEC = obj(
    required={**{k: EVENT_DETAILS[k] for k in _REQUIRED_DETAILS}, "ticket_types": list_of(TICKET_TYPE_SPEC, 50, 1)},
    optional={**{k: v for k, v in EVENT_DETAILS.items() if k not in _REQUIRED_DETAILS}, "venue_id": integer(1)},
)
EVENT_CHANGES = obj(optional=EVENT_DETAILS)  # an edit changes any of the details, and only those
SORTS = {
    "starts_at": events.c.starts_at.asc(),
    "-starts_at": events.c.starts_at.desc(),
    "title": events.c.title.asc(),
    "-title": events.c.title.desc(),
}


def stored_details(spec: dict) -> dict:
    """Checked event details as their columns hold them (payment_deadlines is JSON text)."""
    if "payment_deadlines" in spec:
        return {**spec, "payment_deadlines": json.dumps(spec["payment_deadlines"], sort_keys=True)}
    return spec


def check_ticket_type(spec: dict, where: str) -> None:
    """What TICKET_TYPE_SPEC cannot say field by field; for a new event's ticket types and for one added later."""
    if spec["kind"] == "ga" and "capacity" not in spec:
        raise Invalid(f"{where}: a general admission ticket type needs a capacity", "missing_field")
    if spec["kind"] == "seated" and "capacity" in spec:
        raise Invalid(f"{where}: a seated ticket type's capacity is its seats", "invalid_field")
    if spec["kind"] == "ga" and spec.get("sections"):
        raise Invalid(f"{where}: sections only apply to seated ticket types", "invalid_field")
    if spec.get("sales_start") and spec.get("sales_end") and spec["sales_end"] <= spec["sales_start"]:
        raise Invalid(f"{where}: sales_end must be after sales_start", "invalid_field")


def create_event(conn: Connection, data: dict, organizer_id: int | None = None, now: datetime | None = None) -> dict:
    """Create an event with its ticket types and, for a venue, its seat inventory."""
    now = now or utcnow()
    spec = EVENT_SPEC(data, "event")
    seated = [t for t in spec["ticket_types"] if t["kind"] == "seated"]
    for i, t in enumerate(spec["ticket_types"]):
        check_ticket_type(t, f"event.ticket_types[{i}]")
    if seated and "venue_id" not in spec:
        raise Invalid("event: seated ticket types need a venue_id", "missing_field")
    with atomic(conn):
        section_names = set()
        if "venue_id" in spec:
            if conn.execute(select(venues.c.id).where(venues.c.id == spec["venue_id"])).first() is None:
                raise NotFound(f"no venue {spec['venue_id']}", "venue_not_found")
            section_names = set(
                conn.execute(
                    select(venue_seats.c.section).distinct().where(venue_seats.c.venue_id == spec["venue_id"])
                ).scalars()
            )
        for t in seated:
            unknown = sorted(set(t.get("sections", [])) - section_names)
            if unknown:
                raise Invalid(f"ticket type {t['name']!r}: unknown section(s) {', '.join(unknown)}", "unknown_section")
        event_id = conn.execute(
            insert(events)
            .values(
                organizer_id=organizer_id,
                title=spec["title"],
                artist=spec.get("artist", ""),
                location=spec.get("location", ""),
                description=spec.get("description", ""),
                category=spec.get("category", ""),
                starts_at=spec["starts_at"],
                ticket_release_at=spec.get("ticket_release_at", now),
                venue_id=spec.get("venue_id"),
                service_fee=spec.get("service_fee", 0),
                created_at=now,
                **stored_details(
                    {k: spec[k] for k in ("waiting_room", "admit_per_minute", "payment_deadlines") if k in spec}
                ),  # else the columns' defaults
            )
            .returning(events.c.id)
        ).scalar_one()
        conn.execute(
            insert(ticket_types),
            [
                {
                    "event_id": event_id,
                    "name": t["name"],
                    "kind": t["kind"],
                    "price": t["price"],
                    "capacity": t.get("capacity"),
                    "sold": 0,
                    "sections": json.dumps(sorted(set(t.get("sections", [])))),
                    "zones": json.dumps(sorted(set(t.get("zones", [])))),
                    "sales_start": t.get("sales_start"),
                    "sales_end": t.get("sales_end"),
                }
                for t in spec["ticket_types"]
            ],
        )
        if seated:
            covered = (
                None
                if any(not t.get("sections") for t in seated)
                else sorted({s for t in seated for s in t["sections"]})
            )
            seats = select(venue_seats.c.id).where(venue_seats.c.venue_id == spec["venue_id"])
            if covered is not None:
                seats = seats.where(venue_seats.c.section.in_(covered))
            conn.execute(
                insert(event_seats).from_select(
                    ["event_id", "seat_id", "position", "status"],
                    seats.with_only_columns(
                        literal(event_id), venue_seats.c.id, venue_seats.c.position, literal("available")
                    ),
                )
            )
    if seated and conn.dialect.name == "postgresql":
        # Fresh statistics so the planner walks the unsold-seat index from the first sale.
        conn.exec_driver_sql("ANALYZE event_seats")
        conn.commit()
    return get_event(conn, event_id)


def _type_json(row) -> dict:
    out = {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "price": row.price,
        "sales_start": iso(row.sales_start),
        "sales_end": iso(row.sales_end),
        "zones": json.loads(row.zones),
    }
    if row.kind == "ga":
        out.update(capacity=row.capacity, sold=row.sold)
    else:
        out["sections"] = json.loads(row.sections)
    return out


def event_row(conn: Connection, event_id: int, lock: bool = False):
    query = select(events).where(events.c.id == event_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no event {event_id}", "event_not_found")
    return row


def get_event(conn: Connection, event_id: int) -> dict:
    row = event_row(conn, event_id)
    types = conn.execute(
        select(ticket_types).where(ticket_types.c.event_id == event_id).order_by(ticket_types.c.id)
    ).all()
    return _event_json(row, [_type_json(t) for t in types])


def _event_json(row, types: list[dict] | None = None) -> dict:
    out = {
        "id": row.id,
        "title": row.title,
        "artist": row.artist,
        "location": row.location,
        "description": row.description,
        "category": row.category,
        "starts_at": iso(row.starts_at),
        "ticket_release_at": iso(row.ticket_release_at),
        "venue_id": row.venue_id,
        "organizer_id": row.organizer_id,
        "service_fee": row.service_fee,
        "waiting_room": row.waiting_room,
        "admit_per_minute": row.admit_per_minute,
        "payment_deadlines": json.loads(row.payment_deadlines),
    }
    if types is not None:
        out["ticket_types"] = types
    return out


def list_events(
    conn: Connection,
    *,
    offset: int = 0,
    limit: int = 20,
    sort: str = "starts_at",
    q: str | None = None,
    category: str | None = None,
    starts_from: datetime | None = None,
    starts_to: datetime | None = None,
    organizer_id: int | None = None,
    location: str | None = None,
) -> dict:
    if sort not in SORTS:
        raise Invalid(f"sort must be one of {', '.join(SORTS)}", "invalid_sort")
    conditions = []
    if q:
        # autoescape: % and _ in the search text are literal characters, not LIKE wildcards
        conditions.append(
            or_(
                *(
                    func.lower(col).contains(q.lower(), autoescape=True)
                    for col in (events.c.title, events.c.artist, events.c.description, events.c.location)
                )
            )
        )
    if category:
        conditions.append(events.c.category == category)
    if starts_from:
        conditions.append(events.c.starts_at >= starts_from)
    if starts_to:
        conditions.append(events.c.starts_at < starts_to)
    if organizer_id is not None:
        conditions.append(events.c.organizer_id == organizer_id)
    if location:
        conditions.append(events.c.location == location)
    where = and_(True, *conditions)
    total = conn.execute(select(func.count()).select_from(events).where(where)).scalar_one()
    rows = conn.execute(
        select(events).where(where).order_by(SORTS[sort], events.c.id).offset(offset).limit(limit)
    ).all()
    return {"items": [_event_json(r) for r in rows], "total": total, "offset": offset, "limit": limit}


def check_owner(conn: Connection, event_id: int, user: dict) -> None:
    """Organizers act only on their own events; admins on all."""
    row = event_row(conn, event_id)
    if user["role"] == "admin":
        return
    if user["role"] != "organizer" or row.organizer_id != user["id"]:
        raise Forbidden(f"event {event_id} belongs to another organizer", "not_your_event")


def seat_map(conn: Connection, event_id: int, now: datetime | None = None) -> dict:
    """Every sellable seat of the event with its status; expired holds count as available."""
    now = now or utcnow()
    event_row(conn, event_id)
    seats = []
    available = 0
    for r in conn.execute(_seat_query(event_id, now)):
        available += r.status == "available"
        seats.append({"index": r.position, "section": r.section, "row": r.row, "seat": r.label, "status": r.status})
    return {"event_id": event_id, "seats": seats, "num_available": available, "num_seats": len(seats)}


def _seat_query(event_id: int, now: datetime):
    return (
        select(
            venue_seats.c.position,
            venue_seats.c.section,
            venue_seats.c.row,
            venue_seats.c.label,
            seat_status(now).label("status"),
        )
        .join(event_seats, event_seats.c.seat_id == venue_seats.c.id)
        .where(event_seats.c.event_id == event_id)
        .order_by(venue_seats.c.position)
    )


def check_seat(conn: Connection, event_id: int, section: str, row: str, seat: str, now: datetime | None = None) -> dict:
    """One seat's status; unknown section, row or seat give distinct 404 codes."""
    now = now or utcnow()
    event = event_row(conn, event_id)
    found = conn.execute(
        _seat_query(event_id, now).where(
            venue_seats.c.venue_id == event.venue_id,  # the label index
            venue_seats.c.section == section,
            venue_seats.c.row == row,
            venue_seats.c.label == seat,
        )
    ).first()
    if found is None:
        raise _which_is_unknown(conn, event.venue_id, section, row, seat)
    return {"index": found.position, "section": section, "row": row, "seat": seat, "status": found.status}


def _which_is_unknown(conn: Connection, venue_id: int | None, section: str, row: str, seat: str) -> NotFound:
    base = select(venue_seats.c.id).where(venue_seats.c.venue_id == venue_id)
    if conn.execute(base.where(venue_seats.c.section == section).limit(1)).first() is None:
        return NotFound(f"no section {section!r}", "unknown_section")
    if conn.execute(base.where(venue_seats.c.section == section, venue_seats.c.row == row).limit(1)).first() is None:
        return NotFound(f"no row {row!r} in section {section!r}", "unknown_row")
    return NotFound(f"no seat {seat!r} in section {section!r}, row {row!r}", "unknown_seat")
