"""Read models for the storefront pages: filter choices, lowest prices, availability.

What a hold costs is answered by services.pricing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from ..schema import event_seats, events, ticket_types, venue_seats, venues
from .clock import utcnow
from .event_status import LISTED
from .holds import ga_available
from .seats import seat_is_free


def categories(conn: Connection) -> list[str]:
    return list(
        conn.execute(
            select(events.c.category)
            .distinct()
            .where(events.c.category != "", events.c.status.in_(LISTED))
            .order_by(events.c.category)
        ).scalars()
    )


def locations(conn: Connection) -> list[str]:
    return list(
        conn.execute(
            select(events.c.location)
            .distinct()
            .where(events.c.location != "", events.c.status.in_(LISTED))
            .order_by(events.c.location)
        ).scalars()
    )


def lowest_prices(conn: Connection, event_ids: list[int]) -> dict[int, int]:
    """The cheapest ticket price of each event ("from EUR 19.00" on the event cards)."""
    if not event_ids:
        return {}
    return dict(
        conn.execute(
            select(ticket_types.c.event_id, func.min(ticket_types.c.price))
            .where(ticket_types.c.event_id.in_(event_ids), ticket_types.c.hidden.is_(False))
            .group_by(ticket_types.c.event_id)
        ).all()
    )


def venue_name(conn: Connection, venue_id: int | None) -> str | None:
    if venue_id is None:
        return None
    return conn.execute(select(venues.c.name).where(venues.c.id == venue_id)).scalar()


def availability(conn: Connection, event: dict, now: datetime | None = None) -> dict[int, int]:
    """Tickets still for sale per ticket type id (seated: free seats in the type's sections)."""
    now = now or utcnow()
    by_section = dict(
        conn.execute(
            select(venue_seats.c.section, func.count())
            .join(event_seats, event_seats.c.seat_id == venue_seats.c.id)
            .where(event_seats.c.event_id == event["id"], seat_is_free(now))
            .group_by(venue_seats.c.section)
        ).all()
    )
    out = {}
    for t in event["ticket_types"]:
        if t["kind"] == "ga":
            out[t["id"]] = ga_available(conn, t["id"], now)
        else:
            sections = t["sections"] or list(by_section)
            out[t["id"]] = sum(by_section.get(s, 0) for s in sections)
    return out
