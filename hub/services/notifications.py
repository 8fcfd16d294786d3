"""The outbox of domain events: "something happened to an order or a ticket".

The service that makes a change publishes it inside its own transaction (`publish`), so the
notification commits with the change or not at all, whichever channel caused it: a web page, the
API, a staff action, a payment webhook or a background job. Nothing is sent here: consumers work
the outbox outside requests. Each consumer has its own state table keyed by the notification and
is fanned out here, in `publish`: the buyer's mail (`mail_jobs`, worked by hub.delivery.mail_queue)
and the organizer's outgoing webhooks (`webhook_deliveries`, services.webhooks, worked by
hub.delivery.webhooks).

A notification row: id (increasing), kind (one of KINDS), event_id (the organizer is the event's),
order_id, ticket_id (ticket.* kinds), payload (small JSON of facts at publish time, e.g.
``payment_due_at`` of order.placed, ``replaces`` of ticket.reissued), created_at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, insert, select

from ..schema import orders, tickets
from ..schema_notifications import mail_jobs, notifications
from .clock import iso

# Every kind, in one place. Order kinds carry order_id; ticket kinds carry order_id and ticket_id.
ORDER_PLACED = "order.placed"  # an unpaid order: payload payment_due_at (ISO 8601 UTC), payment_method
ORDER_PAID = "order.paid"  # tickets issued
ORDER_PAYMENT_FAILED = "order.payment_failed"  # a card attempt failed (payload message); still payable
ORDER_EXPIRED = "order.expired"  # not paid by payment_due_at: its places are back on sale
# money went back: payload amount (this refund), refunded (in all), whole (true: the order is refunded and
# its tickets revoked, listed in revoked; false: a part of a card payment, or a card payment that arrived
# for an order already closed, order_status), order_status (what the order was)
ORDER_REFUNDED = "order.refunded"
ORDER_CANCELLED = "order.cancelled"  # an unpaid order cancelled by staff
TICKET_REISSUED = "ticket.reissued"  # ticket_id is the new ticket; payload replaces: the revoked one
# a gate admitted ticket_id (services.sync, when its push arrives): payload scan_id, device_id,
# admitted_at (the gate's time, corrected by its clock offset); not mailed. A double admission found
# at the same push is not published; one found later is not taken back.
TICKET_ADMITTED = "ticket.admitted"
EVENT_REMINDER = "event.reminder"  # the event of a paid order starts soon
KINDS = frozenset(
    {
        ORDER_PLACED,
        ORDER_PAID,
        ORDER_PAYMENT_FAILED,
        ORDER_EXPIRED,
        ORDER_REFUNDED,
        ORDER_CANCELLED,
        TICKET_REISSUED,
        TICKET_ADMITTED,
        EVENT_REMINDER,
    }
)
# The kinds the buyer is mailed about (hub.delivery.mail_queue builds the message for each).
MAILED = frozenset(KINDS - {TICKET_ADMITTED})

_INSERT = insert(notifications).returning(notifications.c.id)
_INSERT_MANY = insert(notifications).returning(notifications.c.id, sort_by_parameter_order=True)
_QUEUE_MAIL = insert(mail_jobs)


def publish(
    conn: Connection,
    kind: str,
    *,
    order_id: int | None = None,
    ticket_id: int | None = None,
    event_id: int | None = None,
    now: datetime,
    payload: Mapping | None = None,
) -> int:
    """Record that `kind` happened, in the caller's open transaction; returns the notification id.

    `order_id` or `ticket_id` names what it happened to (the other ids are looked up when not given);
    `payload` is a small JSON-able mapping of facts the consumers need as they were at this moment.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if not conn.in_transaction():
        raise RuntimeError("publish inside the transaction that makes the change")
    if order_id is None and ticket_id is not None:
        order_id = conn.execute(select(tickets.c.order_id).where(tickets.c.id == ticket_id)).scalar_one()
    if order_id is None:
        raise ValueError("a notification is about an order or a ticket")
    if event_id is None:
        event_id = conn.execute(select(orders.c.event_id).where(orders.c.id == order_id)).scalar_one()
    [notification_id] = publish_many(
        conn, kind, [{"order_id": order_id, "ticket_id": ticket_id, "event_id": event_id, "payload": payload}], now=now
    )
    return notification_id


def publish_many(conn: Connection, kind: str, items: list[Mapping], *, now: datetime) -> list[int]:
    """`publish` for many at once (e.g. the admissions in one gate's push), in the caller's transaction:
    each item has order_id, event_id, ticket_id (or None) and payload (or None); ids are not looked up.
    Returns the notification ids in the items' order."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if not conn.in_transaction():
        raise RuntimeError("publish inside the transaction that makes the change")
    if not items:
        return []
    rows = [
        {
            "kind": kind,
            "event_id": item["event_id"],
            "order_id": item["order_id"],
            "ticket_id": item.get("ticket_id"),
            "payload": json.dumps(dict(item.get("payload") or {}), separators=(",", ":"), sort_keys=True),
            "created_at": now,
        }
        for item in items
    ]
    if len(rows) == 1:
        ids = [conn.execute(_INSERT, rows[0]).scalar_one()]
    else:
        ids = list(conn.execute(_INSERT_MANY, rows).scalars())
    # fan-out: one state row per consumer that acts on this kind
    if kind in MAILED:
        conn.execute(
            _QUEUE_MAIL,
            [{"notification_id": i, "status": "queued", "attempts": 0, "next_attempt_at": now} for i in ids],
        )
    from .webhooks import fan_out  # here, not at the top: webhooks validates subscriptions against KINDS

    fan_out(conn, kind, [(i, item["event_id"]) for i, item in zip(ids, items)], now)
    return ids


def notification_json(row) -> dict:
    """A notification as consumers (and a future webhook body) see it."""
    return {
        "id": row["id"],
        "kind": row["kind"],
        "event_id": row["event_id"],
        "order_id": row["order_id"],
        "ticket_id": row["ticket_id"],
        "data": json.loads(row["payload"]),
        "created_at": iso(row["created_at"]),
    }


def for_order(conn: Connection, order_id: int) -> list[dict]:
    """The order's notifications, oldest first."""
    rows = conn.execute(
        select(notifications).where(notifications.c.order_id == order_id).order_by(notifications.c.id)
    ).mappings()
    return [notification_json(row) for row in rows]
