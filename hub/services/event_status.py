"""An event's status and what it allows: the one home of the rule.

- draft: only its organizer (and admins) see it; nothing about it is public: not listed, its page,
  API record and seat map answer 404. Pages make new events as drafts; the API makes them published
  unless it asks for a draft (back-compatible).
- published: listed, and on sale from its release time.
- paused: listed and its page shows "sales paused"; no new holds (holds already made can still
  be bought: the buyer was promised them).
- cancelled: still listed, marked cancelled (buyers mailed about it come looking), its page says so;
  nothing is sold, not even a hold made a moment before (pricing). Only event_admin.cancel_event moves
  an event here (through ``set_status``, which also records events.cancelled_at): it refunds the orders.

A draft is published once; after that an event moves between published and paused, and may be
cancelled from either (or from draft); a cancelled event stays cancelled.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from ..db import atomic
from ..schema import events
from .clock import utcnow
from .errors import Conflict, Invalid, NotFound

DRAFT, PUBLISHED, PAUSED, CANCELLED = "draft", "published", "paused", "cancelled"
STATUSES = (DRAFT, PUBLISHED, PAUSED, CANCELLED)
LISTED = (PUBLISHED, PAUSED, CANCELLED)  # shown in the storefront, calendar and the public API listing
VISIBLE = (PUBLISHED, PAUSED, CANCELLED)  # an event page, record and seat map anyone may open
LABELS = {DRAFT: "Draft", PUBLISHED: "Published", PAUSED: "Sales paused", CANCELLED: "Cancelled"}
MOVES = {
    DRAFT: (PUBLISHED, CANCELLED),
    PUBLISHED: (PAUSED, CANCELLED),
    PAUSED: (PUBLISHED, CANCELLED),
    CANCELLED: (),
}


def check_visible(event_id: int, status: str) -> None:
    """404 for an event the public may not see (a draft), the same answer as for no event at all."""
    if status not in VISIBLE:
        raise NotFound(f"no event {event_id}", "event_not_found")


def check_selling(event_id: int, status: str) -> None:
    """New holds only while published (409 with a code saying why not)."""
    if status == PUBLISHED:
        return
    check_visible(event_id, status)
    if status == PAUSED:
        raise Conflict("Sales for this event are paused at the moment. Try again later.", "sales_paused")
    raise Conflict("This event is cancelled; no tickets are sold.", "event_cancelled")


def check_buyable(event_id: int, status: str) -> None:
    """A hold already made may be bought unless the event is cancelled since (pricing, at purchase)."""
    if status == CANCELLED:
        raise Conflict(f"event {event_id} is cancelled; nothing was sold", "event_cancelled")


def set_status(conn: Connection, event_id: int, status: str, now: datetime | None = None) -> str:
    """Move the event to ``status`` (MOVES); returns the status it had. Becoming cancelled records when
    (events.cancelled_at); setting the status it already has changes nothing."""
    if status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}", "invalid_status")
    with atomic(conn):
        # FOR NO KEY UPDATE on PostgreSQL (key_share): a purchase under way, which inserts an order referencing
        # the event (a key-share lock on it), never waits for us, nor we for it (event_admin.cancel_event)
        old = conn.execute(
            select(events.c.status).where(events.c.id == event_id).with_for_update(key_share=True)
        ).scalar_one_or_none()
        if old is None:
            raise NotFound(f"no event {event_id}", "event_not_found")
        if status != old:
            if status not in MOVES[old]:
                raise Conflict(
                    f"a {LABELS[old].lower()} event cannot become {LABELS[status].lower()}", "invalid_status_change"
                )
            values = {"status": status}
            if status == CANCELLED:
                values["cancelled_at"] = now or utcnow()
            conn.execute(update(events).where(events.c.id == event_id).values(**values))
    return old
