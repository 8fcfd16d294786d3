"""The gate ↔ hub sync vocabulary (docs/sync-protocol.md), shared by both sides.

Pure Python on purpose: the gate imports it without Flask or a database.

* :class:`Verdict`: the verdict names a gate decides and the hub stores and counts;
* :class:`MovementKind`: admissions and exits as the hub's pull names them, and
  :data:`DIRECTIONS`, what a gate records;
* the push: its signature domain and headers, and its limits (scans, bytes, reason
  length, number ranges): the hub refuses what exceeds them, the gate never builds it;
* the window of plausible device times (:data:`TIME_MIN` .. :data:`TIME_MAX`);
* :func:`format_utc`: the one UTC time formatter. It is total: whatever a stored
  time holds, it can be shown, so one bad row never breaks a page, a CSV or an API.
  :func:`format_scan_time` is it at the precision scan times are shown with.
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime


class Verdict(str, enum.Enum):
    ADMITTED = "admitted"
    EXIT_RECORDED = "exit_recorded"
    ALREADY_ADMITTED = "already_admitted"
    REVOKED = "revoked"
    WRONG_EVENT = "wrong_event"
    WRONG_ZONE = "wrong_zone"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    INVALID = "invalid"
    NOT_A_TICKET = "not_a_ticket"
    # a supervisor took an admission back ("scanned the wrong phone"): its reason is the annulled scan's id
    ANNULLED = "annulled"

    def __str__(self) -> str:
        return self.value


VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)  # in declaration order


class MovementKind(str, enum.Enum):
    """What a pull calls an admission and an exit recorded at another gate."""

    ENTRY = "entry"
    EXIT = "exit"
    ANNUL = "annul"  # an admission taken back: the ticket is out and that admission no longer counts

    def __str__(self) -> str:
        return self.value


# The verdicts that move a ticket in or out; every other verdict is a refusal.
MOVEMENT_OF: dict[str, str] = {
    Verdict.ADMITTED.value: MovementKind.ENTRY.value,
    Verdict.EXIT_RECORDED.value: MovementKind.EXIT.value,
    Verdict.ANNULLED.value: MovementKind.ANNUL.value,
}
MOVEMENT_VERDICTS: tuple[str, ...] = tuple(MOVEMENT_OF)

# A gate's direction is the movement it records: an entry gate admits, an exit gate records exits.
DIRECTIONS: tuple[str, ...] = (MovementKind.ENTRY.value, MovementKind.EXIT.value)
DEFAULT_DIRECTION = MovementKind.ENTRY.value  # a gate not told otherwise records entries

# Re-entry policies a device is set to on the hub: one admission per ticket; again after an exit; always.
REENTRY_POLICIES: tuple[str, ...] = ("single", "reentry", "unlimited")
DEFAULT_REENTRY = "single"

# Supervisor actions at the door (docs/sync-protocol.md, "Undo and override"). A forced admission is an
# `admitted` scan with this reason and the supervisor's words in its note; an annulment is an `annulled`
# scan whose reason is the id of the admission it takes back.
FORCED_REASON = "forced"
NOTE_MAX_CHARS = 200  # a scan's note; the hub refuses longer ones (422 invalid_field)

# --- push: a signed batch of scans (POST /api/v1/sync/push) ------------------------------------

PUSH_DOMAIN = b"ticketgate/push/v1\x00"  # signed before the body: a push signature signs nothing else
SIGNATURE_HEADER = "X-Device-Signature"  # base64 Ed25519 signature of PUSH_DOMAIN + the body
DEVICE_TIME_HEADER = "X-Device-Time"  # the device's wall clock when sending (Unix seconds)
LAST_RTT_HEADER = "X-Device-Last-RTT-Ms"  # round trip of the device's previous call, in ms

PUSH_FIELDS = ("sent_at", "last_rtt_ms", "backlog", "scans")  # a push body has no other field
PUSH_MAX_SCANS = 500  # scans in one push; the hub refuses more (422 invalid_batch)
PUSH_MAX_BYTES = 256 * 1024  # a push body's bytes; the hub refuses more (413), whatever its MAX_CONTENT_LENGTH
# A gate that has had no successful exchange with the hub for this long is offline, on its own door
# screen and on the hub's dashboard alike. Idle gates send an empty signed push (a heartbeat) every
# GATE_PUSH_INTERVAL_S (2 s by default), so this is about three missed heartbeats.
OFFLINE_AFTER_S = 6.0
REASON_MAX_CHARS = 40  # a scan's reason; the hub refuses longer ones (422 invalid_field)
SCAN_ID_HEX_DIGITS = 32  # a scan id: 128 random bits as lower-case hex, the sync nonce
ID_MAX = 2**63 - 1  # seq, event_id and ticket_id: integers 0..ID_MAX (the hub's BIGINT columns)
COUNT_MAX = 2**31 - 1  # last_rtt_ms and backlog: integers 0..COUNT_MAX (the hub's INTEGER columns)

_HEX_DIGITS = frozenset("0123456789abcdef")


def is_scan_id(value: object) -> bool:
    """SCAN_ID_HEX_DIGITS lower-case hex digits."""
    return isinstance(value, str) and len(value) == SCAN_ID_HEX_DIGITS and _HEX_DIGITS.issuperset(value)


def encode_push(sent_at: float, last_rtt_ms: int | None, backlog: int, scans: list[dict]) -> bytes:
    """The bytes of a push body (compact JSON): what the device signs and the hub verifies."""
    return json.dumps(
        {"sent_at": sent_at, "last_rtt_ms": last_rtt_ms, "backlog": backlog, "scans": scans}, separators=(",", ":")
    ).encode("utf-8")


# Device times (a scan's wall_time, a push's sent_at) outside this window are a wrong
# clock, not a moment: the hub refuses them and a gate never records or sends one.
TIME_MIN = 946_684_800  # 2000-01-01T00:00:00Z
TIME_MAX = 4_102_444_800  # 2100-01-01T00:00:00Z

INVALID_TIME = "invalid time"  # what a time no calendar can show is displayed as


def plausible_time(value: object) -> bool:
    """A Unix time (int or float, not a bool) within TIME_MIN..TIME_MAX; nan is not."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and TIME_MIN <= value <= TIME_MAX


