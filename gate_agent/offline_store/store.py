"""The gate's offline store: one SQLite file (WAL, synchronous=FULL).

Only :class:`OfflineStore` writes gate.db, and only it touches its connection
and lock: scans, ticket state and the hub sync bookkeeping are its methods. A
scan is committed durably before anyone is shown its verdict; the caller
publishes only after :meth:`OfflineStore.record_scan` returns.

Tables (later schema versions only add, see MIGRATIONS; version 2 adds the sync
bookkeeping):

* ``scans``: one row per scan. ``seq`` is the gate's monotonic sequence
  (AUTOINCREMENT: never reused, even after a crash), ``scan_id`` a random
  128-bit id that later serves as the sync nonce.
* ``ticket_state``: one small row per ticket seen, keyed by (event_id,
  ticket_id) and updated in the same transaction as the scan, so the
  "already admitted?" question is one primary-key lookup at any table size.
  Admissions and exits pulled from other gates through the hub
  (:meth:`OfflineStore.apply_movements`) update the same rows. Both are written
  by one upsert; what they write is decided by the rules in gate_agent/rules.py
  (``next_state``, ``fold_movement``).
* ``verdict_counts``: running counts per gate and verdict for the door screen.
* ``sync_meta``: key -> JSON value (cursors, last successful sync, device_revoked).
* ``remote_movements``: admissions and exits pulled from other gates, keyed by
  their scan id so a movement pulled twice changes the ticket state once.

Version 3 (#15) rebuilds ``scans`` (a ``note`` column, the ``annulled`` verdict) and
``remote_movements`` (the ``annul`` kind), and adds ``attendees``: the minimal attendee list
pulled from the hub (ticket id, event, signed text, type, order number, buyer name) to resolve
short codes and search offline. It holds personal data (names) only of the events this gate
serves, and forgets them (:meth:`OfflineStore.forget_attendees`) when the gate stops serving an
event or a day after it ended (docs/operations.md, "Personal data on a gate").
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.protocol import MOVEMENT_OF, OFFLINE_AFTER_S, MovementKind

from ..rules import VERDICTS, Decision, Movement, TicketState, fold_movement

log = logging.getLogger(__name__)

_VERDICT_CHECK = ", ".join(f"'{v}'" for v in VERDICTS)

# Each entry migrates from version i to i+1. Append only: never edit a shipped step.
MIGRATIONS: list[list[str]] = [
    [
        f"""
        CREATE TABLE scans (
            seq          INTEGER PRIMARY KEY AUTOINCREMENT,
            scan_id      TEXT    NOT NULL UNIQUE CHECK (length(scan_id) = 32),
            gate_id      TEXT    NOT NULL,
            event_id     INTEGER,
            ticket_id    INTEGER,
            verdict      TEXT    NOT NULL CHECK (verdict IN ({_VERDICT_CHECK})),
            reason       TEXT,
            detail       TEXT    NOT NULL DEFAULT '',
            wall_time    REAL    NOT NULL,
            mono         REAL    NOT NULL,
            code_digest  TEXT    NOT NULL,
            source       TEXT    NOT NULL DEFAULT '',
            synced       INTEGER NOT NULL DEFAULT 0 CHECK (synced IN (0, 1))
        )
        """,
        "CREATE INDEX scans_by_ticket ON scans (event_id, ticket_id, seq)",
        "CREATE INDEX scans_unsynced ON scans (seq) WHERE synced = 0",
        """
        CREATE TABLE ticket_state (
            event_id            INTEGER NOT NULL,
            ticket_id           INTEGER NOT NULL,
            inside              INTEGER NOT NULL CHECK (inside IN (0, 1)),
            admissions          INTEGER NOT NULL,
            last_admitted_at    REAL,
            last_admitted_gate  TEXT,
            last_exit_at        REAL,
            last_seq            INTEGER,
            PRIMARY KEY (event_id, ticket_id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE verdict_counts (
            gate_id  TEXT    NOT NULL,
            verdict  TEXT    NOT NULL,
            n        INTEGER NOT NULL,
            PRIMARY KEY (gate_id, verdict)
        ) WITHOUT ROWID
        """,
    ],
    [  # version 2: hub sync bookkeeping
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
    ],
]
# Version 3's CHECK lists are spelled out: a later verdict or kind needs its own rebuild step.
_V3_VERDICTS = (
    "'admitted', 'exit_recorded', 'already_admitted', 'revoked', 'wrong_event', 'wrong_zone', "
    "'not_yet_valid', 'expired', 'invalid', 'not_a_ticket', 'annulled'"
)
MIGRATIONS.append(
    [  # version 3: supervisor overrides (note, annulled, annul) and the attendee list
        f"""
        CREATE TABLE scans_v3 (
            seq          INTEGER PRIMARY KEY AUTOINCREMENT,
            scan_id      TEXT    NOT NULL UNIQUE CHECK (length(scan_id) = 32),
            gate_id      TEXT    NOT NULL,
            event_id     INTEGER,
            ticket_id    INTEGER,
            verdict      TEXT    NOT NULL CHECK (verdict IN ({_V3_VERDICTS})),
            reason       TEXT,
            detail       TEXT    NOT NULL DEFAULT '',
            wall_time    REAL    NOT NULL,
            mono         REAL    NOT NULL,
            code_digest  TEXT    NOT NULL,
            source       TEXT    NOT NULL DEFAULT '',
            synced       INTEGER NOT NULL DEFAULT 0 CHECK (synced IN (0, 1)),
            note         TEXT
        )
        """,
        "INSERT INTO scans_v3 (seq, scan_id, gate_id, event_id, ticket_id, verdict, reason, detail, wall_time, mono,"
        " code_digest, source, synced) SELECT seq, scan_id, gate_id, event_id, ticket_id, verdict, reason, detail,"
        " wall_time, mono, code_digest, source, synced FROM scans",
        "DROP TABLE scans",
        "ALTER TABLE scans_v3 RENAME TO scans",
        "CREATE INDEX scans_by_ticket ON scans (event_id, ticket_id, seq)",
        "CREATE INDEX scans_unsynced ON scans (seq) WHERE synced = 0",
        """
        CREATE TABLE remote_movements_v3 (
            scan_id    TEXT    PRIMARY KEY,
            event_id   INTEGER NOT NULL,
            ticket_id  INTEGER NOT NULL,
            kind       TEXT    NOT NULL CHECK (kind IN ('entry', 'exit', 'annul')),
            at         REAL    NOT NULL,
            gate_name  TEXT    NOT NULL
        ) WITHOUT ROWID
        """,
        "INSERT INTO remote_movements_v3 SELECT * FROM remote_movements",
        "DROP TABLE remote_movements",
        "ALTER TABLE remote_movements_v3 RENAME TO remote_movements",
        """
        CREATE TABLE attendees (
            ticket_id    INTEGER PRIMARY KEY,
            event_id     INTEGER NOT NULL,
            code         TEXT    NOT NULL,
            ticket_type  INTEGER,
            order_id     INTEGER,
            name         TEXT    NOT NULL DEFAULT '',
            name_key     TEXT    NOT NULL DEFAULT ''
        )
        """,
        "CREATE INDEX attendees_by_event ON attendees (event_id)",
        "CREATE INDEX attendees_by_order ON attendees (order_id)",
    ]
)
SCHEMA_VERSION = len(MIGRATIONS)

STATE_QUERY = (
    "SELECT inside, admissions, last_admitted_at, last_admitted_gate, last_exit_at "
    "FROM ticket_state WHERE event_id = ? AND ticket_id = ?"
)
LAST_SCAN_OF_TICKET_QUERY = "SELECT seq FROM scans WHERE event_id = ? AND ticket_id = ? ORDER BY seq DESC LIMIT 1"
SCAN_COLUMNS = (
    "seq, scan_id, gate_id, event_id, ticket_id, verdict, reason, detail, wall_time, mono, code_digest, source,"
    " note, synced"
)
PUSH_COLUMNS = ("seq", "scan_id", "event_id", "ticket_id", "verdict", "reason", "wall_time", "note")
SEARCH_LIMIT = 20


class StoreError(Exception):
    """gate.db cannot be opened or migrated (corrupt, not a database, too new)."""


@dataclass(frozen=True)
class NewScan:
    """What the pipeline knows about a scan before its verdict."""

    gate_id: str
    gate_name: str
    wall_time: float
    mono: float
    code_digest: str
    source: str = ""
    event_id: int | None = None
    ticket_id: int | None = None


@dataclass(frozen=True)
class Attendee:
    """One ticket of the attendee list the gate pulled (docs/sync-protocol.md, "Attendee list")."""

    ticket_id: int
    event_id: int
    code: str  # the signed TG1: text, checked like a scanned code
    ticket_type: int | None
    order_id: int | None
    name: str


@dataclass(frozen=True)
class ScanRecord:
    seq: int
    scan_id: str
    gate_id: str
    event_id: int | None
    ticket_id: int | None
    verdict: str
    reason: str | None
    detail: str
    wall_time: float
    mono: float
    code_digest: str
    source: str
    note: str | None
    synced: bool


# decide(state) -> (decision, state after it, or None to leave the state alone)
Decider = Callable[[TicketState | None], tuple[Decision, TicketState | None]]


class OfflineStore:
    """Thread-safe: one connection, one lock, both private to this class (everything
    that reads or writes gate.db is a method here). Other processes are kept out of a
    scan's read-decide-write by BEGIN IMMEDIATE."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 30.0):
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the gate database {self.path}: {exc}") from None

    # --- lifecycle ---------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> OfflineStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _atomic(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front (BEGIN IMMEDIATE)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this gate-agent ({SCHEMA_VERSION}): upgrade gate-agent"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._atomic() as conn:
                for statement in MIGRATIONS[target - 1]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target}")
            log.info("migrated %s to schema version %d", self.path, target)

    def schema_version(self) -> int:
        return self.pragma("user_version")

    def pragma(self, name: str) -> Any:
        """The value of a read-only PRAGMA of this store's connection (journal_mode, synchronous, ...)."""
        if not name.isidentifier():
            raise ValueError(f"not a pragma name: {name!r}")
        with self._lock:
            return self._conn.execute(f"PRAGMA {name}").fetchone()[0]

    # --- scans -------------------------------------------------------------
    def record_scan(
        self, scan: NewScan, decide: Decider, *, with_last_admission: bool = False
    ) -> tuple[ScanRecord, Decision]:
        """Read the ticket's state, decide, insert the scan and update the state:
        one transaction, committed with synchronous=FULL before returning. ``with_last_admission``:
        ``decide`` is called as ``decide(state, scan id of the ticket's last admission or None)``
        (an annulment names the admission it takes back)."""
        scan_id = secrets.token_hex(16)
        with self._atomic() as conn:
            state = None
            if scan.event_id is not None and scan.ticket_id is not None:
                state = _read_state(conn, scan.event_id, scan.ticket_id)
            if with_last_admission:
                decision, new_state = decide(state, _last_admission(conn, scan.event_id, scan.ticket_id))
            else:
                decision, new_state = decide(state)
            note = decision.note or None
            cur = conn.execute(
                "INSERT INTO scans (scan_id, gate_id, event_id, ticket_id, verdict, reason, detail,"
                " wall_time, mono, code_digest, source, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    scan_id,
                    scan.gate_id,
                    scan.event_id,
                    scan.ticket_id,
                    decision.verdict.value,
                    decision.reason,
                    decision.detail,
                    scan.wall_time,
                    scan.mono,
                    scan.code_digest,
                    scan.source,
                    note,
                ),
            )
            seq = cur.lastrowid
            if new_state is not None:
                _write_state(conn, scan.event_id, scan.ticket_id, new_state, seq)
            conn.execute(
                "INSERT INTO verdict_counts (gate_id, verdict, n) VALUES (?, ?, 1)"
                " ON CONFLICT (gate_id, verdict) DO UPDATE SET n = n + 1",
                (scan.gate_id, decision.verdict.value),
            )
        record = ScanRecord(
            seq,
            scan_id,
            scan.gate_id,
            scan.event_id,
            scan.ticket_id,
            decision.verdict.value,
            decision.reason,
            decision.detail,
            scan.wall_time,
            scan.mono,
            scan.code_digest,
            scan.source,
            note,
            False,
        )
        return record, decision

    def ticket_state(self, event_id: int, ticket_id: int) -> TicketState | None:
        with self._lock:
            return _read_state(self._conn, event_id, ticket_id)

    def get_scan(self, scan_id: str) -> ScanRecord | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {SCAN_COLUMNS} FROM scans WHERE scan_id = ?", (scan_id,)).fetchone()
        return _record(row) if row else None

    def recent_scans(self, limit: int = 10) -> list[ScanRecord]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {SCAN_COLUMNS} FROM scans ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_record(r) for r in rows]

    def verdict_counts(self, gate_id: str | None = None) -> dict[str, int]:
        """Scans per verdict: at one gate, or over every gate in this database."""
        with self._lock:
            if gate_id is None:
                rows = self._conn.execute("SELECT verdict, sum(n) FROM verdict_counts GROUP BY verdict")
            else:
                rows = self._conn.execute("SELECT verdict, n FROM verdict_counts WHERE gate_id = ?", (gate_id,))
            return {verdict: n for verdict, n in rows}

    def unsynced_count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM scans WHERE synced = 0").fetchone()[0]

    def integrity_check(self) -> str:
        return self.pragma("integrity_check")

    # --- hub sync bookkeeping (docs/sync-protocol.md) -------------------------
    def unsynced_scans(self, limit: int) -> list[dict[str, Any]]:
        """The oldest scans the hub has not acknowledged, as push items."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {', '.join(PUSH_COLUMNS)} FROM scans WHERE synced = 0 ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        items = [dict(zip(PUSH_COLUMNS, row)) for row in rows]
        for item in items:  # a scan without a note is pushed as before
            if item["note"] is None:
                del item["note"]
        return items

    def mark_synced(self, scan_ids: Iterable[str]) -> int:
        """Mark the scans the hub acknowledged; returns how many were not marked yet."""
        ids = list(scan_ids)
        changed = 0
        with self._atomic() as conn:
            for start in range(0, len(ids), 500):  # within SQLite's bound on parameters
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                changed += conn.execute(
                    f"UPDATE scans SET synced = 1 WHERE synced = 0 AND scan_id IN ({marks})", chunk
                ).rowcount
        return changed

    def sync_meta(self) -> dict[str, Any]:
        """Cursors, last successful sync, last error, device_revoked, ..."""
        with self._lock:
            rows = self._conn.execute("SELECT key, value FROM sync_meta").fetchall()
        return {key: json.loads(value) for key, value in rows}

    def set_sync_meta(self, **values: Any) -> None:
        with self._atomic() as conn:
            _put_meta(conn, values)

    def device_revoked(self) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT value FROM sync_meta WHERE key = 'device_revoked'").fetchone()
        return bool(row and json.loads(row[0]))

    def apply_movements(self, movements: Iterable[Movement], **meta: Any) -> int:
        """Fold other gates' movements into ticket_state (each once, by rules.fold_movement)
        and save ``meta`` (the new cursor) in the same transaction. Returns how many were new."""
        applied = 0
        with self._atomic() as conn:
            for m in movements:
                inserted = conn.execute(
                    "INSERT OR IGNORE INTO remote_movements (scan_id, event_id, ticket_id, kind, at, gate_name)"
                    " VALUES (?,?,?,?,?,?)",
                    (m.scan_id, m.event_id, m.ticket_id, MovementKind(m.kind).value, m.at, m.gate_name),
                ).rowcount
                if inserted:
                    state = fold_movement(_read_state(conn, m.event_id, m.ticket_id), m)
                    _write_state(conn, m.event_id, m.ticket_id, state)
                    applied += 1
            if meta:
                _put_meta(conn, meta)
        return applied

    # --- peers: gate-to-gate exchange (gate_agent/peers, docs/peers.md) ---------------------
    def own_movements_after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        """This gate's own admissions and exits after ``seq``, oldest first: what it tells its peers."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, scan_id, event_id, ticket_id, verdict, wall_time FROM scans"
                f" WHERE seq > ? AND verdict IN ({', '.join('?' * len(MOVEMENT_OF))}) ORDER BY seq LIMIT ?",
                (seq, *MOVEMENT_OF, limit),
            ).fetchall()
        return [
            {"seq": r[0], "scan_id": r[1], "event_id": r[2], "ticket_id": r[3], "kind": MOVEMENT_OF[r[4]], "at": r[5]}
            for r in rows
        ]

    def apply_peer_movements(self, movements: Iterable[Movement]) -> int:
        """Fold movements a peer sent, as pulled ones (each scan id once). A scan id of this gate's own
        is left out: its own scans are already in its ticket state."""
        movements = list(movements)
        if not movements:
            return 0
        with self._lock:
            marks = ",".join("?" * len(movements))
            own = {
                row[0]
                for row in self._conn.execute(
                    f"SELECT scan_id FROM scans WHERE scan_id IN ({marks})", [m.scan_id for m in movements]
                )
            }
            return self.apply_movements([m for m in movements if m.scan_id not in own])

    # --- the attendee list (short codes and search at the door) ---------------------
    def add_attendees(self, items: Iterable[dict[str, Any]], **meta: Any) -> int:
        """Insert or update pulled attendee rows (a pull's ``roster.tickets``) and save ``meta`` (the
        roster cursor) in the same transaction. Returns how many rows were written."""
        rows = [
            (
                int(t["ticket_id"]),
                int(t["event_id"]),
                str(t["code"]),
                t.get("ticket_type"),
                t.get("order"),
                str(t.get("name") or ""),
                _name_key(str(t.get("name") or "")),
            )
            for t in items
        ]
        with self._atomic() as conn:
            conn.executemany(
                "INSERT INTO attendees (ticket_id, event_id, code, ticket_type, order_id, name, name_key)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT (ticket_id) DO UPDATE SET event_id = excluded.event_id,"
                " code = excluded.code, ticket_type = excluded.ticket_type, order_id = excluded.order_id,"
                " name = excluded.name, name_key = excluded.name_key",
                rows,
            )
            if meta:
                _put_meta(conn, meta)
        return len(rows)

    def forget_attendees(self, keep_event_ids: Iterable[int], **meta: Any) -> int:
        """Delete the attendee rows of every event not in ``keep_event_ids``; returns how many went."""
        keep = sorted(set(keep_event_ids))
        with self._atomic() as conn:
            if keep:
                marks = ",".join("?" * len(keep))
                gone = conn.execute(f"DELETE FROM attendees WHERE event_id NOT IN ({marks})", keep).rowcount
            else:  # not "NOT IN (NULL)": that is never true, and would keep everything
                gone = conn.execute("DELETE FROM attendees").rowcount
            if meta:
                _put_meta(conn, meta)
        return gone

    def attendee(self, ticket_id: int) -> Attendee | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {ATTENDEE_COLUMNS} FROM attendees WHERE ticket_id = ?", (ticket_id,))
            row = row.fetchone()
        return Attendee(*row) if row else None

    def attendee_count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM attendees").fetchone()[0]

    def search_attendees(self, query: str, limit: int = SEARCH_LIMIT) -> list[tuple[Attendee, TicketState | None]]:
        """Tickets whose ticket number or order number is ``query`` (digits, "#12" too) or whose holder's
        name contains it (any case, accents ignored), with each ticket's state at this gate."""
        text = (query or "").strip().lstrip("#")
        key = _name_key(text)
        if not key:
            return []
        conditions, params = ["name_key LIKE ? ESCAPE '\\'"], [f"%{_like_escape(key)}%"]
        if text.isdigit() and len(text) < 16:
            conditions += ["ticket_id = ?", "order_id = ?"]
            params += [int(text), int(text)]
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {ATTENDEE_COLUMNS} FROM attendees WHERE {' OR '.join(conditions)}"
                " ORDER BY name_key, ticket_id LIMIT ?",
                (*params, limit),
            ).fetchall()
            return [(Attendee(*r), _read_state(self._conn, r[1], r[0])) for r in rows]

    def sync_summary(self, now: float, online_window_s: float = OFFLINE_AFTER_S) -> dict[str, Any]:
        """What the door page and `status` show about the hub link: online only while the last
        successful exchange with the hub (a push, a pull or an idle heartbeat) is recent."""
        meta = self.sync_meta()
        last_ok = meta.get("last_sync_ok_at")
        return {
            "online": bool(last_ok is not None and now - last_ok <= online_window_s and not meta.get("device_revoked")),
            "enrolled": "device_id" in meta,
            "last_sync_at": last_ok,
            "backlog": self.unsynced_count(),
            "device_revoked": bool(meta.get("device_revoked")),
            "sync_error": meta.get("last_error"),
        }


