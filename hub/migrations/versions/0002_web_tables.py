"""web layer tables: promo codes, account orders, password resets, TOTP, mail log, reminders

Revision ID: w001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "w001"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "promo_codes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.DateTime(), nullable=True),
        sa.Column("valid_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_promo_codes_event_id_events")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_codes")),
        sa.UniqueConstraint("event_id", "code", name="uq_promo_codes_event_code"),
    )
    op.create_table(
        "order_promos",
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("promo_id", BigId, nullable=False),
        sa.Column("discount", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_promos_order_id_orders")),
        sa.ForeignKeyConstraint(["promo_id"], ["promo_codes.id"], name=op.f("fk_order_promos_promo_id_promo_codes")),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_promos")),
    )
    op.create_table(
        "account_orders",
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_account_orders_order_id_orders")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_account_orders_user_id_users")),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_account_orders")),
    )
    op.create_index("ix_account_orders_user", "account_orders", ["user_id"])
    op.create_table(
        "password_resets",
        sa.Column("id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_password_resets_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
    )
    op.create_table(
        "user_totp",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("enabled_at", sa.DateTime(), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_totp_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_totp")),
    )
    op.create_table(
        "mail_log",
        sa.Column("id", BigId, nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("order_id", BigId, nullable=True),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_mail_log_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_log")),
    )
    op.create_index("ix_mail_log_order", "mail_log", ["order_id", "kind"])
    op.create_table(
        "order_reminders",
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_reminders_order_id_orders")),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_reminders")),
    )


def downgrade() -> None:
    for table in (
        "order_reminders",
        "mail_log",
        "user_totp",
        "password_resets",
        "account_orders",
        "order_promos",
        "promo_codes",
    ):
        op.drop_table(table)
