"""A way out of every mistake, at the gate (#15): short codes and any-case ticket text, the ticket type and
name at ADMIT, validity from the hub's configuration, offline search and check-in, and the supervisor's
undo and override. Real data folders, real gate.db, real signed tickets."""

from __future__ import annotations

import sqlite3
import time

import pytest

from common.pin import hash_pin
from common.protocol import format_utc
from common.signing.shortcode import grouped, short_code
from gate_agent.offline_store.store import MIGRATIONS, OfflineStore
from gate_agent.pipeline import Gate, SupervisorError
from tests.gate_agent.helpers import make_gate_folder

PIN = "4821"
NOW = time.time()


@pytest.fixture
def folder(tmp_path):
    return make_gate_folder(
        tmp_path,
        events=[
            {
                "event_id": 1,
                "name": "Winter Gala",
                "doors_open": format_utc(NOW - 3600),
                "ends": format_utc(NOW + 3600),
                "timezone": "Europe/Vienna",
                "show_names": True,
                "supervisor_pin_hash": hash_pin(PIN),
                "ticket_types": [
                    {"id": 1, "name": "Standing"},
                    {"id": 2, "name": "Late entry", "valid_from": format_utc(NOW + 1800)},
                    {"id": 3, "name": "Day 1", "valid_until": format_utc(NOW - 60)},
                ],
            }
        ],
        other_events=[
            {"event_id": 7, "name": "Spring Gala", "starts_at": "2027-04-12T19:00:00Z", "timezone": "Europe/Vienna"}
        ],
    )


def enlist(gate: Gate, folder, ticket_id: int, name: str, order: int = 55, ticket_type: int = 1, **fields) -> str:
    """A ticket on the gate's pulled attendee list (as a pull's roster writes it); returns its text."""
    text = folder.ticket(ticket_id=ticket_id, ticket_type=ticket_type, **fields)
    gate.store.add_attendees(
        [
            {
                "ticket_id": ticket_id,
                "event_id": 1,
                "code": text,
                "ticket_type": ticket_type,
                "order": order,
                "name": name,
            }
        ]
    )
    return text


def test_a_short_code_in_any_case_with_spaces_and_dashes_admits_and_shows_type_and_name(folder):
    with Gate.open(folder.path) as gate:
        enlist(gate, folder, 1234, "Zoë Łukasiewicz")
        typed = " " + grouped(short_code(1234)).lower().replace("-", " - ") + " "
        result = gate.check(typed)
        assert result.verdict.value == "admitted" and result.record.ticket_id == 1234
        shown = result.to_json()
        assert (shown["ticket_type_name"], shown["attendee_name"], shown["event_name"]) == (
            "Standing",
            "Zoë Łukasiewicz",
            "Winter Gala",
        )
        assert shown["short_code"] == grouped(short_code(1234)) and shown["supervisor"] is True
        again = gate.check(short_code(1234))
        assert again.verdict.value == "already_admitted" and again.to_json()["attendee_name"] is None


def test_names_stay_hidden_unless_the_organizer_asked(folder):
    folder.config["events"][0]["show_names"] = False
    folder.write_config()
    with Gate.open(folder.path) as gate:
        enlist(gate, folder, 1300, "Ada Lovelace")
        shown = gate.check(short_code(1300)).to_json()
        assert shown["verdict"] == "admitted" and shown["ticket_type_name"] == "Standing"
        assert shown["attendee_name"] is None


def test_a_ticket_text_in_any_case_and_an_unknown_short_code(folder):
    with Gate.open(folder.path) as gate:
        text = folder.ticket(ticket_id=1400)
        assert gate.check(text.lower()).verdict.value == "admitted"
        unknown = gate.check(short_code(999_999))
        assert unknown.verdict.value == "not_a_ticket" and unknown.record.reason == "unknown_short_code"
        assert unknown.message == f"Code {grouped(short_code(999_999))} is not on this gate's ticket list"
        code = short_code(1400)
        typo = gate.check(code[:-1] + ("3" if code[-1] != "3" else "4"))  # a wrong check character
        assert typo.verdict.value == "not_a_ticket" and typo.record.reason is None  # a typo is no ticket at all


