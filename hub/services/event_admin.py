"""Organizer edits after an event exists: details, release time, fees and prices; door look-up."""

from __future__ import annotations

import json

from sqlalchemy import Connection, func, insert, literal, or_, select, update

from ..db import atomic
from ..schema import event_seats, events, orders, ticket_types, tickets, venue_seats
from .errors import Invalid, NotFound
from .events import EVENT_CHANGES, PRICE, TICKET_TYPE_SPEC, check_ticket_type, event_row, stored_details


def update_event(conn: Connection, event_id: int, changes: dict) -> None:
    """Change an event's details (events.EVENT_DETAILS: checked as when it is created)."""
    spec = EVENT_CHANGES(changes, "event")
    with atomic(conn):
        event_row(conn, event_id)
        if spec:
            conn.execute(update(events).where(events.c.id == event_id).values(**stored_details(spec)))


def set_price(conn: Connection, event_id: int, ticket_type_id: int, price: int) -> None:
    """New price for future holds; orders already placed keep what they paid."""
    price = PRICE(price, "price")
    with atomic(conn):
        changed = conn.execute(
            update(ticket_types)
            .where(ticket_types.c.id == ticket_type_id, ticket_types.c.event_id == event_id)
            .values(price=price)
        ).rowcount
    if changed != 1:
        raise NotFound(f"event {event_id} has no ticket type {ticket_type_id}", "ticket_type_not_found")


def add_ticket_type(conn: Connection, event_id: int, data: dict) -> int:
    """Add a ticket type to an existing event; seated sections not yet on sale join the seat inventory."""
    spec = TICKET_TYPE_SPEC(data, "ticket_type")
    check_ticket_type(spec, "ticket_type")
    with atomic(conn):
        event = event_row(conn, event_id, lock=True)
        sections = sorted(set(spec.get("sections", [])))
        if spec["kind"] == "seated":
            if event.venue_id is None:
                raise Invalid("this event has no venue, so no seats", "missing_field")
            known = set(
                conn.execute(
                    select(venue_seats.c.section).distinct().where(venue_seats.c.venue_id == event.venue_id)
                ).scalars()
            )
            unknown = sorted(set(sections) - known)
            if unknown:
                raise Invalid(f"unknown section(s) {', '.join(unknown)}", "unknown_section")
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
            )
            .returning(ticket_types.c.id)
        ).scalar_one()
        if spec["kind"] == "seated":
            # the same columns create_event fills (event_seats may carry a copy of the seat's position)
            columns = {"event_id": literal(event_id), "seat_id": venue_seats.c.id, "status": literal("available")}
            if "position" in event_seats.c:
                columns["position"] = venue_seats.c.position
            missing = select(*columns.values()).where(
                venue_seats.c.venue_id == event.venue_id,
                venue_seats.c.id.not_in(select(event_seats.c.seat_id).where(event_seats.c.event_id == event_id)),
            )
            if sections:
                missing = missing.where(venue_seats.c.section.in_(sections))
            conn.execute(insert(event_seats).from_select(list(columns), missing))
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