def to_utc(value: object) -> datetime | None:
    """An aware UTC datetime for Unix seconds, a datetime (naive means UTC) or an ISO 8601
    text; None for anything that is not a time a calendar can show. Never raises."""
    try:
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        else:
            return None
        return moment.astimezone(UTC)
    except (OverflowError, OSError, ValueError):
        return None


def format_utc(value: object, timespec: str = "auto") -> str | None:
    """ISO 8601 in UTC with a Z, e.g. ``2026-05-01T19:30:00Z``. None stays None; a value
    :func:`to_utc` cannot read is :data:`INVALID_TIME` (never an exception). ``timespec``
    as in :meth:`datetime.isoformat`: "auto" keeps microseconds only when present."""
    if value is None:
        return None
    moment = to_utc(value)
    if moment is None:
        return INVALID_TIME
    return moment.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def format_scan_time(epoch: object) -> str | None:
    """A scan's time (device, hub-corrected or received; Unix seconds) as every report and
    screen shows it: :func:`format_utc` to the millisecond."""
    return format_utc(epoch, "milliseconds")


# --- peers: gate-to-gate exchange of movements on the LAN (docs/peers.md) -----------------------

PEER_DOMAIN = b"ticketgate/peer/v1\x00"  # signed before a peer message: never valid as a push, nor a push as it
PEER_PATH = "/peer/v1/movements"  # POST a signed message to a peer
PEER_SIGNATURE_HEADER = "X-Peer-Signature"  # base64 Ed25519 signature of PEER_DOMAIN + the body
PEER_PORT_DEFAULT = 8471  # TCP port a gate listens on for its peers (GATE_PEER_PORT)
PEER_PORT_HEADER = "X-Device-Peer-Port"  # on pull: the port this gate's peers reach it on (absent: none)
PEER_MDNS_TYPE = "_ticketgate._tcp.local."  # the zeroconf service type gates announce and browse
PEER_ROSTER_TYPE = "ticketgate-peer-roster"  # the hub's signed list of a device's peers, in its configuration
PEER_ROSTER_DOMAIN = b"ticketgate/peer-roster/v1\x00"  # its signature's domain (common.signing canonical JSON)
PEER_FIELDS = ("device_id", "sent_at", "movements")  # a peer message has no other field
PEER_MOVEMENT_FIELDS = ("scan_id", "event_id", "ticket_id", "kind", "at")
PEER_MAX_MOVEMENTS = 200  # movements in one peer message; a receiver refuses more
PEER_MAX_BYTES = 64 * 1024  # a peer message's bytes; a receiver refuses more


def encode_peer_message(device_id: int, sent_at: float, movements: list[dict]) -> bytes:
    """The bytes of a peer message (compact JSON): what the sending device signs, the receiver verifies."""
    return json.dumps(
        {"device_id": device_id, "sent_at": sent_at, "movements": movements}, separators=(",", ":")
    ).encode("utf-8")
