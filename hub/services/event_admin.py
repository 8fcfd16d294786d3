"""Organizer edits after an event exists: details, release time, fees, currency, ticket types and prices;
cancelling an event; door look-up."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from sqlalchemy import Connection, func, insert, literal, or_, select, update

from common.pin import hash_pin

from ..db import atomic
from ..schema import event_seats, events, orders, ticket_types, tickets, venue_seats
from . import event_status
from . import orders as order_service
from .clock import iso, utcnow
from .devices import config_changed
from .errors import Conflict, Invalid, NotFound
from .events import (
    CLEARABLE_DOOR_SETTINGS,
    DOOR_DETAILS,
    DOOR_SETTINGS,
    EVENT_CHANGES,
    TICKET_TYPE_CHANGES,
    TICKET_TYPE_SPEC,
    check_door_window,
    check_ticket_type,
    door_json,
    event_row,
    get_event,
    stored_details,
)
from .holds import release_event_holds
from .money import format_money
from .validate import obj, timestamp

log = logging.getLogger(__name__)

TYPE_VALIDITY = obj(optional={"valid_from": timestamp(), "valid_until": timestamp()})


def update_event(conn: Connection, event_id: int, changes: dict) -> None:
    """Change an event's details (events.EVENT_DETAILS: checked as when it is created). The currency
    changes only while the event has no orders: orders keep the currency they were charged in."""
    spec = EVENT_CHANGES(changes, "event")
    with atomic(conn):
        event = event_row(conn, event_id, lock=True)
        if spec.get("currency", event.currency) != event.currency and _has_orders(conn, event_id):
            raise Conflict(
                f"event {event_id} has orders in {event.currency}; its currency can no longer change",
                "currency_locked",
            )
        check_door_window(spec.get("doors_open_at", event.doors_open_at), spec.get("ends_at", event.ends_at), "event")
        if spec:
            conn.execute(update(events).where(events.c.id == event_id).values(**stored_details(spec)))
            if {"title", "starts_at", *DOOR_DETAILS} & set(spec):  # what gates show and their window
                config_changed(conn, event_id)


def set_door_settings(conn: Connection, event_id: int, data: dict) -> dict:
    """Doors-open and end times, time zone, names at the door, supervisor PIN (events.DOOR_SETTINGS; a
    null clears a window bound, the zone or the PIN). Every gate serving the event pulls the change."""
    spec = DOOR_SETTINGS(data, "door")
    cleared = {k for k in CLEARABLE_DOOR_SETTINGS if isinstance(data, dict) and k in data and data[k] is None}
    values = {k: v for k, v in spec.items() if k != "supervisor_pin"}
    values.update({k: None for k in cleared if k != "supervisor_pin"})
    if "supervisor_pin" in spec:
        values["supervisor_pin_hash"] = hash_pin(spec["supervisor_pin"])
    elif "supervisor_pin" in cleared:
        values["supervisor_pin_hash"] = None
    with atomic(conn):
        row = event_row(conn, event_id)
        check_door_window(values.get("doors_open_at", row.doors_open_at), values.get("ends_at", row.ends_at), "door")
        if values:
            conn.execute(update(events).where(events.c.id == event_id).values(**values))
            config_changed(conn, event_id)
        return door_json(event_row(conn, event_id))


def set_ticket_type_validity(conn: Connection, event_id: int, ticket_type_id: int, data: dict) -> None:
    """A ticket type's own validity at the door (valid_from / valid_until; null clears a bound)."""
    spec = TYPE_VALIDITY(data, "ticket_type")
    values = {k: spec.get(k) for k in ("valid_from", "valid_until") if k in data}
    if values.get("valid_from") and values.get("valid_until") and values["valid_until"] <= values["valid_from"]:
        raise Invalid("ticket_type.valid_until must be after valid_from", "invalid_field")
    with atomic(conn):
        changed = conn.execute(
            update(ticket_types)
            .where(ticket_types.c.id == ticket_type_id, ticket_types.c.event_id == event_id)
            .values(**values)
        ).rowcount
        if changed != 1:
            raise NotFound(f"event {event_id} has no ticket type {ticket_type_id}", "ticket_type_not_found")
        config_changed(conn, event_id)


