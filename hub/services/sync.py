"""Scan sync between gates and the hub: push (ingest), pull (changes since a cursor),
duplicate resolution. See docs/sync-protocol.md; the attendance it adds up to is in
services.attendance.

Exactly once: a scan is keyed by its random ``scan_id`` (the gate's nonce);
a retried or duplicated batch inserts only the ids not yet stored, and every
id the device owns is acknowledged again.

Order: a scan's ``corrected_time`` is its device wall time plus the device's
clock offset measured at the push that delivered it. Per ticket, admissions
and exits are replayed in corrected-time order: an admission while the ticket
is already inside is a duplicate of the admission that let it in.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from common.protocol import (
    COUNT_MAX,
    ID_MAX,
    MOVEMENT_OF,
    MOVEMENT_VERDICTS,
    PUSH_FIELDS,
    PUSH_MAX_SCANS,
    REASON_MAX_CHARS,
    SCAN_ID_HEX_DIGITS,
    VERDICTS,
    Verdict,
    is_scan_id,
    plausible_time,
)
from common.signing import SigningKey

from ..db import atomic
from ..schema import counters, events, revocations, tickets
from ..schema_devices import SCAN_COUNTER, devices, gate_scans
from . import notifications
from .clock import iso, utcnow
from .devices import device_config
from .errors import Invalid
from .tickets import revocations_since

log = logging.getLogger(__name__)

PULL_LIMIT = 1000
ADMITTED, EXITED = Verdict.ADMITTED.value, Verdict.EXIT_RECORDED.value
MOVEMENTS = MOVEMENT_VERDICTS


# --- clock -------------------------------------------------------------------


def measure_offset(hub_now: float, device_sent_at: float, last_rtt_ms: int | None) -> float:
    """Hub time minus device time: the request left the device half a round trip ago."""
    one_way = (last_rtt_ms or 0) / 2000.0
    return hub_now - one_way - device_sent_at


# --- push --------------------------------------------------------------------


def _number(value: Any, where: str) -> float:
    """A JSON number as a float. Whether it is a plausible time is judged later: per scan
    (a refusal the gate need not resend) or, for sent_at, for the whole batch."""
    if type(value) is float:  # the common case first
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"{where} must be a number (Unix seconds)", "invalid_field")
    try:
        return float(value)
    except OverflowError:  # an integer of hundreds of digits: a number, but no time
        return float("inf")


def _uint(value: Any, where: str, nullable: bool = False, most: int = ID_MAX) -> int | None:
    if type(value) is int and 0 <= value <= most:  # the common case first
        return value
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise Invalid(f"{where} must be an integer between 0 and {most}", "invalid_field")
    return value


_VERDICTS = frozenset(VERDICTS)  # exactly the names gates decide (common.protocol)

# Per-scan refusals: the scan is not stored but acknowledged (settled), so the gate marks
# it synced and one bad row never holds up the rows behind it. (scan_id_taken is the one
# refusal that is not acknowledged: that id is another device's.)
FOREIGN_EVENT = "foreign_event"  # for an event of another organizer than the device's
UNKNOWN_VERDICT = "unknown_verdict"  # not one of common.protocol.VERDICTS
TIME_OUT_OF_RANGE = "time_out_of_range"  # wall_time, or wall_time + clock offset, outside 2000..2100
SCAN_ID_TAKEN = "scan_id_taken"
CLOCK_OUT_OF_RANGE = "clock_out_of_range"  # 422: the batch's sent_at is outside 2000..2100


def parse_push(body: Any) -> dict:
    """Validate a push batch. Raises Invalid naming the first bad field.

    Hand-rolled rather than through services.validate: it runs for every scan of
    every batch (the ingest hot path), and the checks are few and flat."""
    if not isinstance(body, dict):
        raise Invalid("the batch must be a JSON object", "invalid_batch")
    unknown = set(body).difference(PUSH_FIELDS)
    if unknown:
        raise Invalid(f"batch: unknown field(s) {', '.join(sorted(unknown))}", "unknown_field")
    scans = body.get("scans")
    if not isinstance(scans, list) or len(scans) > PUSH_MAX_SCANS:
        raise Invalid(f"batch.scans must be a list of at most {PUSH_MAX_SCANS} scans", "invalid_batch")
    out = []
    for i, scan in enumerate(scans):
        if not isinstance(scan, dict):
            raise Invalid(f"batch.scans[{i}] must be an object", "invalid_field")
        scan_id, verdict, reason = scan.get("scan_id"), scan.get("verdict"), scan.get("reason")
        if not is_scan_id(scan_id):
            raise Invalid(
                f"batch.scans[{i}].scan_id must be {SCAN_ID_HEX_DIGITS} lower-case hex digits", "invalid_field"
            )
        if not isinstance(verdict, str):
            raise Invalid(f"batch.scans[{i}].verdict must be a verdict name", "invalid_field")
        if reason is not None and (not isinstance(reason, str) or len(reason) > REASON_MAX_CHARS):
            raise Invalid(
                f"batch.scans[{i}].reason must be text of at most {REASON_MAX_CHARS} characters", "invalid_field"
            )
        out.append(
            {
                "scan_id": scan_id,
                "verdict": verdict,
                "reason": reason,
                "device_seq": _uint(scan.get("seq"), f"batch.scans[{i}].seq"),
                "device_time": _number(scan.get("wall_time"), f"batch.scans[{i}].wall_time"),
                "event_id": _uint(scan.get("event_id"), f"batch.scans[{i}].event_id", True),
                "ticket_id": _uint(scan.get("ticket_id"), f"batch.scans[{i}].ticket_id", True),
            }
        )
    sent_at = _number(body.get("sent_at"), "batch.sent_at")
    if not plausible_time(sent_at):  # no clock offset can be measured against it: the gate resends later
        raise Invalid(
            "batch.sent_at must be a Unix time from 2000-01-01 to 2100-01-01: the device clock is wrong",
            CLOCK_OUT_OF_RANGE,
        )
    return {
        "sent_at": sent_at,
        "last_rtt_ms": _uint(body.get("last_rtt_ms"), "batch.last_rtt_ms", True, COUNT_MAX),
        "backlog": _uint(body.get("backlog", 0), "batch.backlog", most=COUNT_MAX),
        "scans": out,
    }


INSERT_COLUMNS = (
    "scan_id",
    "device_id",
    "event_id",
    "ticket_id",
    "verdict",
    "reason",
    "device_seq",
    "device_time",
    "corrected_time",
    "received_at",
    "hub_seq",
)


def _insert_sql(conn: Connection) -> str:
    """INSERT ... ON CONFLICT (scan_id) DO NOTHING in the driver's own parameter style.

    The hot path of ingest: plain DBAPI executemany of tuples is about twice as
    fast as Core's per-row parameter processing for these simple columns."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return (
        f"INSERT INTO {gate_scans.name} ({', '.join(INSERT_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(INSERT_COLUMNS))}) ON CONFLICT (scan_id) DO NOTHING"
    )


