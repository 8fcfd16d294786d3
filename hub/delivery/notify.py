"""Mail the buyer about an order: confirmation with tickets, refund notice, reminder before the event.

Plain functions on a connection. Links come from a `Links` object (the web
layer builds them under the configured PUBLIC_URL, hub.deployment.external_url),
so the same code runs in a request and in the scheduler.
Every message is recorded in mail_log; a reminder is claimed in
order_reminders before it is sent, so each order gets exactly one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from .. import mail
from ..db import atomic
from ..schema import events, orders, ticket_types, tickets, venues
from ..schema_web import mail_log, order_reminders
from ..services.clock import utcnow
from ..services.money import format_money
from ..services.tickets import ticket_rows
from .card import TicketCard
from .pdf import tickets_pdf

log = logging.getLogger(__name__)

REMINDER_AHEAD = timedelta(hours=24)


@dataclass(frozen=True)
class Links:
    """Absolute URLs for the buyer: order page and each ticket's phone page."""

    order_url: Callable[[int, str], str]
    ticket_url: Callable[[int, str, int], str]


def zone_label(zones: list[int] | frozenset[int]) -> str | None:
    if not zones:
        return None
    return ", ".join(str(z) for z in sorted(zones))


def event_facts(conn: Connection, event_id: int) -> dict:
    row = (
        conn.execute(
            select(
                events.c.id, events.c.title, events.c.starts_at, events.c.location, venues.c.name.label("venue_name")
            )
            .outerjoin(venues, venues.c.id == events.c.venue_id)
            .where(events.c.id == event_id)
        )
        .mappings()
        .one()
    )
    return {**row, "place": row["venue_name"] or row["location"] or "see the event page"}


def ticket_cards(conn: Connection, order_id: int, only_valid: bool = True) -> list[TicketCard]:
    """The order's tickets as the holder sees them (valid ones by default)."""
    order = conn.execute(select(orders).where(orders.c.id == order_id)).mappings().one()
    facts = event_facts(conn, order["event_id"])
    zones = {
        r.id: json.loads(r.zones)
        for r in conn.execute(
            select(ticket_types.c.id, ticket_types.c.zones).where(ticket_types.c.event_id == order["event_id"])
        )
    }
    cards = []
    for t in ticket_rows(conn, tickets.c.order_id == order_id):
        if only_valid and t["status"] != "valid":
            continue
        seat = t["seat"] or {}
        cards.append(
            TicketCard(
                ticket_id=t["ticket_id"],
                text=t["code"],
                event_title=facts["title"],
                starts_at=facts["starts_at"],
                venue_name=facts["place"],
                ticket_type_name=t["ticket_type"],
                buyer_name=order["buyer_name"],
                section=seat.get("section"),
                row=seat.get("row"),
                seat=seat.get("seat"),
                zone_name=zone_label(zones.get(t["ticket_type_id"], [])),
            )
        )
    return cards


def _record(conn: Connection, kind: str, order_id: int | None, message, status: str, now: datetime) -> None:
    with atomic(conn):
        conn.execute(
            insert(mail_log).values(
                kind=kind,
                order_id=order_id,
                recipient=str(message["To"])[:320],
                subject=str(message["Subject"])[:300],
                status=status,
                created_at=now,
            )
        )


def send_confirmation(
    conn: Connection, settings: mail.MailSettings, order_id: int, links: Links, now: datetime | None = None
) -> str | None:
    """Mail the tickets of a paid order (PDF attached); None when there is nothing to send yet."""
    now = now or utcnow()
    order = conn.execute(select(orders).where(orders.c.id == order_id)).mappings().one()
    cards = ticket_cards(conn, order_id)
    if order["status"] != "paid" or not cards:
        return None
    message = mail.purchase_confirmation(
        to=order["buyer_email"],
        buyer_name=order["buyer_name"],
        order_code=str(order_id),
        order_url=links.order_url(order_id, order["access_token"]),
        total=format_money(order["total"], order["currency"]),
        cards=cards,
        ticket_urls=[links.ticket_url(order_id, order["access_token"], c.ticket_id) for c in cards],
        pdf=tickets_pdf(cards, title=f"Tickets, order {order_id}"),
    )
    status = mail.send(settings, message)
    _record(conn, "confirmation", order_id, message, status, now)
    return status