def _has_orders(conn: Connection, event_id: int) -> bool:
    return conn.execute(select(orders.c.id).where(orders.c.event_id == event_id).limit(1)).first() is not None


def update_ticket_type(conn: Connection, event_id: int, ticket_type_id: int, changes: dict) -> dict:
    """Change a ticket type of an event (events.TICKET_TYPE_CHANGES; the API's PATCH and the organizer's
    page both come here): rename, price, hide, the standing quota (never below what is sold), the sale
    window (a bound given as None is cleared: no limit), the sections of a seated type (seats of sections
    not yet on sale join the inventory) and zones. Returns the ticket type as events.get_event shows it.
    A new price applies to new holds; orders and tickets already sold keep their type and price."""
    spec = TICKET_TYPE_CHANGES(changes, "ticket_type")
    spec.update({k: None for k in ("sales_start", "sales_end") if k in changes and changes[k] is None})
    with atomic(conn):
        event = event_row(conn, event_id, lock=True)
        row = conn.execute(
            select(ticket_types)
            .where(ticket_types.c.id == ticket_type_id, ticket_types.c.event_id == event_id)
            .with_for_update()
        ).first()
        if row is None:
            raise NotFound(f"event {event_id} has no ticket type {ticket_type_id}", "ticket_type_not_found")
        # the rules of a new ticket type (events.check_ticket_type), on the result
        check_ticket_type(
            {
                "kind": row.kind,
                "sales_start": row.sales_start,
                "sales_end": row.sales_end,
                **({"capacity": row.capacity} if row.kind == "ga" else {}),
                **spec,
            },
            "ticket_type",
        )
        if row.kind == "ga" and spec.get("capacity", row.capacity) < row.sold:
            raise Conflict(
                f"ticket_type: {row.sold} are sold already; the capacity cannot be less", "capacity_below_sold"
            )
        values = {k: v for k, v in spec.items() if k not in ("sections", "zones")}
        if "zones" in spec:
            values["zones"] = json.dumps(sorted(set(spec["zones"])))
        if "sections" in spec and row.kind == "seated":
            sections = sorted(set(spec["sections"]))
            _check_sections(conn, event, sections)
            values["sections"] = json.dumps(sections)
            _add_event_seats(conn, event, sections)
        if values:
            conn.execute(update(ticket_types).where(ticket_types.c.id == ticket_type_id).values(**values))
            if "name" in values:  # gates show the type's name at ADMIT
                config_changed(conn, event_id)
    return next(t for t in get_event(conn, event_id)["ticket_types"] if t["id"] == ticket_type_id)


def _check_sections(conn: Connection, event, sections: list[str]) -> None:
    if event.venue_id is None:
        raise Invalid("this event has no venue, so no seats", "missing_field")
    unknown = sorted(set(sections) - set(venue_sections(conn, event.venue_id)))
    if unknown:
        raise Invalid(f"unknown section(s) {', '.join(unknown)}", "unknown_section")


def venue_sections(conn: Connection, venue_id: int) -> list[str]:
    """The venue's section names in seat-map order (the checkboxes of a seated ticket type)."""
    rows = conn.execute(
        select(venue_seats.c.section, func.min(venue_seats.c.section_order).label("o"))
        .where(venue_seats.c.venue_id == venue_id)
        .group_by(venue_seats.c.section)
        .order_by("o")
    )
    return [r.section for r in rows]


def _add_event_seats(conn: Connection, event, sections: list[str]) -> None:
    """Seats of ``sections`` (all the venue's when empty) not yet in the event's inventory join it, available."""
    # the same columns create_event fills (event_seats may carry a copy of the seat's position)
    columns = {"event_id": literal(event.id), "seat_id": venue_seats.c.id, "status": literal("available")}
    if "position" in event_seats.c:
        columns["position"] = venue_seats.c.position
    missing = select(*columns.values()).where(
        venue_seats.c.venue_id == event.venue_id,
        venue_seats.c.id.not_in(select(event_seats.c.seat_id).where(event_seats.c.event_id == event.id)),
    )
    if sections:
        missing = missing.where(venue_seats.c.section.in_(sections))
    conn.execute(insert(event_seats).from_select(list(columns), missing))


