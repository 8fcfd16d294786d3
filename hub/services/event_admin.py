"""Organizer edits after an event exists: details, release time, fees and prices; door look-up."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, or_, select, update

from ..db import atomic
from ..schema import events, orders, ticket_types, tickets, venue_seats
from .errors import Invalid, NotFound
from .events import MAX_PRICE, event_row

EDITABLE = ("title", "artist", "category", "location", "description", "starts_at", "ticket_release_at",
            "service_fee")


def update_event(conn: Connection, event_id: int, changes: dict) -> None:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise Invalid(f"cannot change {', '.join(sorted(unknown))}", "invalid_field")
    if not (changes.get("title") or "").strip() and "title" in changes:
        raise Invalid("the title cannot be empty", "invalid_field")
    for key in ("starts_at", "ticket_release_at"):
        if key in changes and (not isinstance(changes[key], datetime) or changes[key].tzinfo is None):
            raise Invalid(f"{key} must be an aware date-time", "invalid_field")
    if "service_fee" in changes and not 0 <= changes["service_fee"] <= MAX_PRICE:
        raise Invalid("service fee out of range", "invalid_field")
    with atomic(conn):
        event_row(conn, event_id)
        conn.execute(update(events).where(events.c.id == event_id).values(**changes))


def set_price(conn: Connection, event_id: int, ticket_type_id: int, price: int) -> None:
    """New price for future holds; orders already placed keep what they paid."""
    if not 0 <= price <= MAX_PRICE:
        raise Invalid("price out of range", "invalid_field")
    with atomic(conn):
        changed = conn.execute(update(ticket_types).where(ticket_types.c.id == ticket_type_id,
                                                          ticket_types.c.event_id == event_id)
                               .values(price=price)).rowcount
    if changed != 1:
        raise NotFound(f"event {event_id} has no ticket type {ticket_type_id}", "ticket_type_not_found")


def event_sales(conn: Connection, event_id: int) -> dict:
    """Orders and tickets by status, for the organizer's event page."""
    by_order = dict(conn.execute(select(orders.c.status, func.count()).where(orders.c.event_id == event_id)
                                 .group_by(orders.c.status)).all())
    by_ticket = dict(conn.execute(select(tickets.c.status, func.count()).where(tickets.c.event_id == event_id)
                                  .group_by(tickets.c.status)).all())
    revenue = conn.execute(select(func.coalesce(func.sum(orders.c.total), 0))
                           .where(orders.c.event_id == event_id, orders.c.status == "paid")).scalar_one()
    return {"orders": by_order, "tickets": by_ticket, "revenue": revenue}


def lookup_tickets(conn: Connection, query: str, event_ids: list[int] | None = None, limit: int = 50) -> list[dict]:
    """Tickets matching a ticket or order number, or part of a buyer's name or email."""
    query = (query or "").strip()
    if not query:
        return []
    conditions = [func.lower(orders.c.buyer_name).like(f"%{query.lower()}%"),
                  func.lower(orders.c.buyer_email).like(f"%{query.lower()}%")]
    if query.isdigit() and len(query) < 16:
        conditions += [tickets.c.id == int(query), orders.c.id == int(query)]
    statement = (select(tickets.c.id.label("ticket_id"), tickets.c.status, tickets.c.order_id, tickets.c.event_id,
                        tickets.c.revoked_at, orders.c.buyer_name, orders.c.buyer_email,
                        orders.c.status.label("order_status"), events.c.title.label("event_title"),
                        ticket_types.c.name.label("ticket_type"), venue_seats.c.section, venue_seats.c.row,
                        venue_seats.c.label.label("seat"))
                 .join(orders, orders.c.id == tickets.c.order_id)
                 .join(events, events.c.id == tickets.c.event_id)
                 .join(ticket_types, ticket_types.c.id == tickets.c.ticket_type_id)
                 .outerjoin(venue_seats, venue_seats.c.id == tickets.c.seat_id)
                 .where(or_(*conditions)).order_by(tickets.c.id.desc()).limit(limit))
    if event_ids is not None:
        statement = statement.where(tickets.c.event_id.in_(event_ids))
    return [dict(r) for r in conn.execute(statement).mappings()]
