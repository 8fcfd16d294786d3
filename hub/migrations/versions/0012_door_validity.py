"""Validity and door settings from the hub (#15): event doors-open/end times, time zone, names at the
door and supervisor PIN; ticket-type validity windows; a device's re-entry policy and further events;
a scan's note (a forced admission's reason) and the annulment of an admission.

Revision ID: 0012
Revises: 0011

Existing rows: no windows (the gate falls back to the event's start, see services.events.door_window),
names not shown, no supervisor PIN (undo and override are off), re-entry "single", no further events.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = {
    "events": [
        sa.Column("doors_open_at", sa.DateTime(), nullable=True),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("door_shows_names", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("supervisor_pin_hash", sa.String(200), nullable=True),
    ],
    "ticket_types": [
        sa.Column("valid_from", sa.DateTime(), nullable=True),
        sa.Column("valid_until", sa.DateTime(), nullable=True),
    ],
    "devices": [
        sa.Column("reentry", sa.String(10), nullable=False, server_default="single"),
        sa.Column("more_event_ids", sa.Text(), nullable=False, server_default="[]"),
    ],
    "gate_scans": [
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("annulled_by", sa.String(32), nullable=True),
    ],
}


def upgrade() -> None:
    # ADD COLUMN works in place on SQLite too (a table copy would trip over the rows referencing these tables)
    for table, columns in COLUMNS.items():
        for column in columns:
            op.add_column(table, column)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, columns in reversed(COLUMNS.items()):
        for column in reversed(columns):
            if sqlite:  # SQLite >= 3.35 drops columns in place
                op.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")
            else:
                op.drop_column(table, column.name)