def type_sales(conn: Connection, event_id: int) -> dict[int, int]:
    """Tickets sold per ticket type id (valid tickets of paid orders), for the organizer's event page."""
    return dict(
        conn.execute(
            select(tickets.c.ticket_type_id, func.count())
            .join(orders, orders.c.id == tickets.c.order_id)
            .where(tickets.c.event_id == event_id, tickets.c.status == "valid", orders.c.status == "paid")
            .group_by(tickets.c.ticket_type_id)
        ).all()
    )


def add_ticket_type(conn: Connection, event_id: int, data: dict) -> int:
    """Add a ticket type to an existing event; seated sections not yet on sale join the seat inventory."""
    spec = TICKET_TYPE_SPEC(data, "ticket_type")
    check_ticket_type(spec, "ticket_type")
    with atomic(conn):
        event = event_row(conn, event_id, lock=True)
        sections = sorted(set(spec.get("sections", [])))
        if spec["kind"] == "seated":
            _check_sections(conn, event, sections)
        type_id = conn.execute(
            insert(ticket_types)
            .values(
                event_id=event_id,
                name=spec["name"],
                kind=spec["kind"],
                price=spec["price"],
                capacity=spec.get("capacity"),
                sold=0,
                sections=json.dumps(sections),
                zones=json.dumps(sorted(set(spec.get("zones", [])))),
                sales_start=spec.get("sales_start"),
                sales_end=spec.get("sales_end"),
                valid_from=spec.get("valid_from"),
                valid_until=spec.get("valid_until"),
            )
            .returning(ticket_types.c.id)
        ).scalar_one()
        if spec["kind"] == "seated":
            _add_event_seats(conn, event, sections)
    return type_id


def event_sales(conn: Connection, event_id: int) -> dict:
    """Orders and tickets by status, for the organizer's event page."""
    by_order = dict(
        conn.execute(
            select(orders.c.status, func.count()).where(orders.c.event_id == event_id).group_by(orders.c.status)
        ).all()
    )
    by_ticket = dict(
        conn.execute(
            select(tickets.c.status, func.count()).where(tickets.c.event_id == event_id).group_by(tickets.c.status)
        ).all()
    )
    revenue = conn.execute(
        select(func.coalesce(func.sum(orders.c.total), 0)).where(
            orders.c.event_id == event_id, orders.c.status == "paid"
        )
    ).scalar_one()
    return {"orders": by_order, "tickets": by_ticket, "revenue": revenue}


def lookup_tickets(conn: Connection, query: str, event_ids: list[int] | None = None, limit: int = 50) -> list[dict]:
    """Tickets matching a ticket or order number, or part of a buyer's name or email."""
    query = (query or "").strip()
    if not query:
        return []
    conditions = [
        func.lower(orders.c.buyer_name).like(f"%{query.lower()}%"),
        func.lower(orders.c.buyer_email).like(f"%{query.lower()}%"),
    ]
    if query.isdigit() and len(query) < 16:
        conditions += [tickets.c.id == int(query), orders.c.id == int(query)]
    statement = (
        select(
            tickets.c.id.label("ticket_id"),
            tickets.c.status,
            tickets.c.order_id,
            tickets.c.event_id,
            tickets.c.revoked_at,
            orders.c.buyer_name,
            orders.c.buyer_email,
            orders.c.status.label("order_status"),
            events.c.title.label("event_title"),
            ticket_types.c.name.label("ticket_type"),
            venue_seats.c.section,
            venue_seats.c.row,
            venue_seats.c.label.label("seat"),
        )
        .join(orders, orders.c.id == tickets.c.order_id)
        .join(events, events.c.id == tickets.c.event_id)
        .join(ticket_types, ticket_types.c.id == tickets.c.ticket_type_id)
        .outerjoin(venue_seats, venue_seats.c.id == tickets.c.seat_id)
        .where(or_(*conditions))
        .order_by(tickets.c.id.desc())
        .limit(limit)
    )
    if event_ids is not None:
        statement = statement.where(tickets.c.event_id.in_(event_ids))
    return [dict(r) for r in conn.execute(statement).mappings()]


