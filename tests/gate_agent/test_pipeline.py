"""The whole pipeline on a real data folder and a real SQLite store."""

from __future__ import annotations

import sqlite3
import string
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.protocol import TIME_MAX, TIME_MIN, plausible_time
from gate_agent import messages
from gate_agent.config import load_config
from gate_agent.messages import JUST_ADMITTED_S, describe
from gate_agent.pipeline import Gate
from gate_agent.rules import VERDICTS, Decision, TicketState, Verdict
from tests.gate_agent.helpers import make_gate_folder

NOON = 1_777_636_800  # 2026-05-01T12:00:00Z: a pinned wall clock


@pytest.fixture
def folder(tmp_path):
    return make_gate_folder(
        tmp_path,
        zones=[1],
        timezone="UTC",
        events=[{"event_id": 1, "seat_labels": ["Section A · Row 3 · Seat 12", "Section A · Row 3 · Seat 13"]}],
    )


@pytest.fixture
def gate(folder):
    with Gate.open(folder.path) as gate:
        yield gate


def stored_verdict(folder, scan_id):
    with sqlite3.connect(folder.path / "gate.db") as conn:
        return conn.execute("SELECT verdict FROM scans WHERE scan_id = ?", (scan_id,)).fetchone()[0]


def test_admitted_with_seat_label_then_already_used_at_this_gate(folder):
    text = folder.ticket(seat=0, zones=[1])
    now = [NOON]  # pinned: never "today" vs a new day
    with Gate.open(folder.path, wall_clock=lambda: now[0]) as gate:
        first = gate.check(text)
        now[0] += 3
        again = gate.check(text)  # the same guest still in front of the camera
        now[0] += JUST_ADMITTED_S
        second = gate.check(text)
    assert first.verdict.value == "admitted" and first.colour == "green"
    assert first.message == "Welcome — Section A · Row 3 · Seat 12"
    assert again.verdict.value == "already_admitted" and again.colour == "amber"
    assert again.message == "Just admitted here 3 s ago"
    assert second.verdict.value == "already_admitted" and second.colour == "red"
    assert second.message == "Already used at Gate A, 12:00"
    assert second.to_json()["previous_admission"]["gate"] == "Gate A"
    assert stored_verdict(folder, first.record.scan_id) == "admitted"
    assert stored_verdict(folder, again.record.scan_id) == "already_admitted"  # counted as a duplicate all the same
    assert stored_verdict(folder, second.record.scan_id) == "already_admitted"
    assert second.record.seq > again.record.seq > first.record.seq


@pytest.mark.parametrize(
    ("gate_name", "ago", "colour"),
    [
        ("Gate A", 0.0, "amber"),
        ("Gate A", JUST_ADMITTED_S, "amber"),
        ("Gate A", JUST_ADMITTED_S + 0.5, "red"),
        ("Gate B", 2.0, "red"),
        ("Gate A", -5.0, "red"),
    ],
)
def test_just_admitted_is_amber_only_at_the_same_gate_within_seconds(folder, gate_name, ago, colour):
    config = load_config(folder.path)  # Gate A
    previous = TicketState(True, 1, NOON, gate_name)
    decision = Decision(Verdict.ALREADY_ADMITTED, None, previous=previous)
    assert messages.colour(config, decision, NOON + ago) == colour
    assert describe(config, decision, NOON + ago).startswith("Just admitted" if colour == "amber" else "Already used")


@pytest.mark.parametrize(
    ("make_text", "verdict", "message"),
    [
        (lambda f: "https://example.org", "not_a_ticket", "Not a ticket"),
        (lambda f: "TG1:%%%%", "invalid", "Invalid ticket: the code is damaged or incomplete"),
        (lambda f: f.ticket(event_id=2), "wrong_event", "Wrong event: this ticket is for another event (no. 2)"),
        (lambda f: f.ticket(zones=[2]), "wrong_zone", "Wrong entrance: this ticket is for zone 2"),
        (lambda f: f.ticket(ticket_id=99), "revoked", "Ticket cancelled"),
        (lambda f: f.ticket(not_before=int(time.time()) + 86400 * 3), "not_yet_valid", "Too early: ticket valid from"),
        (lambda f: f.ticket(not_after=int(time.time()) - 86400 * 3), "expired", "Ticket expired"),
    ],
)
def test_each_refusal_is_recorded_with_a_plain_message(folder, make_text, verdict, message):
    folder.revoke((1, 99))
    with Gate.open(folder.path) as gate:
        result = gate.check(make_text(folder))
    assert result.verdict.value == verdict
    assert result.message.startswith(message)
    assert stored_verdict(folder, result.record.scan_id) == verdict


