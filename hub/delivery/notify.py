"""The buyer's mail about an order, built from a notification (services.notifications): order received
(with the deadline), tickets, expired, cancelled, refunded, re-issued, reminder before the event.

Plain functions on a connection. Links come from a `Links` object (the web
layer builds them under the configured PUBLIC_URL, hub.deployment.external_url),
so the same code runs in a request and in the background jobs. The mail queue
(hub.delivery.mail_queue) sends them; every message is recorded in mail_log. A
reminder is claimed in order_reminders when it is published, so each order gets one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from .. import mail
from ..db import atomic
from ..schema import events, orders, ticket_types, tickets, venues
from ..schema_web import mail_log, order_reminders
from ..services import notifications
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


def ticket_cards(
    conn: Connection, order_id: int, only_valid: bool = True, ticket_ids: list[int] | None = None
) -> list[TicketCard]:
    """The order's tickets as the holder sees them (valid ones by default; only `ticket_ids` if given)."""
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
        if (only_valid and t["status"] != "valid") or (ticket_ids is not None and t["ticket_id"] not in ticket_ids):
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


def record(conn: Connection, kind: str, order_id: int | None, message, status: str, now: datetime) -> None:
    """Add a message to mail_log (what the order page lists)."""
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


def when_label(starts_at: datetime) -> str:
    return f"{starts_at:%a %d %b %Y, %H:%M} UTC"


# The mail_log kind of each notification's mail (the organizer's order page lists these words).
MAIL_KINDS = {
    notifications.ORDER_PLACED: "order_received",
    notifications.ORDER_PAID: "confirmation",
    notifications.ORDER_PAYMENT_FAILED: "payment_failed",
    notifications.ORDER_EXPIRED: "expired",
    notifications.ORDER_REFUNDED: "refund",
    notifications.ORDER_CANCELLED: "cancelled",
    notifications.TICKET_REISSUED: "reissued",
    notifications.EVENT_REMINDER: "reminder",
}


def build_message(conn: Connection, notification: Mapping, links: Links) -> EmailMessage | None:
    """The buyer's mail for a notification (a row of `notifications`), from the order as it is now; None
    when there is nothing to say any more (the paid mail of an order refunded since, the "please pay"
    mail of an order paid since). The same message whichever channel published the notification."""
    kind, order_id = notification["kind"], notification["order_id"]
    data = json.loads(notification["payload"] or "{}")
    order = conn.execute(select(orders).where(orders.c.id == order_id)).mappings().one()
    facts = event_facts(conn, order["event_id"])
    buyer = {"to": order["buyer_email"], "buyer_name": order["buyer_name"], "order_code": str(order_id)}
    order_url = links.order_url(order_id, order["access_token"])
    if kind in (notifications.ORDER_PAID, notifications.TICKET_REISSUED):
        if order["status"] != "paid":
            return None
        replaced = []
        if kind == notifications.TICKET_REISSUED:
            [new] = ticket_cards(conn, order_id, ticket_ids=[notification["ticket_id"]]) or [None]
            if new is None:
                return None  # re-issued again or refunded since: a later mail says so
            replaced = [new.seat_label if new.is_seated else new.ticket_type_name]
        return _confirmation(conn, order, links, replaced)
    if kind == notifications.ORDER_PLACED:
        if order["status"] != "pending":
            return None
        return mail.order_received(
            **buyer,
            event_title=facts["title"],
            when=when_label(facts["starts_at"]),
            venue=facts["place"],
            total=format_money(order["total"], order["currency"]),
            payment_method=order["payment_method"],
            pay_by=when_label(order["payment_due_at"]),
            order_url=order_url,
        )
    if kind == notifications.ORDER_EXPIRED:
        if order["status"] != "expired":
            return None  # paid after all
        return mail.order_expired(**buyer, event_title=facts["title"], pay_by=when_label(order["payment_due_at"]))
    if kind == notifications.ORDER_CANCELLED:
        return mail.order_cancelled(**buyer, event_title=facts["title"])
    if kind == notifications.ORDER_PAYMENT_FAILED:
        if order["status"] != "pending":
            return None  # paid with another card, or closed, since
        return mail.payment_failed(
            **buyer,
            event_title=facts["title"],
            reason=data.get("message") or "the card was declined.",
            pay_by=when_label(order["payment_due_at"]),
            order_url=order_url,
        )
    if kind == notifications.ORDER_REFUNDED:
        revoked = ticket_cards(conn, order_id, ticket_ids=data.get("revoked", []), only_valid=False)
        was = data.get("order_status", "paid")
        return mail.refund_notice(
            **buyer,
            event_title=facts["title"],
            amount=format_money(data.get("amount", order["total"]), order["currency"]),
            tickets=[c.seat_label if c.is_seated else c.ticket_type_name for c in revoked],
            part=not data.get("whole", True) and was == "paid",
            closed_as=None if was == "paid" else was,
        )
    if kind == notifications.EVENT_REMINDER:
        if order["status"] != "paid":
            return None
        return mail.event_reminder(
            **buyer,
            event_title=facts["title"],
            when=when_label(facts["starts_at"]),
            venue=facts["place"],
            order_url=order_url,
        )
    raise ValueError(f"no mail for {kind}")