def test_windows_from_the_hub_refuse_in_plain_words(folder):
    with Gate.open(folder.path) as gate:
        late = gate.check(folder.ticket(ticket_id=1500, ticket_type=2))
        assert late.verdict.value == "not_yet_valid" and late.record.reason == "type_window"
        assert late.message.startswith("Too early: Late entry valid from ")
        day1 = gate.check(folder.ticket(ticket_id=1501, ticket_type=3))
        assert day1.verdict.value == "expired" and day1.message.startswith("Too late: Day 1 was valid until ")
        folder.config["events"][0]["doors_open"] = format_utc(NOW + 7200)
        folder.config["events"][0]["ends"] = format_utc(NOW + 9000)
        folder.write_config()
    with Gate.open(folder.path) as gate:
        early = gate.check(folder.ticket(ticket_id=1502))
        assert early.verdict.value == "not_yet_valid" and early.message.startswith("Too early: doors open ")


def test_wrong_event_names_the_event_by_title_and_day(folder):
    with Gate.open(folder.path) as gate:
        result = gate.check(folder.ticket(event_id=7, ticket_id=1600))
        assert result.verdict.value == "wrong_event"
        assert result.message == "Wrong event: this ticket is for Spring Gala, 12 Apr"


def test_search_by_name_order_ticket_number_or_code_and_check_in(folder):
    with Gate.open(folder.path) as gate:
        enlist(gate, folder, 1700, "Zoë-Ann O'Neil", order=81)
        enlist(gate, folder, 1701, "Bob Zoeller", order=82)
        enlist(gate, folder, 1702, "100% Pure_Name", order=83)
        assert [t["ticket_id"] for t in gate.search("zoe ann")] == [1700]
        assert [t["ticket_id"] for t in gate.search("ZOE")] == [1701, 1700]  # by name, then ticket
        assert [t["ticket_id"] for t in gate.search("#82")] == [1701]
        assert [t["ticket_id"] for t in gate.search("1702")] == [1702]
        assert [t["ticket_id"] for t in gate.search(grouped(short_code(1700)).lower())] == [1700]
        assert [t["ticket_id"] for t in gate.search("%")] == [1702]  # LIKE wildcards are plain characters
        assert gate.search("   ") == [] and gate.search("nobody") == []
        checked = gate.check_in(1700)
        assert checked.verdict.value == "admitted" and checked.record.source == "search"
        [found] = gate.search("zoe ann")
        assert found["inside"] and found["admitted"] and found["ticket_type_name"] == "Standing"
        with pytest.raises(SupervisorError) as missing:
            gate.check_in(4242)
        assert missing.value.code == "unknown_ticket"


def test_force_admit_needs_the_pin_and_a_reason_and_is_recorded_with_them(folder):
    with Gate.open(folder.path) as gate:
        text = enlist(gate, folder, 1800, "Guest")
        assert gate.check(text).verdict.value == "admitted"
        assert gate.check(text).verdict.value == "already_admitted"
        for pin, reason, code in [("0000", "lost wristband", "wrong_pin"), (PIN, "  ", "missing_reason")]:
            with pytest.raises(SupervisorError) as refused:
                gate.force_admit(text, pin, reason)
            assert refused.value.code == code
        scans_before = gate.store.unsynced_count()
        forced = gate.force_admit(text, PIN, "re-entry after the  first aid tent")
        assert forced.verdict.value == "admitted" and forced.record.reason == "forced"
        assert forced.record.note == "re-entry after the first aid tent"
        assert forced.to_json()["forced_over"] == "already_admitted"
        assert "forced in by supervisor" in forced.message
        assert gate.store.unsynced_count() == scans_before + 1  # the refused attempts recorded nothing
        [pushed] = [s for s in gate.store.unsynced_scans(50) if s["scan_id"] == forced.record.scan_id]
        assert (pushed["verdict"], pushed["reason"], pushed["note"]) == (
            "admitted",
            "forced",
            "re-entry after the first aid tent",
        )
        with pytest.raises(SupervisorError) as refused:
            gate.force_admit("https://example.org", PIN, "looks fine")
        assert refused.value.code == "cannot_force"


