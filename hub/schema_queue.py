"""Tables of the waiting room (hub/services/waiting_room.py): one row of shared queue state per event,
and the moment each admitted queue ticket was first let in.

Defined on the hub's one MetaData (hub.schema.metadata); migration 0006 (`0006_waiting_room.py`)
creates them and the events' two waiting-room columns (hub.schema.events: waiting_room,
admit_per_minute).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, String, Table

from .schema import BigId, UTCDateTime, metadata

# What every hub process must agree on, so it lives in the database (read at most once a second per
# process): how many queue tickets were handed out (`entries`, which also numbers them), how many of
# them arrived before the release (`pre_release`, fixed when the release passes, with the random
# `shuffle_key` that orders them), and how far admission has got (`admitted` positions, counted up to
# `admitted_at` at the event's admission rate).
waiting_rooms = Table(
    "waiting_rooms",
    metadata,
    Column("event_id", BigId, ForeignKey("events.id"), primary_key=True),
    Column("entries", BigInteger, nullable=False, default=0),
    Column("pre_release", BigInteger),  # NULL until the release has passed
    Column("shuffle_key", String(64)),  # hex; NULL until the release has passed
    Column("admitted", BigInteger, nullable=False, default=0),
    Column("admitted_at", UTCDateTime),
)

# One row per queue ticket that was let in: its admission lasts QUEUE_ADMISSION_TTL_SECONDS from
# `admitted_at`, however often the buyer asks again (asking again never starts a new window).
waiting_room_admissions = Table(
    "waiting_room_admissions",
    metadata,
    Column("event_id", BigId, ForeignKey("events.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # the queue ticket's number
    Column("admitted_at", UTCDateTime, nullable=False),
)
