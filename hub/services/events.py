"""Events (shows), their ticket types and per-event seat inventory."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, insert, literal, or_, select

from ..db import atomic
from ..schema import event_seats, events, ticket_types, venue_seats, venues
from .clock import iso, utcnow
from .errors import Forbidden, Invalid, NotFound
from .event_status import DRAFT, LISTED, PUBLISHED, check_visible
from .money import DEFAULT_CURRENCY, currency_code
from .roles import ADMIN, ORGANIZER, owner_scope
from .seats import seat_status
from .validate import boolean, integer, list_of, obj, one_of, pin, string, time_zone, timestamp

MAX_PRICE = 10**9
PRICE = integer(0, MAX_PRICE)  # minor units of the event's currency (services.money)

TICKET_TYPE_FIELDS = {
    "name": string(200, 1),
    "kind": one_of("seated", "ga"),
    "price": PRICE,
    "capacity": integer(1, 1_000_000),
    "sections": list_of(string(100, 1), 200),
    "sales_start": timestamp(),
    "sales_end": timestamp(),
    "zones": list_of(integer(1, 16), 16),
    # the type's own validity at the door; a missing bound is the event's (door_window)
    "valid_from": timestamp(),
    "valid_until": timestamp(),
}
_REQUIRED_TYPE_FIELDS = ("name", "kind", "price")
TICKET_TYPE_SPEC = obj(
    required={k: TICKET_TYPE_FIELDS[k] for k in _REQUIRED_TYPE_FIELDS},
    optional={k: v for k, v in TICKET_TYPE_FIELDS.items() if k not in _REQUIRED_TYPE_FIELDS},
)
# What an existing ticket type may change (event_admin.update_ticket_type). Its kind stays (seats and standing
# places are sold differently); "hidden" takes it off sale without deleting it. Sections given join the
# type (their seats join the inventory); tickets already issued keep the zones they were issued with.
TICKET_TYPE_CHANGES = obj(
    optional={
        **{k: v for k, v in TICKET_TYPE_FIELDS.items() if k != "kind"},
        "hidden": boolean(),
    }
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
    # prices, fees and promo amounts are minor units of it; it changes only while the event has no orders
    "currency": currency_code(),
    # at the door: when gates admit (see door_window) and the zone the door shows times in
    "doors_open_at": timestamp(),
    "ends_at": timestamp(),
    "timezone": time_zone(),
}
DOOR_DETAILS = ("doors_open_at", "ends_at", "timezone")  # also set with event_admin.set_door_settings
_REQUIRED_DETAILS = ("title", "starts_at")
EVENT_SPEC = obj(
    required={**{k: EVENT_DETAILS[k] for k in _REQUIRED_DETAILS}, "ticket_types": list_of(TICKET_TYPE_SPEC, 50, 1)},
    optional={
        **{k: v for k, v in EVENT_DETAILS.items() if k not in _REQUIRED_DETAILS},
        "venue_id": integer(1),
        # a new event is published (on sale from its release) unless made as a draft; later changes of
        # status go through services.event_status.set_status
        "status": one_of(DRAFT, PUBLISHED),
    },
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


# At the door (events.doors_open_at .. ends_at, set with event_admin.set_door_settings). Without them a
# gate admits from DOORS_BEFORE_START before the start until ENDS_AFTER_START after it: a ticket for
# another day is refused even when the organizer set nothing.
DOORS_BEFORE_START = timedelta(hours=4)
ENDS_AFTER_START = timedelta(hours=12)
DOOR_SETTINGS = obj(
    optional={
        "doors_open_at": timestamp(),
        "ends_at": timestamp(),
        "timezone": time_zone(),
        "door_shows_names": boolean(),
        "supervisor_pin": pin(),
    }
)
CLEARABLE_DOOR_SETTINGS = ("doors_open_at", "ends_at", "timezone", "supervisor_pin")  # null clears these


def check_door_window(doors: datetime | None, ends: datetime | None, where: str) -> None:
    if doors is not None and ends is not None and ends <= doors:
        raise Invalid(f"{where}.ends_at must be after doors_open_at", "invalid_field")


def door_window(row) -> tuple[datetime, datetime]:
    """When gates admit tickets of the event ``row`` (an events row): doors-open .. end."""
    doors = row.doors_open_at or row.starts_at - DOORS_BEFORE_START
    return doors, row.ends_at or max(row.starts_at + ENDS_AFTER_START, doors + ENDS_AFTER_START)


def door_json(row) -> dict:
    """The door settings of an event as its organizer sees them (never the PIN or its hash)."""
    doors, ends = door_window(row)
    return {
        "doors_open_at": iso(row.doors_open_at),
        "ends_at": iso(row.ends_at),
        "window": {"from": iso(doors), "until": iso(ends)},
        "timezone": row.timezone,
        "door_shows_names": row.door_shows_names,
        "supervisor_pin_set": row.supervisor_pin_hash is not None,
    }


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
    if spec.get("valid_from") and spec.get("valid_until") and spec["valid_until"] <= spec["valid_from"]:
        raise Invalid(f"{where}: valid_until must be after valid_from", "invalid_field")


def create_event(conn: Connection, data: dict, organizer_id: int | None = None, now: datetime | None = None) -> dict:
    """Create an event with its ticket types and, for a venue, its seat inventory."""
    now = now or utcnow()
    spec = EVENT_SPEC(data, "event")
    check_door_window(spec.get("doors_open_at"), spec.get("ends_at"), "event")
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
                currency=spec.get("currency", DEFAULT_CURRENCY),
                status=spec.get("status", PUBLISHED),
                created_at=now,
                **stored_details(
                    {
                        k: spec[k]
                        for k in ("waiting_room", "admit_per_minute", "payment_deadlines", *DOOR_DETAILS)
                        if k in spec
                    }
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
                    "valid_from": t.get("valid_from"),
                    "valid_until": t.get("valid_until"),
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
        "valid_from": iso(row.valid_from),
        "valid_until": iso(row.valid_until),
        "hidden": row.hidden,
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


def get_event(conn: Connection, event_id: int, public: bool = False) -> dict:
    """The event with its ticket types; ``public``: as anyone may see it (a draft is 404)."""
    row = event_row(conn, event_id)
    if public:
        check_visible(event_id, row.status)
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
        "currency": row.currency,
        "status": row.status,
        "cancelled_at": iso(row.cancelled_at),
        # when gates admit (null: door_window's default around starts_at) and the zone its times are in
        "doors_open_at": iso(row.doors_open_at),
        "ends_at": iso(row.ends_at),
        "timezone": row.timezone,
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
    public: bool = False,
) -> dict:
    """A page of events; ``public``: only those listed for everyone (published or paused)."""
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
    if public:
        conditions.append(events.c.status.in_(LISTED))
    where = and_(True, *conditions)
    total = conn.execute(select(func.count()).select_from(events).where(where)).scalar_one()
    rows = conn.execute(
        select(events).where(where).order_by(SORTS[sort], events.c.id).offset(offset).limit(limit)
    ).all()
    return {"items": [_event_json(r) for r in rows], "total": total, "offset": offset, "limit": limit}


def check_owner(conn: Connection, event_id: int, user: dict) -> None:
    """Organizers (and their co-organizers) act only on their own events; admins on all."""
    row = event_row(conn, event_id)
    if user["role"] == ADMIN:
        return
    if user["role"] != ORGANIZER or row.organizer_id != owner_scope(user):
        raise Forbidden(f"event {event_id} belongs to another organizer", "not_your_event")


def seat_map(conn: Connection, event_id: int, now: datetime | None = None) -> dict:
    """Every sellable seat of the event with its status; expired holds count as available."""
    now = now or utcnow()
    check_visible(event_id, event_row(conn, event_id).status)
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
    check_visible(event_id, event.status)
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
