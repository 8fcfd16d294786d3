"""users.name: the account holder's name, prefilled at checkout

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN works in place on SQLite (a batch table copy would trip over the rows referencing users)
    op.add_column("users", sa.Column("name", sa.String(200), nullable=False, server_default=""))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE users DROP COLUMN name")
        return
    op.drop_column("users", "name")