ATTENDEE_COLUMNS = "ticket_id, event_id, code, ticket_type, order_id, name"


def _name_key(text: str) -> str:
    """A name as search compares it: case-folded, accents and separators dropped ("Zoë-Ann" ~ "zoe ann")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).replace("-", " ").split())


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _last_admission(conn: sqlite3.Connection, event_id: int | None, ticket_id: int | None) -> str | None:
    """The scan id of the ticket's latest admission not taken back: this gate's or a pulled one."""
    if event_id is None or ticket_id is None:
        return None
    annulled = "SELECT reason FROM scans WHERE verdict = 'annulled' AND event_id = ? AND ticket_id = ?"
    row = conn.execute(
        "SELECT scan_id FROM ("
        " SELECT scan_id, wall_time AS at FROM scans WHERE verdict = 'admitted' AND event_id = ? AND ticket_id = ?"
        " UNION ALL SELECT scan_id, at FROM remote_movements WHERE kind = 'entry' AND event_id = ? AND ticket_id = ?"
        f") WHERE scan_id NOT IN ({annulled})"
        " ORDER BY at DESC LIMIT 1",
        (event_id, ticket_id, event_id, ticket_id, event_id, ticket_id),
    ).fetchone()
    return row[0] if row else None


def _read_state(conn: sqlite3.Connection, event_id: int, ticket_id: int) -> TicketState | None:
    row = conn.execute(STATE_QUERY, (event_id, ticket_id)).fetchone()
    if row is None:
        return None
    inside, admissions, admitted_at, admitted_gate, exit_at = row
    return TicketState(bool(inside), admissions, admitted_at, admitted_gate, exit_at)


def _write_state(
    conn: sqlite3.Connection, event_id: int, ticket_id: int, state: TicketState, seq: int | None = None
) -> None:
    """The one upsert of ticket_state. ``seq``: the local scan that changed it (a pulled movement
    has none and leaves last_seq as it was)."""
    conn.execute(
        "INSERT INTO ticket_state (event_id, ticket_id, inside, admissions, last_admitted_at,"
        " last_admitted_gate, last_exit_at, last_seq) VALUES (?,?,?,?,?,?,?,?)"
        " ON CONFLICT (event_id, ticket_id) DO UPDATE SET inside = excluded.inside,"
        " admissions = excluded.admissions, last_admitted_at = excluded.last_admitted_at,"
        " last_admitted_gate = excluded.last_admitted_gate, last_exit_at = excluded.last_exit_at,"
        " last_seq = coalesce(excluded.last_seq, ticket_state.last_seq)",
        (
            event_id,
            ticket_id,
            int(state.inside),
            state.admissions,
            state.last_admitted_at,
            state.last_admitted_gate,
            state.last_exit_at,
            seq,
        ),
    )


def _put_meta(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
    conn.executemany(
        "INSERT INTO sync_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [(k, json.dumps(v)) for k, v in values.items()],
    )


def _record(row: tuple) -> ScanRecord:
    return ScanRecord(*row[:-1], bool(row[-1]))