def ingest(conn: Connection, device: dict, batch: dict, now: datetime | None = None) -> dict:
    """Store a parsed push batch exactly once; return the acknowledgement."""
    now = now or utcnow()
    hub_now = now.timestamp()
    offset = measure_offset(hub_now, batch["sent_at"], batch["last_rtt_ms"])
    scans = list({s["scan_id"]: s for s in batch["scans"]}.values())  # a batch repeating an id stores it once
    device_id = device["id"]
    refused = _refusals(conn, device, scans, offset)
    if refused:
        scans = [s for s in scans if s["scan_id"] not in refused]
    # atomic(): on SQLite, this process's writers queue on the engine's write lock (hub.db)
    with atomic(conn):
        # One hub_seq per scan, taken from the counter row: its lock orders concurrent
        # ingests by commit, so pull cursors never skip a row. Ids already stored leave
        # a gap, which cursors do not mind.
        last = conn.execute(
            update(counters)
            .where(counters.c.name == SCAN_COUNTER)
            .values(value=counters.c.value + len(scans))
            .returning(counters.c.value)
        ).scalar_one()
        first = last - len(scans) + 1
        stored = 0
        if scans:
            stored = conn.exec_driver_sql(
                _insert_sql(conn),
                [
                    (
                        s["scan_id"],
                        device_id,
                        s["event_id"],
                        s["ticket_id"],
                        s["verdict"],
                        s["reason"],
                        s["device_seq"],
                        s["device_time"],
                        s["device_time"] + offset,
                        hub_now,
                        first + i,
                    )
                    for i, s in enumerate(scans)
                ],
            ).rowcount
        # Only when some ids were already there: whose are they? (a retry: ours; else: refused)
        owners = _owners(conn, [s["scan_id"] for s in scans]) if stored != len(scans) else {}
        moved = {
            (s["event_id"], s["ticket_id"])
            for s in scans
            if s["verdict"] in MOVEMENTS
            and s["event_id"] is not None
            and s["ticket_id"] is not None
            and owners.get(s["scan_id"], device_id) == device_id
        }
        resolve_duplicates(conn, moved)
        if any(s["verdict"] == ADMITTED for s in scans):
            _publish_admissions(conn, first, last, now)
        conn.execute(
            update(devices)
            .where(devices.c.id == device_id)
            .values(last_sync_at=now, clock_offset_s=offset, last_rtt_ms=batch["last_rtt_ms"], backlog=batch["backlog"])
        )
    taken = [s["scan_id"] for s in scans if owners.get(s["scan_id"], device_id) != device_id]
    return {
        # refused scans are acknowledged too: they are settled, the gate must not resend them
        "acked": [s["scan_id"] for s in scans if owners.get(s["scan_id"], device_id) == device_id] + list(refused),
        "stored": stored,
        "rejected": [{"scan_id": sid, "code": SCAN_ID_TAKEN} for sid in taken]
        + [{"scan_id": sid, "code": code} for sid, code in refused.items()],
        "hub_time": hub_now,
        "clock_offset_s": offset,
    }