def cancellation_preview(conn: Connection, event_id: int) -> dict:
    """What cancelling the event would do now: its paid orders refunded (and how much), its pending
    orders cancelled, its valid tickets revoked. The confirmation step shows this."""
    event = event_row(conn, event_id)
    open_orders = conn.execute(
        select(orders.c.status, func.count(), func.coalesce(func.sum(orders.c.total), 0))
        .where(orders.c.event_id == event_id, orders.c.status.in_(("paid", "pending")))
        .group_by(orders.c.status)
    ).all()
    counts = {status: (n, amount) for status, n, amount in open_orders}
    valid = conn.execute(
        select(func.count()).where(tickets.c.event_id == event_id, tickets.c.status == "valid")
    ).scalar_one()
    return {
        "event_id": event_id,
        "title": event.title,
        "cancelled_at": iso(event.cancelled_at),
        "currency": event.currency,
        "paid_orders": counts.get("paid", (0, 0))[0],
        "refund_total": counts.get("paid", (0, 0))[1],
        "pending_orders": counts.get("pending", (0, 0))[0],
        "valid_tickets": valid,
    }


def cancellation_consequences(preview: dict) -> str:
    """The confirmation text: what cancelling does, in plain words (the API's error message, the page)."""
    return (
        f"Cancelling {preview['title']!r} stops all sales, refunds {preview['paid_orders']} paid order(s) "
        f"({format_money(preview['refund_total'], preview['currency'])}), cancels {preview['pending_orders']} "
        f"unpaid order(s) and revokes {preview['valid_tickets']} ticket(s): their QR codes stop working at the gate."
        " Every buyer is mailed. This cannot be undone."
    )


def cancel_event(conn: Connection, event_id: int, confirm: str | None, now: datetime | None = None) -> dict:
    """Cancel an event: no more sales, every paid order refunded and every pending one cancelled
    (orders.refund, one order at a time), so their tickets are revoked and gates refuse them (revocation list).

    `confirm` must be the event's exact title (the second step; Invalid confirmation_required says what would
    happen). Calling it again on a cancelled event finishes what an interrupted run left open.
    Returns the event and the ids of the orders refunded and cancelled by this call: the caller mails
    those buyers.
    """
    now = now or utcnow()
    preview = cancellation_preview(conn, event_id)
    if confirm != preview["title"]:
        raise Invalid(
            cancellation_consequences(preview) + ' To go ahead, send {"confirm": "<the event\'s exact title>"}.',
            "confirmation_required",
        )
    # First the mark, committed: from then on no hold is made and no purchase priced (holds, pricing).
    # set_status locks the event row without blocking key-share locks, so a purchase under way, which
    # inserts an order referencing the event, never waits for us while we wait for its hold below.
    event_status.set_status(conn, event_id, event_status.CANCELLED, now)  # the one home of the status rule
    # Then the holds made before the mark: released, so none becomes an order; a purchase priced before the
    # mark holds its hold's lock, so this waits for it to commit and its order is refunded below.
    with atomic(conn):
        release_event_holds(conn, event_id)
    refunded, cancelled, tried = [], [], set()
    while True:
        if conn.in_transaction():
            conn.commit()  # a fresh snapshot: orders committed since
        open_ids = [
            i
            for i in conn.execute(
                select(orders.c.id)
                .where(orders.c.event_id == event_id, orders.c.status.in_(("paid", "pending")))
                .order_by(orders.c.id)
            ).scalars()
            if i not in tried
        ]
        if not open_ids:
            break
        for order_id in open_ids:
            tried.add(order_id)
            try:
                order = order_service.refund(conn, order_id, now)
            except Conflict:  # staff refunded it a moment ago
                continue
            (refunded if order["status"] == "refunded" else cancelled).append(order_id)
    log.info("event %s cancelled: %d order(s) refunded, %d cancelled", event_id, len(refunded), len(cancelled))
    return {"event": get_event(conn, event_id), "refunded": refunded, "cancelled": cancelled}
