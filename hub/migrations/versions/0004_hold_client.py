"""holds.client: whose share of live holds a hold counts against

Revision ID: h001
Revises: d001

Holds made before this revision have no client and count against nobody's share.
Idempotency keys stored before it are left as they are: they were the client's raw
key, and keys are now stored scoped to their hold (services.orders), so a retry
that spans the upgrade gets 409 hold_purchased instead of a replay.
"""

import sqlalchemy as sa
from alembic import op

revision = "h001"
down_revision = "d001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN and CREATE INDEX work in place on SQLite too: no table copy needed
    op.add_column("holds", sa.Column("client", sa.String(100), nullable=True))
    op.create_index("ix_holds_client", "holds", ["client", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_holds_client", table_name="holds")
    with op.batch_alter_table("holds") as batch_op:
        batch_op.drop_column("client")
