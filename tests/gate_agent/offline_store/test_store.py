"""The offline store: schema versioning, durability settings, atomic decisions, scale."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing

import pytest

from gate_agent.offline_store import SCHEMA_VERSION, NewScan, OfflineStore, StoreError
from gate_agent.offline_store.store import LAST_SCAN_OF_TICKET_QUERY, STATE_QUERY
from gate_agent.rules import Decision, TicketState, Verdict, next_state


def admit_once(state):
    """The single-entry rule, as the pipeline passes it to record_scan."""
    if state is not None and state.admissions:
        decision = Decision(Verdict.ALREADY_ADMITTED, previous=state)
    else:
        decision = Decision(Verdict.ADMITTED)
    return decision, next_state(state, decision, 1.0, "Gate A")


def new_scan(ticket_id=7, event_id=1):
    return NewScan(
        "gate-a",
        "Gate A",
        wall_time=1.0,
        mono=2.0,
        code_digest="d" * 32,
        source="test",
        event_id=event_id,
        ticket_id=ticket_id,
    )


def test_new_store_is_migrated_to_the_current_version_in_wal_with_full_sync(tmp_path):
    with OfflineStore(tmp_path / "gate.db") as store:
        assert store.schema_version() == SCHEMA_VERSION >= 1
        assert store.pragma("journal_mode") == "wal"
        assert store.pragma("synchronous") == 2  # FULL
    # reopening does not migrate again or lose data
    with OfflineStore(tmp_path / "gate.db") as store:
        store.record_scan(new_scan(), admit_once)
    with OfflineStore(tmp_path / "gate.db") as store:
        assert store.verdict_counts() == {"admitted": 1}


def test_database_from_a_newer_gate_agent_is_refused(tmp_path):
    path = tmp_path / "gate.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this gate-agent"):
        OfflineStore(path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "gate.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the gate database"):
        OfflineStore(path)


def test_required_fields_cannot_be_null_or_unknown(tmp_path):
    OfflineStore(tmp_path / "gate.db").close()
    with closing(sqlite3.connect(tmp_path / "gate.db")) as conn:  # whoever writes: the schema refuses
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO scans (scan_id, gate_id, verdict, wall_time, mono, code_digest)"
                " VALUES (?, 'g', 'maybe', 1, 1, 'x')",
                ("a" * 32,),
            )
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO scans (scan_id, gate_id, verdict, wall_time, mono, code_digest)"
                " VALUES (?, 'g', 'admitted', NULL, 1, 'x')",
                ("b" * 32,),
            )


def test_scan_ids_are_unique_random_and_seq_is_monotonic(tmp_path):
    with OfflineStore(tmp_path / "gate.db") as store:
        records = [store.record_scan(new_scan(ticket_id=i), admit_once)[0] for i in range(50)]
    assert len({r.scan_id for r in records}) == 50
    assert [r.seq for r in records] == sorted(r.seq for r in records)
    assert all(len(r.scan_id) == 32 and not r.synced for r in records)


def test_concurrent_scans_of_one_ticket_admit_it_once(tmp_path):
    """Separate connections (as separate processes would have), released together."""
    path = tmp_path / "gate.db"
    OfflineStore(path).close()
    stores = [OfflineStore(path) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    verdicts = []

    def scan(store):
        barrier.wait()
        verdicts.append(store.record_scan(new_scan(ticket_id=42), admit_once)[1].verdict.value)

    threads = [threading.Thread(target=scan, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert sorted(verdicts) == ["admitted"] + ["already_admitted"] * 7
    with OfflineStore(path) as store:
        assert store.ticket_state(1, 42).admissions == 1


def test_a_failing_decision_leaves_no_row(tmp_path):
    with OfflineStore(tmp_path / "gate.db") as store:

        def broken(state):
            raise RuntimeError("decider failed")

        with pytest.raises(RuntimeError):
            store.record_scan(new_scan(), broken)
        assert store.recent_scans() == [] and store.verdict_counts() == {}
        store.record_scan(new_scan(), admit_once)  # the store is still usable
        assert len(store.recent_scans()) == 1


def test_already_admitted_lookup_uses_the_key_at_a_million_rows(tmp_path):
    """Fill a million scans and ticket states, then show the lookups are index searches."""
    rows = 1_000_000
    with OfflineStore(tmp_path / "gate.db") as store, closing(sqlite3.connect(tmp_path / "gate.db")) as conn:
        with conn:  # filled from a connection of its own, as by another process
            conn.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                "INSERT INTO scans (scan_id, gate_id, event_id, ticket_id, verdict, wall_time, mono, code_digest) "
                "SELECT printf('%032x', i), 'gate-a', 1, i, 'admitted', i, i, 'x' FROM n",
                (rows,),
            )
            conn.execute(
                "INSERT INTO ticket_state (event_id, ticket_id, inside, admissions, last_admitted_at,"
                " last_admitted_gate, last_seq) SELECT event_id, ticket_id, 1, 1, wall_time, 'Gate A', seq FROM scans"
            )
        assert conn.execute("SELECT count(*) FROM ticket_state").fetchone()[0] == rows

        for query in (STATE_QUERY, LAST_SCAN_OF_TICKET_QUERY):
            plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + query, (1, 500_000)))
            assert plan.startswith("SEARCH"), plan
            assert "PRIMARY KEY" in plan or "INDEX" in plan, plan
            assert "SCAN" not in plan, plan

        # and the real decision path sees the stored state among a million rows
        record, decision = store.record_scan(new_scan(ticket_id=500_000), admit_once)
        assert decision.verdict is Verdict.ALREADY_ADMITTED
        assert decision.previous == TicketState(True, 1, 500_000.0, "Gate A", None)
        assert record.seq == rows + 1


def test_a_version_1_database_is_migrated_keeping_its_scans(tmp_path):
    """A gate.db written by the first gate-agent release opens in this one."""
    from gate_agent.offline_store.store import MIGRATIONS

    path = tmp_path / "gate.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO scans (scan_id, gate_id, event_id, ticket_id, verdict, wall_time, mono, code_digest)"
        " VALUES (?, 'gate-a', 1, 7, 'admitted', 1, 1, 'x')",
        ("c" * 32,),
    )
    conn.execute("INSERT INTO ticket_state (event_id, ticket_id, inside, admissions) VALUES (1, 7, 1, 1)")
    conn.close()
    with OfflineStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.get_scan("c" * 32).verdict == "admitted"
        assert store.record_scan(new_scan(ticket_id=7), admit_once)[1].verdict is Verdict.ALREADY_ADMITTED
