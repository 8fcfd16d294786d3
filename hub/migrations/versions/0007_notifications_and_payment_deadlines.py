"""The notifications outbox and its mail queue (notifications, mail_jobs); payment deadlines
(events.payment_deadlines, orders.payment_due_at, orders.released_seats)

Revision ID: 0007
Revises: 0006

Orders placed before this revision have no payment deadline: they stay pending until staff act,
as they did. Existing events take the hub's default deadlines.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # ADD COLUMN and CREATE INDEX work in place on SQLite too (a table copy would trip over referencing rows)
    op.add_column("events", sa.Column("payment_deadlines", sa.Text(), nullable=False, server_default="{}"))
    op.add_column("orders", sa.Column("payment_due_at", sa.DateTime(), nullable=True))
    op.add_column("orders", sa.Column("released_seats", sa.Text(), nullable=True))
    op.create_index("ix_orders_due", "orders", ["status", "payment_due_at"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", BigId, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column(
            "event_id", BigId, sa.ForeignKey("events.id", name="fk_notifications_event_id_events"), nullable=False
        ),
        sa.Column(
            "order_id", BigId, sa.ForeignKey("orders.id", name="fk_notifications_order_id_orders"), nullable=True
        ),
        sa.Column("ticket_id", BigId, nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
    )
    op.create_index("ix_notifications_event", "notifications", ["event_id", "id"], unique=False)
    op.create_index("ix_notifications_order", "notifications", ["order_id"], unique=False)
    op.create_table(
        "mail_jobs",
        sa.Column(
            "notification_id",
            BigId,
            sa.ForeignKey("notifications.id", name="fk_mail_jobs_notification_id_notifications"),
            nullable=False,
        ),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("notification_id", name="pk_mail_jobs"),
    )
    op.create_index("ix_mail_jobs_due", "mail_jobs", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_table("mail_jobs")
    op.drop_table("notifications")
    op.drop_index("ix_orders_due", table_name="orders")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite >= 3.35 drops columns in place; a batch table copy would trip over the rows referencing them
        op.execute("ALTER TABLE orders DROP COLUMN released_seats")
        op.execute("ALTER TABLE orders DROP COLUMN payment_due_at")
        op.execute("ALTER TABLE events DROP COLUMN payment_deadlines")
        return
    op.drop_column("orders", "released_seats")
    op.drop_column("orders", "payment_due_at")
    op.drop_column("events", "payment_deadlines")
