"""Tables of gate devices and scan sync: devices, enrolment tokens, gate scans.

Defined on the hub's one MetaData (hub.schema.metadata); migration 0003 (`0003_devices_and_sync.py`, revision `d001`)
creates them. Scan times are Unix seconds (float) as the gates report them:
ingest writes thousands of rows a second and compares them numerically.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from common.protocol import DEFAULT_DIRECTION

from .schema import BigId, UTCDateTime, metadata

# A gate device. `credential_hash` is the SHA-256 of its bearer credential (the
# credential itself is shown once, to the gate); `public_key` (base64, raw 32
# bytes Ed25519) verifies its push batches. `config_version` grows on every
# rename / reassignment so gates pull the new configuration.
devices = Table(
    "devices",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("event_id", BigId, ForeignKey("events.id"), nullable=False),
    Column("zones", Text, nullable=False, default="[]"),  # JSON list of ints, [] = every zone
    Column("direction", String(5), nullable=False, default=DEFAULT_DIRECTION),  # common.protocol.DIRECTIONS
    Column("status", String(10), nullable=False),  # pending | active | revoked
    Column("public_key", String(64)),
    Column("credential_hash", String(64), unique=True),
    Column("config_version", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime, nullable=False),
    Column("enrolled_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("last_sync_at", UTCDateTime),
    Column("clock_offset_s", Float),  # hub time - device time, measured at the last sync
    Column("last_rtt_ms", Integer),
    Column("backlog", Integer),  # unsynced scans the gate reported at its last push
    Column("pull_cursor", BigInteger),  # the scan seq the gate has pulled up to
    Column("peer_address", String(64)),  # host:port its peers reach it on, seen at its last pull (migration 0011)
    # migration 0012: re-entry policy (common.protocol.REENTRY_POLICIES) and the events the device
    # serves besides event_id (JSON list of ids: a festival gate, a double bill)
    Column("reentry", String(10), nullable=False, default="single", server_default="single"),
    Column("more_event_ids", Text, nullable=False, default="[]", server_default="[]"),
)

enrolment_tokens = Table(
    "enrolment_tokens",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("device_id", BigId, ForeignKey("devices.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)

# Every scan pushed by a gate, stored once by its random scan_id (the nonce).
# `hub_seq` comes from the counters row `gate_scan_seq` inside the ingesting
# transaction, so it grows in commit order and is the gates' pull cursor.
# `duplicate_of` names the entry scan an admission duplicates (hub-corrected
# time order); NULL for entries and every other scan.
gate_scans = Table(
    "gate_scans",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("scan_id", String(32), nullable=False, unique=True),
    Column("device_id", BigId, ForeignKey("devices.id"), nullable=False),
    Column("event_id", BigInteger),
    Column("ticket_id", BigInteger),
    Column("verdict", String(20), nullable=False),
    Column("reason", String(40)),
    Column("device_seq", BigInteger, nullable=False),
    Column("device_time", Float, nullable=False),
    Column("corrected_time", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("hub_seq", BigInteger, nullable=False, unique=True),
    Column("duplicate_of", String(32)),
    # migration 0012: a forced admission's reason as the supervisor typed it; the annulled scan that
    # took this admission back (set by services.sync.resolve_duplicates, which then skips it)
    Column("note", String(200)),
    Column("annulled_by", String(32)),
    Index("ix_gate_scans_event_seq", "event_id", "hub_seq"),
    Index("ix_gate_scans_ticket", "ticket_id", "event_id", "verdict"),
)

SCAN_COUNTER = "gate_scan_seq"
