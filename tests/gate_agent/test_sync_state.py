"""Sync bookkeeping in the real gate store, and its effect on verdicts."""

from __future__ import annotations

import io
import json
import logging
import random
import sqlite3

import pytest

from common.protocol import INVALID_TIME, MovementKind
from gate_agent.offline_store import OfflineStore
from gate_agent.pipeline import Gate
from gate_agent.rules import Movement
from gate_agent.runner import GateRunner, headless_printer
from gate_agent.scanner.frames import WedgeStreamSource
from gate_agent.sync.scheduler import Backoff, intervals_from_env
from tests.gate_agent.helpers import make_gate_folder


@pytest.fixture
def folder(tmp_path):
    return make_gate_folder(tmp_path, timezone="UTC", gate_name="Gate B", gate_id="gate-b")


def test_admission_pulled_from_gate_a_refuses_the_ticket_here(folder):
    text, ticket_id = folder.ticket(ticket_id=4242), 4242
    with Gate.open(folder.path) as gate:
        moved = Movement("a" * 32, 1, ticket_id, MovementKind.ENTRY, gate.wall_clock() - 5, "Gate A")
        assert gate.store.apply_movements([moved, moved], cursor=17) == 1  # twice in, folded once
        assert gate.store.apply_movements([moved], cursor=17) == 0
        assert gate.store.sync_meta()["cursor"] == 17
        result = gate.check(text)
    assert result.verdict.value == "already_admitted"
    assert result.message.startswith("Already used at Gate A")


def test_a_pulled_movement_of_an_unknown_kind_is_ignored_with_a_log_line(folder, caplog):
    """A newer hub may name movements this gate does not know: they change no ticket, the
    cursor still moves past them, and the log says so."""
    from gate_agent.sync.apply import pulled_movements

    item = {"event_id": 1, "at": 1_800_000_000.0, "gate_id": "device-3", "gate_name": "Gate A"}
    answer = [
        {**item, "scan_id": "a" * 32, "ticket_id": 10, "kind": "entry"},
        {**item, "scan_id": "b" * 32, "ticket_id": 11, "kind": "teleport"},
        {**item, "scan_id": "c" * 32, "ticket_id": 12},
    ]
    with caplog.at_level(logging.WARNING, logger="gate_agent.sync.apply"):
        movements = pulled_movements(answer)
    assert [(m.scan_id, m.kind) for m in movements] == [("a" * 32, MovementKind.ENTRY)]
    assert [r.getMessage() for r in caplog.records] == [
        f"ignored a movement of unknown kind 'teleport' from the hub (scan {'b' * 32})",
        f"ignored a movement of unknown kind None from the hub (scan {'c' * 32})",
    ]
    with Gate.open(folder.path) as gate:
        assert gate.store.apply_movements(movements, cursor=9) == 1
        assert gate.store.sync_meta()["cursor"] == 9
        assert gate.store.ticket_state(1, 10).inside
        assert gate.store.ticket_state(1, 11) is None and gate.store.ticket_state(1, 12) is None


def test_an_exit_pulled_from_another_gate_allows_reentry(folder):
    folder.write_config(reentry="reentry")
    text = folder.ticket(ticket_id=77)
    with Gate.open(folder.path) as gate:
        now = gate.wall_clock()
        assert gate.check(text).verdict.value == "admitted"
        gate.store.apply_movements([Movement("e" * 32, 1, 77, MovementKind.EXIT, now + 1, "Exit North")])
        assert gate.check(text).verdict.value == "admitted"


def test_unsynced_scans_are_handed_out_in_order_and_marked_once(folder):
    with Gate.open(folder.path) as gate:
        ids = [gate.check(folder.ticket()).record.scan_id for _ in range(5)]
        batch = gate.store.unsynced_scans(3)
        assert [s["scan_id"] for s in batch] == ids[:3] and [s["seq"] for s in batch] == [1, 2, 3]
        assert gate.store.mark_synced(ids[:3] + ids[:1]) == 3
        assert [s["scan_id"] for s in gate.store.unsynced_scans(10)] == ids[3:]
        summary = gate.store.sync_summary(gate.wall_clock())
        assert summary["backlog"] == 2 and summary["online"] is False and summary["enrolled"] is False


def test_a_revoked_device_stops_admitting(folder):
    with Gate.open(folder.path) as gate:
        gate.store.set_sync_meta(device_revoked=True)
        result = gate.check(folder.ticket())
        assert result.verdict.value == "invalid" and result.decision.reason == "device_revoked"
        assert result.message == "Device revoked: this gate no longer admits anyone"
        assert gate.snapshot()["device_revoked"] is True


def test_a_version_1_store_is_migrated_keeping_its_scans(tmp_path):
    from gate_agent.offline_store.store import MIGRATIONS

    path = tmp_path / "gate.db"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO scans (scan_id, gate_id, verdict, wall_time, mono, code_digest)"
        " VALUES (?, 'g', 'not_a_ticket', 1.0, 1.0, 'd')",
        ("f" * 32,),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with OfflineStore(path) as store:
        assert store.schema_version() == len(MIGRATIONS)
        assert [s["scan_id"] for s in store.unsynced_scans(10)] == ["f" * 32]
        store.set_sync_meta(cursor=3)
        assert store.sync_meta() == {"cursor": 3}


