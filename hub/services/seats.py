"""Whether an event seat is free now: the one rule, as SQL, for taking, finding, counting and showing seats.

A seat is free when it is available, or when the hold on it has run out
(held_until <= now), whether or not the sweeper has released it yet: correctness
never waits for housekeeping. A sold seat is never free.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, or_

from ..schema import event_seats


def seat_is_free(now: datetime):
    """SQL condition on event_seats: the seat can be held now."""
    return or_(
        event_seats.c.status == "available", and_(event_seats.c.status == "held", event_seats.c.held_until <= now)
    )


def seat_status(now: datetime):
    """SQL value on event_seats: the status a buyer sees now ('available', 'held' or 'sold')."""
    return case((seat_is_free(now), "available"), else_=event_seats.c.status)


def held_by(hold_id: int, now: datetime):
    """SQL condition on event_seats: the seat is one the live hold `hold_id` still keeps."""
    return and_(event_seats.c.hold_id == hold_id, event_seats.c.status == "held", event_seats.c.held_until > now)
