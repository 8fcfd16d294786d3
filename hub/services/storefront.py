"""Read models for the storefront pages: filter choices, what a hold will cost, availability."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from ..schema import event_seats, events, holds, ticket_types, venue_seats, venues
from .clock import utcnow
from .errors import NotFound
from .holds import ga_available
from .seats import seat_is_free


def categories(conn: Connection) -> list[str]:
    return list(conn.execute(select(events.c.category).distinct().where(events.c.category != "")
                             .order_by(events.c.category)).scalars())


def locations(conn: Connection) -> list[str]:
    return list(conn.execute(select(events.c.location).distinct().where(events.c.location != "")
                             .order_by(events.c.location)).scalars())


def lowest_prices(conn: Connection, event_ids: list[int]) -> dict[int, int]:
    """The cheapest ticket price of each event ("from EUR 19.00" on the event cards)."""
    if not event_ids:
        return {}
    return dict(conn.execute(select(ticket_types.c.event_id, func.min(ticket_types.c.price))
                             .where(ticket_types.c.event_id.in_(event_ids)).group_by(ticket_types.c.event_id)).all())


def venue_name(conn: Connection, venue_id: int | None) -> str | None:
    if venue_id is None:
        return None
    return conn.execute(select(venues.c.name).where(venues.c.id == venue_id)).scalar()


def availability(conn: Connection, event: dict, now: datetime | None = None) -> dict[int, int]:
    """Tickets still for sale per ticket type id (seated: free seats in the type's sections)."""
    now = now or utcnow()
    by_section = dict(conn.execute(
        select(venue_seats.c.section, func.count()).join(event_seats, event_seats.c.seat_id == venue_seats.c.id)
        .where(event_seats.c.event_id == event["id"], seat_is_free(now)).group_by(venue_seats.c.section)).all())
    out = {}
    for t in event["ticket_types"]:
        if t["kind"] == "ga":
            out[t["id"]] = ga_available(conn, t["id"], now)
        else:
            sections = t["sections"] or list(by_section)
            out[t["id"]] = sum(by_section.get(s, 0) for s in sections)
    return out


def hold_quote(conn: Connection, hold_id: int, now: datetime | None = None) -> dict:
    """Line items, subtotal and fees of a live hold, as the purchase will charge them."""
    now = now or utcnow()
    hold = conn.execute(select(holds).where(holds.c.id == hold_id)).first()
    if hold is None:
        raise NotFound(f"no hold {hold_id}", "hold_not_found")
    fee = conn.execute(select(events.c.service_fee).where(events.c.id == hold.event_id)).scalar_one()
    if hold.kind == "ga":
        t = conn.execute(select(ticket_types).where(ticket_types.c.id == hold.ticket_type_id)).first()
        items = [{"label": "General admission", "ticket_type": t.name, "price": t.price} for _ in range(hold.quantity)]
    else:
        rows = conn.execute(
            select(venue_seats.c.section, venue_seats.c.row, venue_seats.c.label, ticket_types.c.name,
                   ticket_types.c.price)
            .join(event_seats, event_seats.c.seat_id == venue_seats.c.id)
            .join(ticket_types, ticket_types.c.id == event_seats.c.ticket_type_id)
            .where(event_seats.c.hold_id == hold_id, event_seats.c.status == "held")
            .order_by(venue_seats.c.position)).all()
        items = [{"label": f"Section {r.section} · Row {r.row} · Seat {r.label}", "ticket_type": r.name,
                  "price": r.price} for r in rows]
    subtotal = sum(i["price"] for i in items)
    return {"event_id": hold.event_id, "items": items, "subtotal": subtotal, "fees": fee * len(items),
            "total": subtotal + fee * len(items)}
