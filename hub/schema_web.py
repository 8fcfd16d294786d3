"""Tables of the web layer: promo codes, password resets, TOTP, account orders, mail log.

Defined on the hub's one MetaData (hub.schema.metadata) so Alembic sees them;
migration 0002 (`0002_web_tables.py`, revision id `w001`) creates them.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from .schema import BigId, UTCDateTime, metadata

promo_codes = Table(
    "promo_codes",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("event_id", BigId, ForeignKey("events.id"), nullable=False),
    Column("code", String(40), nullable=False),  # stored upper-case
    Column("kind", String(8), nullable=False),  # percent | fixed
    Column("value", Integer, nullable=False),  # percent 1..100, or minor units off the order
    Column("max_uses", Integer),  # None: unlimited
    Column("used", Integer, nullable=False, default=0),
    Column("valid_from", UTCDateTime),
    Column("valid_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("event_id", "code", name="uq_promo_codes_event_code"),
)

# The promo applied to an order (at most one) and the discount it gave.
order_promos = Table(
    "order_promos",
    metadata,
    Column("order_id", BigId, ForeignKey("orders.id"), primary_key=True),
    Column("promo_id", BigId, ForeignKey("promo_codes.id"), nullable=False),
    Column("discount", Integer, nullable=False),
)

# Orders placed while logged in: the account's order history.
account_orders = Table(
    "account_orders",
    metadata,
    Column("order_id", BigId, ForeignKey("orders.id"), primary_key=True),
    Column("user_id", BigId, ForeignKey("users.id"), nullable=False),
    Index("ix_account_orders_user", "user_id"),
)

password_resets = Table(
    "password_resets",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("user_id", BigId, ForeignKey("users.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 hex; the token is only mailed
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)

user_totp = Table(
    "user_totp",
    metadata,
    Column("user_id", BigId, ForeignKey("users.id"), primary_key=True),
    Column("secret", String(64), nullable=False),
    Column("enabled_at", UTCDateTime),  # None until the first code is confirmed
    Column("last_step", Integer, nullable=False, default=0),  # a code is accepted once
)

# Every message the hub sent or parked in the outbox; (kind, order_id) is unique
# for once-per-order messages such as the event reminder.
mail_log = Table(
    "mail_log",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("kind", String(30), nullable=False),  # confirmation | refund | reminder | password_reset
    Column("order_id", BigId, ForeignKey("orders.id")),
    Column("recipient", String(320), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("status", String(10), nullable=False),  # sent | outbox
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_mail_log_order", "order_id", "kind"),
)

# The reminder job claims an order here before mailing it, so each order gets one reminder.
order_reminders = Table(
    "order_reminders",
    metadata,
    Column("order_id", BigId, ForeignKey("orders.id"), primary_key=True),
    Column("sent_at", UTCDateTime, nullable=False),
)

# An organizer's mailed invitation to work for them: door staff or a co-organizer (services.staff).
staff_invites = Table(
    "staff_invites",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("organizer_id", BigId, ForeignKey("users.id"), nullable=False),  # whom the invitee will work for
    Column("email", String(320), nullable=False),
    Column("role", String(16), nullable=False),  # door_staff | organizer (a co-organizer)
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 hex; the token is only mailed
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("accepted_at", UTCDateTime),
    Column("user_id", BigId, ForeignKey("users.id")),  # the account that accepted it
    Index("ix_staff_invites_organizer", "organizer_id"),
)
