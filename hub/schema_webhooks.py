"""Outgoing webhooks (services.webhooks): an organizer's endpoints and the deliveries made to them.

A delivery is one notification (schema_notifications.notifications) for one endpoint, fanned out by
services.notifications.publish in the transaction that made the change, and worked by the
background job (hub/delivery/webhooks.py) with retries. Migration 0008 creates them.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from .schema import BigId, UTCDateTime, metadata

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("organizer_id", BigId, ForeignKey("users.id"), nullable=False),  # whose events it hears about
    Column("url", String(2000), nullable=False),
    Column("secret", String(100), nullable=False),  # HMAC-SHA256 key of its signatures, shown once
    Column("kinds", Text, nullable=False),  # JSON list of services.notifications kinds it subscribes to
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_webhook_endpoints_organizer", "organizer_id", "active"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("endpoint_id", BigId, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("notification_id", BigId, ForeignKey("notifications.id"), nullable=False),
    Column("status", String(10), nullable=False),  # queued | delivered | failed (gave up)
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),  # while queued: not before this time
    Column("last_attempt_at", UTCDateTime),
    Column("last_status", Integer),  # the receiver's HTTP status of the last attempt (None: no answer)
    Column("last_error", String(500)),
    Column("delivered_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
)
