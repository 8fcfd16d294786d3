"""Card payments: orders.payment_ref (the Stripe PaymentIntent), orders.payment_error, orders.refunded_amount,
orders.payment_cancel_due (an expired or cancelled order's payment still to cancel with the provider),
and payment_events (webhook events already applied)

Revision ID: 0014
Revises: 0013

Existing orders have no online payment and nothing refunded through a provider.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN works in place on SQLite too (a table copy would trip over the rows referencing orders)
    op.add_column("orders", sa.Column("payment_ref", sa.String(255), nullable=True))
    op.add_column("orders", sa.Column("payment_error", sa.String(300), nullable=True))
    op.add_column("orders", sa.Column("refunded_amount", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("orders", sa.Column("payment_cancel_due", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("uq_orders_payment_ref", "orders", ["payment_ref"], unique=True)
    op.create_index("ix_orders_cancel_due", "orders", ["payment_cancel_due"])
    op.create_table(
        "payment_events",
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_payment_events"),
    )


def downgrade() -> None:
    op.drop_table("payment_events")
    op.drop_index("ix_orders_cancel_due", table_name="orders")
    op.drop_index("uq_orders_payment_ref", table_name="orders")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite >= 3.35 drops columns in place; a batch table copy would trip over the rows referencing orders
        for column in ("payment_cancel_due", "refunded_amount", "payment_error", "payment_ref"):
            op.execute(f"ALTER TABLE orders DROP COLUMN {column}")
        return
    for column in ("payment_cancel_due", "refunded_amount", "payment_error", "payment_ref"):
        op.drop_column("orders", column)