def test_event_window_from_config_is_used_for_messages(folder):
    # a pinned clock: at 22:00 UTC or later, doors two hours on would open the next day (and the
    # message would name the date); the gate's time zone is UTC (the fixture)
    now = NOON
    folder.write_config(events=[{"event_id": 1, "doors_open": now + 7200, "ends": now + 14400}])
    with Gate.open(folder.path, wall_clock=lambda: now) as gate:
        early = gate.check(folder.ticket())
        assert early.verdict.value == "not_yet_valid"
        assert early.message == "Too early: doors open 14:00"
    folder.write_config(events=[{"event_id": 1, "doors_open": now - 14400 - 86400, "ends": now - 86400}])
    with Gate.open(folder.path, wall_clock=lambda: now) as gate:
        late = gate.check(folder.ticket())
        assert late.verdict.value == "expired" and late.message == "Too late: the event ended 30 Apr 12:00"


def test_reentry_policy_across_an_exit_gate_sharing_the_store(folder):
    folder.write_config(reentry="reentry")
    text = folder.ticket()
    with Gate.open(folder.path) as entry:
        assert entry.check(text).verdict.value == "admitted"
        assert entry.check(text).verdict.value == "already_admitted"
    folder.write_config(direction="exit")
    with Gate.open(folder.path) as exit_gate:
        result = exit_gate.check(text)
        assert (result.verdict.value, result.colour) == ("exit_recorded", "amber")
    folder.write_config(direction="entry")
    with Gate.open(folder.path) as entry:
        assert entry.check(text).verdict.value == "admitted"
        assert entry.store.ticket_state(1, result.record.ticket_id).admissions == 2


def test_listeners_see_a_verdict_only_after_it_is_committed(folder, gate):
    seen = []

    def listener(result):
        # a separate connection sees the row: it is committed, not just written
        seen.append(stored_verdict(folder, result.record.scan_id))

    gate.subscribe(listener)
    gate.check(folder.ticket())
    gate.check("not a ticket")
    assert seen == ["admitted", "not_a_ticket"]


def test_snapshot_counts_admissions_at_this_gate(folder, gate):
    for _ in range(3):
        gate.check(folder.ticket())
    gate.check("junk")
    snap = gate.snapshot()
    assert snap["admitted"] == 3 and snap["online"] is False
    assert [r["verdict"] for r in snap["recent"]] == ["not_a_ticket", "admitted", "admitted", "admitted"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(
        st.text(max_size=300),
        st.text(alphabet=string.digits + string.ascii_uppercase + " $%*+-./:", max_size=200).map(lambda s: "TG1:" + s),
        st.builds(lambda n, s: f"TG{n}:{s}", st.integers(0, 99), st.text(max_size=50)),
    )
)
def test_any_text_gives_a_known_verdict_and_never_raises(gate, text):
    result = gate.check(text)
    assert result.verdict.value in VERDICTS
    assert result.verdict.value not in ("admitted", "already_admitted", "exit_recorded")
    assert gate.store.get_scan(result.record.scan_id).verdict == result.verdict.value


def test_unlimited_policy_admits_every_time_and_counts_each_admission(folder):
    folder.write_config(reentry="unlimited")
    text = folder.ticket()
    with Gate.open(folder.path) as gate:
        verdicts = [gate.check(text).verdict.value for _ in range(3)]
        assert verdicts == ["admitted"] * 3
        assert gate.store.ticket_state(1, gate.store.recent_scans(1)[0].ticket_id).admissions == 3
        assert gate.snapshot()["admitted"] == 3


def test_exit_gate_records_an_exit_for_a_ticket_never_seen_here(folder):
    folder.write_config(direction="exit")
    with Gate.open(folder.path) as gate:
        result = gate.check(folder.ticket(zones=[5]))
        assert (result.verdict.value, result.message) == ("exit_recorded", "Exit recorded")
        state = gate.store.ticket_state(1, result.record.ticket_id)
        assert state.inside is False and state.admissions == 0
        assert gate.snapshot()["exits"] == 1


@pytest.mark.parametrize("reading", [0.0, -1e12, 1e12, float("nan"), TIME_MAX + 1.0])
def test_a_gate_whose_clock_is_absurd_records_plausible_increasing_times(folder, reading, caplog):
    """No battery-backed clock (1970), or a clock set absurdly: the gate records 2000-01-01 plus
    the time since boot, which the hub accepts and corrects (docs/sync-protocol.md, Time)."""
    with Gate.open(folder.path, wall_clock=lambda: reading) as gate:
        first, second = gate.check(folder.ticket()), gate.check(folder.ticket())
    walls = [first.record.wall_time, second.record.wall_time]
    assert all(plausible_time(w) for w in walls) and walls[0] <= walls[1]
    assert walls[1] - TIME_MIN <= time.monotonic()
    assert caplog.text.count("outside the plausible window") == 1  # once, not once per scan
