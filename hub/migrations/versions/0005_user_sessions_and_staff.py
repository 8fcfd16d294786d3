"""users.session_version (logout ends the session everywhere) and users.staff_of (door staff per organizer)

Revision ID: s001
Revises: h001

Sessions started before this revision carry no session version and end once:
their users log in again. Door-staff accounts get no organizer (staff_of NULL):
on a hub without SINGLE_TENANT they work at no event until an admin assigns
them one on /manage/staff.
"""

import sqlalchemy as sa
from alembic import op

revision = "s001"
down_revision = "h001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # ADD COLUMN works in place on SQLite too (a table copy would trip over the rows referencing users)
    op.add_column("users", sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "sqlite":  # alembic cannot add the constraint there; SQLite's ALTER can
        op.execute(
            "ALTER TABLE users ADD COLUMN staff_of INTEGER CONSTRAINT fk_users_staff_of_users REFERENCES users (id)"
        )
    else:
        op.add_column("users", sa.Column("staff_of", BigId, nullable=True))
        op.create_foreign_key(op.f("fk_users_staff_of_users"), "users", "users", ["staff_of"], ["id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite >= 3.35 drops columns in place; a batch table copy would trip over the rows referencing users
        op.execute("ALTER TABLE users DROP COLUMN staff_of")
        op.execute("ALTER TABLE users DROP COLUMN session_version")
        return
    op.drop_constraint(op.f("fk_users_staff_of_users"), "users", type_="foreignkey")
    op.drop_column("users", "staff_of")
    op.drop_column("users", "session_version")