def _confirmation(conn: Connection, order: Mapping, links: Links, replaced: list[str] = ()) -> EmailMessage | None:
    """The tickets of a paid order (PDF attached, a phone link each); None when it has no valid ticket."""
    order_id = order["id"]
    cards = ticket_cards(conn, order_id)
    if not cards:
        return None
    return mail.purchase_confirmation(
        to=order["buyer_email"],
        buyer_name=order["buyer_name"],
        order_code=str(order_id),
        order_url=links.order_url(order_id, order["access_token"]),
        total=format_money(order["total"], order["currency"]),
        cards=cards,
        ticket_urls=[links.ticket_url(order_id, order["access_token"], c.ticket_id) for c in cards],
        pdf=tickets_pdf(cards, title=f"Tickets, order {order_id}"),
        replaced=replaced,
    )


def send_confirmation(
    conn: Connection, settings: mail.MailSettings, order_id: int, links: Links, now: datetime | None = None
) -> str | None:
    """Mail the tickets of a paid order again now (staff's "send again"); None when there is nothing to send."""
    now = now or utcnow()
    order = conn.execute(select(orders).where(orders.c.id == order_id)).mappings().one()
    message = _confirmation(conn, order, links) if order["status"] == "paid" else None
    if message is None:
        return None
    status = mail.send(settings, message)
    record(conn, "confirmation", order_id, message, status, now)
    return status


def publish_due_reminders(
    conn: Connection, now: datetime | None = None, ahead: timedelta = REMINDER_AHEAD
) -> list[int]:
    """Publish event.reminder for paid orders whose event starts within `ahead`; each order once (claimed
    in order_reminders in the same transaction). Returns the order ids; the mail queue sends them."""
    now = now or utcnow()
    due = conn.execute(
        select(orders.c.id, orders.c.event_id)
        .join(events, events.c.id == orders.c.event_id)
        .outerjoin(order_reminders, order_reminders.c.order_id == orders.c.id)
        .where(
            orders.c.status == "paid",
            events.c.starts_at > now,
            events.c.starts_at <= now + ahead,
            order_reminders.c.order_id.is_(None),
        )
        .order_by(orders.c.id)
    ).all()
    if conn.in_transaction():
        conn.commit()
    published = []
    for order_id, event_id in due:
        try:
            with atomic(conn):
                conn.execute(insert(order_reminders).values(order_id=order_id, sent_at=now))
                notifications.publish(conn, notifications.EVENT_REMINDER, order_id=order_id, event_id=event_id, now=now)
        except IntegrityError:
            continue  # another run claimed it
        published.append(order_id)
    if published:
        log.info("queued %d event reminder(s)", len(published))
    return published


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
    "build_message",
    "send_confirmation",
    "publish_due_reminders",
    "mail_history",
]