def test_backoff_grows_with_jitter_and_resets():
    now = [100.0]
    backoff = Backoff(2.0, max_s=20.0, clock=lambda: now[0], rng=random.Random(1))
    delays = [backoff.failed() for _ in range(6)]
    for n, delay in enumerate(delays, start=1):
        cap = min(20.0, 2.0 * 2**n)
        assert cap / 2 <= delay <= cap
    assert not backoff.ready()
    now[0] += 21
    assert backoff.ready()
    backoff.succeeded()
    assert backoff.failures == 0 and backoff.ready()


def test_sync_intervals_come_from_the_environment():
    assert intervals_from_env({}) == (2.0, 5.0, 60.0)
    assert intervals_from_env({"GATE_PUSH_INTERVAL_S": "0.5", "GATE_PULL_INTERVAL_S": "1"})[:2] == (0.5, 1.0)
    with pytest.raises(ValueError, match="GATE_PULL_INTERVAL_S"):
        intervals_from_env({"GATE_PULL_INTERVAL_S": "soon"})


def test_keyring_from_the_hub_is_verified_and_rotation_is_accepted(tmp_path):
    from common.signing import Keyring, create_key
    from gate_agent.config import GateDataError
    from gate_agent.sync.apply import verify_keyring

    keys = tmp_path / "keys"
    old = create_key(keys)
    first = json.loads((keys / "keyring.json").read_text())
    trusted = verify_keyring(first, None)
    assert [e.kid for e in trusted] == [old.kid]
    create_key(keys)  # rotation: the new keyring is signed by the new key
    rotated = json.loads((keys / "keyring.json").read_text())
    assert len(verify_keyring(rotated, trusted)) == 2
    forged = json.loads(json.dumps(rotated))
    forged["keys"] = forged["keys"][:1]  # tampered after signing
    with pytest.raises(GateDataError, match="unusable keyring"):
        verify_keyring(forged, trusted)
    assert isinstance(trusted, Keyring)


def test_configuration_from_the_hub_keeps_local_settings(folder):
    from gate_agent.config import load_config
    from gate_agent.sync.apply import install_config

    folder.write_config(reentry="reentry", timezone="Europe/Berlin", cooldown_s=3.5)
    config = install_config(
        folder.path,
        {
            "config_version": 3,
            "gate_id": "device-9",
            "gate_name": "Exit North",
            "direction": "exit",
            "zones": [2],
            "events": [{"event_id": 5, "name": "Late Show", "seat_labels": ["A1", "A2"]}],
        },
        "http://hub.test",
    )
    on_disk = load_config(folder.path, environ={})
    for c in (config, on_disk):
        assert (c.gate_id, c.gate_name, c.direction, sorted(c.zones)) == ("device-9", "Exit North", "exit", [2])
        assert (c.reentry, c.timezone, c.cooldown_s, c.hub_url) == ("reentry", "Europe/Berlin", 3.5, "http://hub.test")
        assert c.events[5].seat_label(1) == "A2"


@pytest.mark.parametrize("at", [1e12, -1e12, 1e300])
def test_a_pulled_admission_with_an_absurd_time_still_gives_a_verdict(folder, at):
    """An older hub stored (and so hands out) admissions stamped by a broken gate clock."""
    text = folder.ticket(ticket_id=4243)
    with Gate.open(folder.path) as gate:
        gate.store.apply_movements([Movement("b" * 32, 1, 4243, MovementKind.ENTRY, at, "Gate A")], cursor=1)
        result = gate.check(text)
        snapshot = gate.snapshot()
    assert result.verdict.value == "already_admitted"
    assert result.message == f"Already used at Gate A, {INVALID_TIME}"
    assert result.to_json()["previous_admission"] == {"at": INVALID_TIME, "gate": "Gate A"}
    assert snapshot["recent"][0]["verdict"] == "already_admitted"


def test_the_runner_shows_the_verdict_of_such_a_ticket(folder, tmp_path, caplog):
    codes = tmp_path / "wedge.txt"
    codes.write_text(folder.ticket(ticket_id=4244) + "\n", "utf-8")
    printed = io.StringIO()
    with Gate.open(folder.path) as gate, open(codes, "rb") as stream:
        gate.store.apply_movements([Movement("c" * 32, 1, 4244, MovementKind.ENTRY, 1e12, "Gate A")], cursor=1)
        gate.subscribe(headless_printer(printed))
        runner = GateRunner(gate, WedgeStreamSource(stream, name="wedge", idle_s=0.05))
        runner.start()
        assert runner.source_done.wait(30)
        runner.stop()
    [line] = printed.getvalue().splitlines()
    assert json.loads(line)["message"] == f"Already used at Gate A, {INVALID_TIME}"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
