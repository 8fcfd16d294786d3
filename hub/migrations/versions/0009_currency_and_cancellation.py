"""Money per event and event cancellation: events.currency, orders.currency, events.cancelled_at

Revision ID: 0009
Revises: 0008

Existing events and orders were all in the hub's one currency, EUR (services.pricing.CURRENCY before
this revision); no event is cancelled.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN works in place on SQLite too (a table copy would trip over the rows referencing events)
    op.add_column("events", sa.Column("currency", sa.String(3), nullable=False, server_default="EUR"))
    op.add_column("events", sa.Column("cancelled_at", sa.DateTime(), nullable=True))
    op.add_column("orders", sa.Column("currency", sa.String(3), nullable=False, server_default="EUR"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite >= 3.35 drops columns in place; a batch table copy would trip over the rows referencing events
        op.execute("ALTER TABLE orders DROP COLUMN currency")
        op.execute("ALTER TABLE events DROP COLUMN cancelled_at")
        op.execute("ALTER TABLE events DROP COLUMN currency")
        return
    op.drop_column("orders", "currency")
    op.drop_column("events", "cancelled_at")
    op.drop_column("events", "currency")
