"""The domain-event outbox (services.notifications) and the mail queue that works it.

`notifications` records that something happened to an order or a ticket, written in the same
transaction as the change itself, so a change and its notification commit (or roll back) together.
Each consumer keeps its own state in its own table keyed by the notification: `mail_jobs` for the
buyer's mail (services.mail_queue); outgoing webhooks add theirs the same way.
Migration 0007 creates them.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from .schema import BigId, UTCDateTime, metadata

notifications = Table(
    "notifications",
    metadata,
    Column("id", BigId, primary_key=True),  # grows with every publish; consumers may page by it
    Column("kind", String(40), nullable=False),  # services.notifications.KINDS, e.g. order.paid
    Column("event_id", BigId, ForeignKey("events.id"), nullable=False),  # its organizer: events.organizer_id
    Column("order_id", BigId, ForeignKey("orders.id")),
    Column("ticket_id", BigId),  # the ticket it is about (ticket.*), else None
    Column("payload", Text, nullable=False, default="{}"),  # small JSON: facts as they were at publish time
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_notifications_event", "event_id", "id"),
    Index("ix_notifications_order", "order_id"),
)

# The buyer's mail for a notification: one row per mailed notification, worked by the background job.
mail_jobs = Table(
    "mail_jobs",
    metadata,
    Column("notification_id", BigId, ForeignKey("notifications.id"), primary_key=True),
    Column("status", String(10), nullable=False),  # queued | sent | outbox | skipped
    Column("attempts", Integer, nullable=False, default=0),  # failed SMTP attempts so far
    Column("next_attempt_at", UTCDateTime, nullable=False),  # while queued: not before this time
    Column("sent_at", UTCDateTime),  # when it left (sent, or written to the outbox folder)
    Column("last_error", String(500)),
    Index("ix_mail_jobs_due", "status", "next_attempt_at"),
)
