"""The gate's offline store: one SQLite file (WAL, synchronous=FULL).

Only this package writes gate.db (sync_state.py through this store's
connection and lock). A scan is committed durably before anyone is shown its
verdict; the caller publishes only after :meth:`OfflineStore.record_scan`
returns.

Tables (later schema versions only add, see MIGRATIONS; version 2 adds the sync
bookkeeping of sync_state.py):

* ``scans``: one row per scan. ``seq`` is the gate's monotonic sequence
  (AUTOINCREMENT: never reused, even after a crash), ``scan_id`` a random
  128-bit id that later serves as the sync nonce.
* ``ticket_state``: one small row per ticket seen, keyed by (event_id,
  ticket_id) and updated in the same transaction as the scan, so the
  "already admitted?" question is one primary-key lookup at any table size.
  Admissions and exits pulled from other gates through the hub
  (sync_state.apply_movements) update the same rows.
* ``verdict_counts``: running counts per gate and verdict for the door screen.
"""
from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..rules import VERDICTS, Decision, TicketState
from .sync_state import SYNC_SCHEMA

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
    SYNC_SCHEMA,  # version 2: hub sync bookkeeping (sync_state.py)
]
SCHEMA_VERSION = len(MIGRATIONS)

STATE_QUERY = (
    "SELECT inside, admissions, last_admitted_at, last_admitted_gate, last_exit_at "
    "FROM ticket_state WHERE event_id = ? AND ticket_id = ?"
)
LAST_SCAN_OF_TICKET_QUERY = (
    "SELECT seq FROM scans WHERE event_id = ? AND ticket_id = ? ORDER BY seq DESC LIMIT 1"
)
SCAN_COLUMNS = (
    "seq, scan_id, gate_id, event_id, ticket_id, verdict, reason, detail, "
    "wall_time, mono, code_digest, source, synced"
)


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
    synced: bool


# decide(state) -> (decision, state after it, or None to leave the state alone)
Decider = Callable[[TicketState | None], tuple[Decision, TicketState | None]]


class OfflineStore:
    """Thread-safe: one connection, one lock. Other processes are kept out of a
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

    def __enter__(self) -> "OfflineStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
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
            with self.atomic() as conn:
                for statement in MIGRATIONS[target - 1]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target}")
            log.info("migrated %s to schema version %d", self.path, target)

    def schema_version(self) -> int:
        with self._lock:
            return self._conn.execute("PRAGMA user_version").fetchone()[0]

    # --- scans -------------------------------------------------------------
    def record_scan(self, scan: NewScan, decide: Decider) -> tuple[ScanRecord, Decision]:
        """Read the ticket's state, decide, insert the scan and update the state:
        one transaction, committed with synchronous=FULL before returning."""
        scan_id = secrets.token_hex(16)
        with self.atomic() as conn:
            state = None
            if scan.event_id is not None and scan.ticket_id is not None:
                state = _read_state(conn, scan.event_id, scan.ticket_id)
            decision, new_state = decide(state)
            cur = conn.execute(
                "INSERT INTO scans (scan_id, gate_id, event_id, ticket_id, verdict, reason, detail,"
                " wall_time, mono, code_digest, source) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    scan_id, scan.gate_id, scan.event_id, scan.ticket_id, decision.verdict.value,
                    decision.reason, decision.detail, scan.wall_time, scan.mono, scan.code_digest,
                    scan.source,
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
            seq, scan_id, scan.gate_id, scan.event_id, scan.ticket_id, decision.verdict.value,
            decision.reason, decision.detail, scan.wall_time, scan.mono, scan.code_digest,
            scan.source, False,
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
        with self._lock:
            return self._conn.execute("PRAGMA integrity_check").fetchone()[0]


def _read_state(conn: sqlite3.Connection, event_id: int, ticket_id: int) -> TicketState | None:
    row = conn.execute(STATE_QUERY, (event_id, ticket_id)).fetchone()
    if row is None:
        return None
    inside, admissions, admitted_at, admitted_gate, exit_at = row
    return TicketState(bool(inside), admissions, admitted_at, admitted_gate, exit_at)


def _write_state(conn: sqlite3.Connection, event_id: int, ticket_id: int, state: TicketState, seq: int) -> None:
    conn.execute(
        "INSERT INTO ticket_state (event_id, ticket_id, inside, admissions, last_admitted_at,"
        " last_admitted_gate, last_exit_at, last_seq) VALUES (?,?,?,?,?,?,?,?)"
        " ON CONFLICT (event_id, ticket_id) DO UPDATE SET inside = excluded.inside,"
        " admissions = excluded.admissions, last_admitted_at = excluded.last_admitted_at,"
        " last_admitted_gate = excluded.last_admitted_gate, last_exit_at = excluded.last_exit_at,"
        " last_seq = excluded.last_seq",
        (
            event_id, ticket_id, int(state.inside), state.admissions, state.last_admitted_at,
            state.last_admitted_gate, state.last_exit_at, seq,
        ),
    )


def _record(row: tuple) -> ScanRecord:
    return ScanRecord(*row[:-1], bool(row[-1]))
