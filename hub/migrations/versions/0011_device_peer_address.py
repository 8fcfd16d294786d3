"""devices.peer_address: where the device's peers reach it on the LAN (gate-to-gate exchange, docs/peers.md)

Revision ID: 0011
Revises: 0010

The hub records it from each pull (the request's address and the port the gate reports) and
hands it to the other gates of the event with their configuration. Existing devices have none
until their next pull.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("devices", sa.Column("peer_address", sa.String(64), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite >= 3.35 drops columns in place; a batch table copy would trip over the rows referencing devices
        op.execute("ALTER TABLE devices DROP COLUMN peer_address")
        return
    op.drop_column("devices", "peer_address")
