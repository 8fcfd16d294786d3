"""Sync bookkeeping in gate.db: which scans the hub has, pull cursors, other gates' movements.

Part of the offline store package so gate.db keeps exactly one writer module.
Tables (schema step 2, appended to store.MIGRATIONS):

* ``sync_meta``: key -> JSON value (cursors, last successful sync, device_revoked).
* ``remote_movements``: admissions and exits pulled from other gates, keyed by
  their scan id so a movement pulled twice changes the ticket state once.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from common.protocol import MovementKind

SYNC_SCHEMA: list[str] = [
    "CREATE TABLE sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """
    CREATE TABLE remote_movements (
        scan_id    TEXT    PRIMARY KEY,
        event_id   INTEGER NOT NULL,
        ticket_id  INTEGER NOT NULL,
        kind       TEXT    NOT NULL CHECK (kind IN ('entry', 'exit')),
        at         REAL    NOT NULL,
        gate_name  TEXT    NOT NULL
    ) WITHOUT ROWID
    """,
]

PUSH_COLUMNS = "seq, scan_id, event_id, ticket_id, verdict, reason, wall_time"


@dataclass(frozen=True)
class Movement:
    """An admission ('entry') or exit recorded at another gate, in hub-corrected time."""

    scan_id: str
    event_id: int
    ticket_id: int
    kind: str
    at: float
    gate_name: str


def unsynced_scans(store, limit: int = 500) -> list[dict[str, Any]]:
    """The oldest scans the hub has not acknowledged, as push items."""
    with store._lock:
        rows = store._conn.execute(
            f"SELECT {PUSH_COLUMNS} FROM scans WHERE synced = 0 ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
    return [
        {"seq": r[0], "scan_id": r[1], "event_id": r[2], "ticket_id": r[3], "verdict": r[4],
         "reason": r[5], "wall_time": r[6]}
        for r in rows
    ]


def mark_synced(store, scan_ids: Iterable[str]) -> int:
    ids = list(scan_ids)
    changed = 0
    with store.atomic() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            changed += conn.execute(
                f"UPDATE scans SET synced = 1 WHERE synced = 0 AND scan_id IN ({marks})", chunk
            ).rowcount
    return changed


def get_meta(store) -> dict[str, Any]:
    with store._lock:
        rows = store._conn.execute("SELECT key, value FROM sync_meta").fetchall()
    return {key: json.loads(value) for key, value in rows}


def set_meta(store, **values: Any) -> None:
    with store.atomic() as conn:
        _put(conn, values)


def _put(conn, values: dict[str, Any]) -> None:
    conn.executemany(
        "INSERT INTO sync_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [(k, json.dumps(v)) for k, v in values.items()],
    )


def apply_movements(store, movements: Iterable[Movement], **meta: Any) -> int:
    """Fold other gates' movements into ticket_state (each once) and save ``meta``
    (the new cursor) in the same transaction. Returns how many were new."""
    applied = 0
    with store.atomic() as conn:
        for m in movements:
            inserted = conn.execute(
                "INSERT OR IGNORE INTO remote_movements (scan_id, event_id, ticket_id, kind, at, gate_name)"
                " VALUES (?,?,?,?,?,?)", (m.scan_id, m.event_id, m.ticket_id, m.kind, m.at, m.gate_name),
            ).rowcount
            if inserted:
                _fold(conn, m)
                applied += 1
        if meta:
            _put(conn, meta)
    return applied


def _fold(conn, m: Movement) -> None:
    row = conn.execute(
        "SELECT inside, admissions, last_admitted_at, last_admitted_gate, last_exit_at, last_seq"
        " FROM ticket_state WHERE event_id = ? AND ticket_id = ?", (m.event_id, m.ticket_id),
    ).fetchone()
    inside, admissions, admitted_at, admitted_gate, exit_at, last_seq = row or (0, 0, None, None, None, None)
    if m.kind == MovementKind.ENTRY:
        admissions += 1
        if admitted_at is None or m.at >= admitted_at:
            admitted_at, admitted_gate = m.at, m.gate_name
        if exit_at is None or m.at >= exit_at:
            inside = 1
    else:
        if exit_at is None or m.at >= exit_at:
            exit_at = m.at
        if admitted_at is None or m.at >= admitted_at:
            inside = 0
    conn.execute(
        "INSERT INTO ticket_state (event_id, ticket_id, inside, admissions, last_admitted_at,"
        " last_admitted_gate, last_exit_at, last_seq) VALUES (?,?,?,?,?,?,?,?)"
        " ON CONFLICT (event_id, ticket_id) DO UPDATE SET inside = excluded.inside,"
        " admissions = excluded.admissions, last_admitted_at = excluded.last_admitted_at,"
        " last_admitted_gate = excluded.last_admitted_gate, last_exit_at = excluded.last_exit_at",
        (m.event_id, m.ticket_id, inside, admissions, admitted_at, admitted_gate, exit_at, last_seq),
    )


def device_revoked(store) -> bool:
    with store._lock:
        row = store._conn.execute("SELECT value FROM sync_meta WHERE key = 'device_revoked'").fetchone()
    return bool(row and json.loads(row[0]))


def sync_summary(store, now: float, online_window_s: float = 15.0) -> dict[str, Any]:
    """What the door page and `status` show about the hub link."""
    meta = get_meta(store)
    last_ok = meta.get("last_sync_ok_at")
    return {
        "online": bool(last_ok is not None and now - last_ok <= online_window_s and not meta.get("device_revoked")),
        "enrolled": "device_id" in meta,
        "last_sync_at": last_ok,
        "backlog": store.unsynced_count(),
        "device_revoked": bool(meta.get("device_revoked")),
        "sync_error": meta.get("last_error"),
    }