def send_refund_notice(
    conn: Connection, settings: mail.MailSettings, order_id: int, now: datetime | None = None
) -> str:
    now = now or utcnow()
    order = conn.execute(select(orders).where(orders.c.id == order_id)).mappings().one()
    facts = event_facts(conn, order["event_id"])
    revoked = [t["ticket_id"] for t in ticket_rows(conn, tickets.c.order_id == order_id) if t["status"] == "revoked"]
    message = mail.refund_notice(
        to=order["buyer_email"],
        buyer_name=order["buyer_name"],
        order_code=str(order_id),
        event_title=facts["title"],
        amount=format_money(order["total"], order["currency"]),
        ticket_ids=revoked,
    )
    status = mail.send(settings, message)
    _record(conn, "refund", order_id, message, status, now)
    return status


def send_due_reminders(
    conn: Connection,
    settings: mail.MailSettings,
    links: Links,
    now: datetime | None = None,
    ahead: timedelta = REMINDER_AHEAD,
) -> list[int]:
    """Remind buyers of paid orders whose event starts within `ahead`; each order once. Returns order ids.

    An order whose reminder cannot be built or sent (a bad address stored before
    addresses were checked) is logged and skipped, not retried; the others still go out.
    """
    now = now or utcnow()
    due = (
        conn.execute(
            select(orders.c.id)
            .join(events, events.c.id == orders.c.event_id)
            .outerjoin(order_reminders, order_reminders.c.order_id == orders.c.id)
            .where(
                orders.c.status == "paid",
                events.c.starts_at > now,
                events.c.starts_at <= now + ahead,
                order_reminders.c.order_id.is_(None),
            )
            .order_by(orders.c.id)
        )
        .scalars()
        .all()
    )
    if conn.in_transaction():
        conn.commit()
    sent = []
    for order_id in due:
        try:
            with atomic(conn):
                conn.execute(insert(order_reminders).values(order_id=order_id, sent_at=now))
        except IntegrityError:
            continue  # another run claimed it
        try:
            _remind(conn, settings, links, order_id, now)
        except Exception:  # one bad order (an address no message can be built for) must not stop the rest
            log.exception("could not mail the event reminder for order %s; skipped", order_id)
            if conn.in_transaction():
                conn.rollback()
            continue
        sent.append(order_id)
    if sent:
        log.info("sent %d event reminder(s)", len(sent))
    return sent


def _remind(conn: Connection, settings: mail.MailSettings, links: Links, order_id: int, now: datetime) -> None:
    order = conn.execute(select(orders).where(orders.c.id == order_id)).mappings().one()
    facts = event_facts(conn, order["event_id"])
    message = mail.event_reminder(
        to=order["buyer_email"],
        buyer_name=order["buyer_name"],
        order_code=str(order_id),
        event_title=facts["title"],
        when=f"{facts['starts_at']:%a %d %b %Y, %H:%M} UTC",
        venue=facts["place"],
        order_url=links.order_url(order_id, order["access_token"]),
    )
    _record(conn, "reminder", order_id, message, mail.send(settings, message), now)


def mail_history(conn: Connection, order_ids: list[int]) -> dict[int, list[dict]]:
    """Messages recorded per order, oldest first."""
    history: dict[int, list[dict]] = {}
    if not order_ids:
        return history
    rows = conn.execute(select(mail_log).where(mail_log.c.order_id.in_(order_ids)).order_by(mail_log.c.id)).mappings()
    for row in rows:
        history.setdefault(row["order_id"], []).append(dict(row))
    return history


__all__ = [
    "Links",
    "ticket_cards",
    "send_confirmation",
    "send_refund_notice",
    "send_due_reminders",
    "mail_history",
]