def _publish_admissions(conn: Connection, first: int, last: int, now: datetime) -> None:
    """ticket.admitted for each admission stored by this push (hub_seq first..last: rows stored before,
    by a retry, keep their old hub_seq), of a ticket this hub sold, not flagged as a double."""
    rows = conn.execute(
        select(
            gate_scans.c.scan_id,
            gate_scans.c.device_id,
            gate_scans.c.event_id,
            gate_scans.c.ticket_id,
            gate_scans.c.corrected_time,
            tickets.c.order_id,
        )
        .join(tickets, and_(tickets.c.id == gate_scans.c.ticket_id, tickets.c.event_id == gate_scans.c.event_id))
        .where(
            gate_scans.c.hub_seq.between(first, last),
            gate_scans.c.verdict == ADMITTED,
            gate_scans.c.duplicate_of.is_(None),
        )
        .order_by(gate_scans.c.hub_seq)
    ).all()
    notifications.publish_many(
        conn,
        notifications.TICKET_ADMITTED,
        [
            {
                "order_id": row.order_id,
                "event_id": row.event_id,
                "ticket_id": row.ticket_id,
                "payload": {
                    "scan_id": row.scan_id,
                    "device_id": row.device_id,
                    "admitted_at": iso(datetime.fromtimestamp(row.corrected_time, UTC)),
                },
            }
            for row in rows
        ],
        now=now,
    )


def _refusals(conn: Connection, device: dict, scans: list[dict], offset: float) -> dict[str, str]:
    """The scans of a batch that are refused, by scan id, with their code: an unknown
    verdict; a device time, or its hub-corrected time, outside the plausible window (a
    wrong clock: it would sort and show as nonsense); a scan of any kind for an event of
    another organizer than the device's (it would show in that organizer's attendance and
    exports, and a movement would make their gates refuse the ticket). The same
    organizer's other events are fine: a gate reassigned between them still holds scans
    of the old one."""
    refused = {}
    for s in scans:
        if s["verdict"] not in _VERDICTS:
            refused[s["scan_id"]] = UNKNOWN_VERDICT
        elif not (plausible_time(s["device_time"]) and plausible_time(s["device_time"] + offset)):
            refused[s["scan_id"]] = TIME_OUT_OF_RANGE
    others = {
        s["event_id"] for s in scans if s["event_id"] not in (None, device["event_id"]) and s["scan_id"] not in refused
    }
    if others:  # the common case has none: no query
        organizer = select(events.c.organizer_id).where(events.c.id == device["event_id"]).scalar_subquery()
        allowed = set(
            conn.execute(
                select(events.c.id).where(
                    events.c.id.in_(others), events.c.organizer_id.is_not_distinct_from(organizer)
                )
            ).scalars()
        )
        for s in scans:
            if s["event_id"] in others and s["event_id"] not in allowed and s["scan_id"] not in refused:
                refused[s["scan_id"]] = FOREIGN_EVENT
    if refused:
        log.warning(
            "device %s pushed scans that were refused, not stored: %s",
            device["id"],
            ", ".join(f"{n} {code}" for code, n in sorted(Counter(refused.values()).items())),
        )
    return refused


def _owners(conn: Connection, scan_ids: list[str]) -> dict[str, int]:
    if not scan_ids:
        return {}
    rows = conn.execute(select(gate_scans.c.scan_id, gate_scans.c.device_id).where(gate_scans.c.scan_id.in_(scan_ids)))
    return {r.scan_id: r.device_id for r in rows}


