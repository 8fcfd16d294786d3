"""Event status (draft, published, paused, cancelled), hidden ticket types and organizers' staff invitations

Revision ID: 0013
Revises: 0012

Existing events stay public: they become "published", except those cancelled before (events.cancelled_at,
revision 0009), which become "cancelled". New events made on the organizer pages
start as drafts (services.event_status).
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # ADD COLUMN works in place on SQLite too (a table copy would trip over the rows referencing events)
    op.add_column("events", sa.Column("status", sa.String(10), nullable=False, server_default="published"))
    # the status is the one source of truth now; events cancelled before this revision only had cancelled_at
    op.execute("UPDATE events SET status = 'cancelled' WHERE cancelled_at IS NOT NULL")
    op.add_column("ticket_types", sa.Column("hidden", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "staff_invites",
        sa.Column("id", BigId, nullable=False),
        sa.Column(
            "organizer_id", BigId, sa.ForeignKey("users.id", name="fk_staff_invites_organizer_id_users"), nullable=False
        ),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", name="fk_staff_invites_user_id_users"), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_staff_invites"),
        sa.UniqueConstraint("token_hash", name="uq_staff_invites_token_hash"),
    )
    op.create_index("ix_staff_invites_organizer", "staff_invites", ["organizer_id"])


def downgrade() -> None:
    op.drop_index("ix_staff_invites_organizer", table_name="staff_invites")
    op.drop_table("staff_invites")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE ticket_types DROP COLUMN hidden")
        op.execute("ALTER TABLE events DROP COLUMN status")
        return
    op.drop_column("ticket_types", "hidden")
    op.drop_column("events", "status")
