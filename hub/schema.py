"""Tables (SQLAlchemy Core). Alembic migrations in hub/migrations create them.

Times are stored as naive UTC and returned as aware UTC datetimes (UTCDateTime).
Money is integer minor units of the event's currency (services.money).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out; naive UTC in the database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # defensive: raw SQLite text
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


# Integer primary keys that are BIGINT on PostgreSQL and INTEGER (rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),  # admin | organizer | door_staff | customer
    Column("created_at", UTCDateTime, nullable=False),
    # signed into the session cookie; logout, password and 2FA changes bump it, ending every session
    Column("session_version", Integer, nullable=False, default=0, server_default="0"),
    # door staff: the organizer whose events they work at (NULL: see services.staff)
    Column("staff_of", BigId, ForeignKey("users.id")),
    # what the account holder calls themself: prefills checkout (empty: not given)
    Column("name", String(200), nullable=False, default="", server_default=""),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("user_id", BigId, ForeignKey("users.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 hex; the token is never stored
    Column("name", String(100), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

venues = Table(
    "venues",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("owner_id", BigId, ForeignKey("users.id")),
    Column("created_at", UTCDateTime, nullable=False),
)

# One row per physical seat. `position` is the seat's 0-based index in the venue's
# seat map (the `seat` field of a signed ticket); `row_order` orders rows front to
# back and `seat_order` orders seats left to right within a row (adjacency).
venue_seats = Table(
    "venue_seats",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("venue_id", BigId, ForeignKey("venues.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("section", String(100), nullable=False),
    Column("row", String(100), nullable=False),
    Column("label", String(100), nullable=False),
    Column("section_order", Integer, nullable=False),
    Column("row_order", Integer, nullable=False),
    Column("seat_order", Integer, nullable=False),
    UniqueConstraint("venue_id", "position"),
    UniqueConstraint("venue_id", "section", "row", "label", name="uq_venue_seats_label"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("organizer_id", BigId, ForeignKey("users.id")),
    Column("title", String(300), nullable=False),
    Column("artist", String(300), nullable=False, default=""),
    Column("location", String(300), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("category", String(100), nullable=False, default=""),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ticket_release_at", UTCDateTime, nullable=False),
    Column("venue_id", BigId, ForeignKey("venues.id")),
    Column("service_fee", Integer, nullable=False, default=0),  # per ticket, minor units
    Column("created_at", UTCDateTime, nullable=False),
    # the on-sale waiting room (services.waiting_room): holds need an admission while it is on
    Column("waiting_room", Boolean, nullable=False, default=False, server_default=false()),
    Column("admit_per_minute", Integer, nullable=False, default=600, server_default="600"),
    # JSON {payment method: minutes an unpaid order of that method is kept}; a missing method takes the
    # hub's PAYMENT_DEADLINE_<METHOD>_MINUTES (services.orders.payment_due_at)
    Column("payment_deadlines", Text, nullable=False, default="{}", server_default="{}"),
    # ISO 4217; every amount of the event (prices, fees, its orders) is in minor units of it (services.money)
    Column("currency", String(3), nullable=False, default="EUR", server_default="EUR"),
    # when the event was cancelled (event_admin.cancel_event, which also sets status "cancelled")
    Column("cancelled_at", UTCDateTime),
    # draft | published | paused | cancelled (services.event_status, the one home of what each allows):
    # only published and paused are listed
    Column("status", String(10), nullable=False, default="published", server_default="published"),
    # at the door (migration 0012): the window gates admit in (NULL: services.events.door_window's
    # defaults), the IANA zone its times are shown in, whether ADMIT shows the attendee's name, and the
    # supervisor PIN for undo and override (services.events.pin_hash; NULL: no supervisor actions)
    Column("doors_open_at", UTCDateTime),
    Column("ends_at", UTCDateTime),
    Column("timezone", String(64)),
    Column("door_shows_names", Boolean, nullable=False, default=False, server_default=false()),
    Column("supervisor_pin_hash", String(200)),
    Index("ix_events_starts_at", "starts_at"),
)

ticket_types = Table(
    "ticket_types",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("event_id", BigId, ForeignKey("events.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(8), nullable=False),  # seated | ga
    Column("price", Integer, nullable=False),
    Column("capacity", Integer),  # ga only
    Column("sold", Integer, nullable=False, default=0),  # ga only: tickets sold
    Column("sections", Text, nullable=False, default="[]"),  # seated: JSON list, [] = all
    Column("zones", Text, nullable=False, default="[]"),  # JSON list of ints 1..16, [] = all
    Column("sales_start", UTCDateTime),
    Column("sales_end", UTCDateTime),
    # the type's own validity at the door (a festival day ticket, a late-entry window); NULL: the event's
    Column("valid_from", UTCDateTime),
    Column("valid_until", UTCDateTime),
    # hidden by the organizer: not shown in the shop and not sold (services.event_admin.update_ticket_type)
    Column("hidden", Boolean, nullable=False, default=False, server_default=false()),
)

holds = Table(
    "holds",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("event_id", BigId, ForeignKey("events.id"), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("kind", String(8), nullable=False),  # seats | ga
    Column("ticket_type_id", BigId, ForeignKey("ticket_types.id")),  # ga only
    Column("quantity", Integer, nullable=False),
    Column("status", String(10), nullable=False),  # active | released | expired | purchased
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    # whose share of holds this counts against (services.holds.client_identity); NULL: no limit
    Column("client", String(100)),
    Index("ix_holds_live", "status", "expires_at"),
    Index("ix_holds_ga", "ticket_type_id", "status"),
    Index("ix_holds_client", "client", "status"),
)

# Sale state of each seat for one event. A seat is free when status is
# 'available' or its hold has expired (held_until <= now), swept or not.
event_seats = Table(
    "event_seats",
    metadata,
    Column("event_id", BigId, ForeignKey("events.id"), primary_key=True),
    Column("seat_id", BigId, ForeignKey("venue_seats.id"), primary_key=True),
    Column("position", Integer, nullable=False),  # copy of venue_seats.position, for the index below
    Column("status", String(10), nullable=False, default="available"),  # available | held | sold
    Column("hold_id", BigId),
    Column("held_until", UTCDateTime),
    Column("ticket_type_id", BigId),
    Column("order_id", BigId),
    Index("ix_event_seats_hold", "hold_id"),
    Index("ix_event_seats_order", "order_id"),
    # Unsold seats in seat-map order: best-available scans walk this and stop early.
    Index(
        "ix_event_seats_unsold",
        "event_id",
        "position",
        sqlite_where=text("status <> 'sold'"),
        postgresql_where=text("status <> 'sold'"),
    ),
)

orders = Table(
    "orders",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("event_id", BigId, ForeignKey("events.id"), nullable=False),
    Column("hold_id", BigId, ForeignKey("holds.id"), nullable=False, unique=True),
    Column("buyer_name", String(200), nullable=False),
    Column("buyer_email", String(320), nullable=False),
    Column("status", String(10), nullable=False),  # pending | paid | expired | refunded | cancelled
    Column("payment_method", String(20), nullable=False),
    Column("subtotal", Integer, nullable=False),
    Column("fees", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("currency", String(3), nullable=False, default="EUR", server_default="EUR"),  # the event's, when placed
    Column("idempotency_key", String(200), unique=True),
    Column("access_token", String(64), nullable=False),  # lets the buyer fetch tickets, like the ticket text itself
    Column("created_at", UTCDateTime, nullable=False),
    Column("paid_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    # an unpaid order expires at this time (services.orders.expire_overdue); None once paid or for free orders
    Column("payment_due_at", UTCDateTime),
    # JSON [[seat_id, ticket_type_id], ...]: the seats an expired order gave back, so a late
    # confirmation can take exactly those again if they are still free
    Column("released_seats", Text),
    Index("ix_orders_due", "status", "payment_due_at"),
    # online payments (card): the provider's payment id (a Stripe PaymentIntent), why the last attempt
    # failed (shown on the order page), and how much the provider has confirmed it gave back
    Column("payment_ref", String(255)),
    Column("payment_error", String(300)),
    Column("refunded_amount", Integer, nullable=False, default=0, server_default="0"),
    # an expired or cancelled order whose open payment the provider has not cancelled yet (the sweep retries)
    Column("payment_cancel_due", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_orders_cancel_due", "payment_cancel_due"),  # every sweep looks for the (rare) true ones
    Index("uq_orders_payment_ref", "payment_ref", unique=True),
)

# Webhook events of payment providers already applied (by the provider's event id): a replay changes nothing.
payment_events = Table(
    "payment_events",
    metadata,
    Column("event_id", String(255), primary_key=True),
    Column("provider", String(20), nullable=False),
    Column("type", String(100), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", BigId, primary_key=True),  # the signed ticket_id
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=False),
    Column("event_id", BigId, ForeignKey("events.id"), nullable=False),
    Column("ticket_type_id", BigId, ForeignKey("ticket_types.id"), nullable=False),
    Column("seat_id", BigId, ForeignKey("venue_seats.id")),
    Column("code", String(300), nullable=False, default=""),
    Column("kid", String(8), nullable=False, default=""),
    Column("status", String(10), nullable=False),  # valid | revoked
    Column("replaces_id", BigId),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Index("ix_tickets_order", "order_id"),
    Index("ix_tickets_event", "event_id"),
)

# `seq` comes from the counters table inside the revoking transaction, so it
# grows in commit order: a gate that has seen seq N has seen every seq <= N.
revocations = Table(
    "revocations",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", BigId, ForeignKey("events.id"), nullable=False),
    Column("ticket_id", BigId, nullable=False),
    Column("reason", String(20), nullable=False),
    Column("revoked_at", UTCDateTime, nullable=False),
    Index("ix_revocations_event_seq", "event_id", "seq"),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