def resolve_duplicates(conn: Connection, tickets_moved: set[tuple[int, int]]) -> int:
    """Replay each ticket's admissions and exits in corrected-time order and flag
    every admission made while the ticket was inside. Returns rows changed."""
    if not tickets_moved:
        return 0
    multi = conn.execute(
        select(gate_scans.c.event_id, gate_scans.c.ticket_id)
        .where(gate_scans.c.ticket_id.in_({t for _, t in tickets_moved}), gate_scans.c.verdict.in_(MOVEMENTS))
        .group_by(gate_scans.c.event_id, gate_scans.c.ticket_id)
        .having(func.count() > 1)
    ).all()
    changed = 0
    for event_id, ticket_id in multi:
        if (event_id, ticket_id) not in tickets_moved:
            continue
        rows = conn.execute(
            select(gate_scans.c.id, gate_scans.c.scan_id, gate_scans.c.verdict, gate_scans.c.duplicate_of)
            .where(
                gate_scans.c.event_id == event_id,
                gate_scans.c.ticket_id == ticket_id,
                gate_scans.c.verdict.in_(MOVEMENTS),
            )
            .order_by(gate_scans.c.corrected_time, gate_scans.c.scan_id)
        ).all()
        entry = None  # the admission that let the ticket in, while it is inside
        for row in rows:
            flag = None
            if row.verdict == EXITED:
                entry = None
            elif entry is None:
                entry = row.scan_id
            else:
                flag = entry
            if flag != row.duplicate_of:
                conn.execute(update(gate_scans).where(gate_scans.c.id == row.id).values(duplicate_of=flag))
                changed += 1
    return changed


# --- pull --------------------------------------------------------------------


def pull(
    conn: Connection,
    device: dict,
    *,
    cursor: int,
    revocation_seq: int,
    keyring_seq: int,
    config_version: int,
    signer: SigningKey,
    keyring_doc: dict,
    device_sent_at: float | None = None,
    last_rtt_ms: int | None = None,
    limit: int = PULL_LIMIT,
    now: datetime | None = None,
) -> dict:
    """Everything the device has not seen: other gates' admissions and exits after
    ``cursor``, the revocation list when it grew, the keyring, its configuration."""
    now = now or utcnow()
    hub_now = now.timestamp()
    # Read the counter first: every scan with hub_seq <= it is committed and visible.
    counter = conn.execute(select(counters.c.value).where(counters.c.name == SCAN_COUNTER)).scalar_one()
    if cursor > counter:  # a cursor this hub never issued (its database was restored): start over
        cursor = 0
    rows = conn.execute(
        select(
            gate_scans.c.scan_id,
            gate_scans.c.hub_seq,
            gate_scans.c.event_id,
            gate_scans.c.ticket_id,
            gate_scans.c.verdict,
            gate_scans.c.corrected_time,
            gate_scans.c.device_id,
            devices.c.name.label("gate_name"),
        )
        .join(devices, devices.c.id == gate_scans.c.device_id)
        .where(
            gate_scans.c.event_id == device["event_id"],
            gate_scans.c.hub_seq > cursor,
            gate_scans.c.hub_seq <= counter,
            gate_scans.c.device_id != device["id"],
            gate_scans.c.verdict.in_(MOVEMENTS),
        )
        .order_by(gate_scans.c.hub_seq)
        .limit(limit)
    ).all()
    more = len(rows) == limit
    new_cursor = rows[-1].hub_seq if more else max(counter, cursor)
    out: dict[str, Any] = {
        "hub_time": hub_now,
        "cursor": new_cursor,
        "more": more,
        "movements": [
            {
                "scan_id": r.scan_id,
                "event_id": r.event_id,
                "ticket_id": r.ticket_id,
                "kind": MOVEMENT_OF[r.verdict],
                "at": r.corrected_time,
                "gate_id": f"device-{r.device_id}",
                "gate_name": r.gate_name,
            }
            for r in rows
        ],
        "revocations": None,
        "keyring": None,
        "config": None,
    }
    newest_revocation = conn.execute(
        select(func.max(revocations.c.seq)).where(revocations.c.event_id == device["event_id"])
    ).scalar()
    if newest_revocation is not None and newest_revocation > revocation_seq:
        # The full signed list: the gate stores it as received, so it stays verifiable.
        out["revocations"] = revocations_since(conn, device["event_id"], 0, signer, now)["document"]
    if keyring_doc.get("seq", 0) > keyring_seq or keyring_seq == 0:
        out["keyring"] = keyring_doc
    if device["config_version"] != config_version:
        out["config"] = device_config(conn, device)
    values: dict[str, Any] = {"last_sync_at": now, "pull_cursor": new_cursor}
    if device_sent_at is not None:
        values.update(clock_offset_s=measure_offset(hub_now, device_sent_at, last_rtt_ms), last_rtt_ms=last_rtt_ms)
    with atomic(conn):
        conn.execute(update(devices).where(devices.c.id == device["id"]).values(**values))
    return out


# --- reports -------------------------------------------------------------------
