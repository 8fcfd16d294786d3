"""gate devices, enrolment tokens and synced gate scans

Revision ID: d001
Revises: w001
"""

import sqlalchemy as sa
from alembic import op

revision = "d001"
down_revision = "w001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("zones", sa.Text(), nullable=False),
        sa.Column("direction", sa.String(5), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("public_key", sa.String(64)),
        sa.Column("credential_hash", sa.String(64)),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime()),
        sa.Column("revoked_at", sa.DateTime()),
        sa.Column("last_sync_at", sa.DateTime()),
        sa.Column("clock_offset_s", sa.Float()),
        sa.Column("last_rtt_ms", sa.Integer()),
        sa.Column("backlog", sa.Integer()),
        sa.Column("pull_cursor", sa.BigInteger()),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_devices_event_id_events")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("credential_hash", name=op.f("uq_devices_credential_hash")),
    )
    op.create_table(
        "enrolment_tokens",
        sa.Column("id", BigId, nullable=False),
        sa.Column("device_id", BigId, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime()),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_enrolment_tokens_device_id_devices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_enrolment_tokens_token_hash")),
    )
    op.create_table(
        "gate_scans",
        sa.Column("id", BigId, nullable=False),
        sa.Column("scan_id", sa.String(32), nullable=False),
        sa.Column("device_id", BigId, nullable=False),
        sa.Column("event_id", sa.BigInteger()),
        sa.Column("ticket_id", sa.BigInteger()),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(40)),
        sa.Column("device_seq", sa.BigInteger(), nullable=False),
        sa.Column("device_time", sa.Float(), nullable=False),
        sa.Column("corrected_time", sa.Float(), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("hub_seq", sa.BigInteger(), nullable=False),
        sa.Column("duplicate_of", sa.String(32)),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_gate_scans_device_id_devices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_scans")),
        sa.UniqueConstraint("scan_id", name=op.f("uq_gate_scans_scan_id")),
        sa.UniqueConstraint("hub_seq", name=op.f("uq_gate_scans_hub_seq")),
    )
    op.create_index("ix_gate_scans_event_seq", "gate_scans", ["event_id", "hub_seq"])
    op.create_index("ix_gate_scans_ticket", "gate_scans", ["ticket_id", "event_id", "verdict"])
    counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(counters, [{"name": "gate_scan_seq", "value": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM counters WHERE name = 'gate_scan_seq'")
    op.drop_index("ix_gate_scans_ticket", table_name="gate_scans")
    op.drop_index("ix_gate_scans_event_seq", table_name="gate_scans")
    op.drop_table("gate_scans")
    op.drop_table("enrolment_tokens")
    op.drop_table("devices")
