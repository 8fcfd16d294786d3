"""The on-sale waiting room: events.waiting_room and events.admit_per_minute, the shared queue state
(waiting_rooms) and the admitted queue tickets (waiting_room_admissions)

Revision ID: 0006
Revises: s001

Existing events get the waiting room off (and 600 admissions a minute for when it is turned on).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "s001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # ADD COLUMN works in place on SQLite too (a table copy would trip over the rows referencing events)
    op.add_column("events", sa.Column("waiting_room", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("events", sa.Column("admit_per_minute", sa.Integer(), nullable=False, server_default="600"))
    op.create_table(
        "waiting_rooms",
        sa.Column(
            "event_id", BigId, sa.ForeignKey("events.id", name="fk_waiting_rooms_event_id_events"), nullable=False
        ),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("pre_release", sa.BigInteger(), nullable=True),
        sa.Column("shuffle_key", sa.String(64), nullable=True),
        sa.Column("admitted", sa.BigInteger(), nullable=False),
        sa.Column("admitted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_waiting_rooms"),
    )
    op.create_table(
        "waiting_room_admissions",
        sa.Column(
            "event_id",
            BigId,
            sa.ForeignKey("events.id", name="fk_waiting_room_admissions_event_id_events"),
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("admitted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "seq", name="pk_waiting_room_admissions"),
    )


def downgrade() -> None:
    op.drop_table("waiting_room_admissions")
    op.drop_table("waiting_rooms")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite >= 3.35 drops columns in place; a batch table copy would trip over the rows referencing events
        op.execute("ALTER TABLE events DROP COLUMN admit_per_minute")
        op.execute("ALTER TABLE events DROP COLUMN waiting_room")
        return
    op.drop_column("events", "admit_per_minute")
    op.drop_column("events", "waiting_room")