def test_annul_takes_the_last_admission_back(folder):
    with Gate.open(folder.path) as gate:
        text = enlist(gate, folder, 1900, "Guest")
        with pytest.raises(SupervisorError) as nothing:
            gate.annul(1900, PIN)
        assert nothing.value.code == "nothing_to_annul"
        admitted = gate.check(text)
        with pytest.raises(SupervisorError) as wrong:
            gate.annul(1900, "9999")
        assert wrong.value.code == "wrong_pin"
        annulled = gate.annul(1900, PIN)
        assert annulled.verdict.value == "annulled" and annulled.record.reason == admitted.record.scan_id
        assert annulled.colour == "amber"
        assert gate.store.ticket_state(1, 1900).admissions == 0
        assert gate.snapshot()["admitted"] == 0  # the door's count leaves it out too
        assert gate.check(text).verdict.value == "admitted"  # the right guest now gets in


def test_no_supervisor_pin_no_override(folder):
    folder.config["events"][0].pop("supervisor_pin_hash")
    folder.write_config()
    with Gate.open(folder.path) as gate:
        text = enlist(gate, folder, 2000, "Guest")
        gate.check(text)
        with pytest.raises(SupervisorError) as refused:
            gate.annul(2000, PIN)
        assert refused.value.code == "no_supervisor_pin"
        assert gate.check(text).to_json()["supervisor"] is False


def test_a_version_2_gate_db_keeps_its_scans_and_gains_the_new_tables(tmp_path):
    path = tmp_path / "gate.db"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0] + MIGRATIONS[1]:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO scans (scan_id, gate_id, event_id, ticket_id, verdict, wall_time, mono, code_digest)"
        " VALUES (?, 'g', 1, 5, 'admitted', 1.0e9, 1.0, 'x')",
        ("a" * 32,),
    )
    conn.execute("INSERT INTO remote_movements VALUES (?, 1, 6, 'entry', 1.0e9, 'B')", ("b" * 32,))
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with OfflineStore(path) as store:
        assert store.schema_version() == len(MIGRATIONS) == 3
        [old] = store.recent_scans()
        assert (old.scan_id, old.verdict, old.note) == ("a" * 32, "admitted", None)
        assert store.integrity_check() == "ok"
        assert store.add_attendees([{"ticket_id": 5, "event_id": 1, "code": "TG1:X", "name": "N"}]) == 1
        assert store.forget_attendees([1]) == 0 and store.forget_attendees([2]) == 1 and store.attendee_count() == 0
        store.add_attendees([{"ticket_id": 6, "event_id": 1, "code": "TG1:Y", "name": "M"}])
        assert store.forget_attendees([]) == 1  # no event left to serve: nobody's name stays


def test_guessing_the_pin_locks_it_for_a_minute(folder):
    clock = {"now": 1000.0}
    with Gate.open(folder.path, mono_clock=lambda: clock["now"]) as gate:
        text = enlist(gate, folder, 2100, "Guest")
        gate.check(text)
        for guess in ("0001", "0002", "0003", "0004", "0005"):
            with pytest.raises(SupervisorError) as wrong:
                gate.annul(2100, guess)
            assert wrong.value.code == "wrong_pin"
        with pytest.raises(SupervisorError) as locked:
            gate.annul(2100, PIN)  # even the right PIN, while locked
        assert locked.value.code == "pin_locked"
        clock["now"] += 61
        assert gate.annul(2100, PIN).verdict.value == "annulled"
