"""Validity and door settings from the hub (#15): event windows, ticket-type validity, re-entry, several
events per device, names at the door and the supervisor PIN reach the gate in its pulled configuration;
the attendee list it needs offline; forced and annulled admissions in attendance, duplicates and the
scans CSV. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest

from common.pin import check_pin
from common.protocol import FORCED_REASON
from common.signing.shortcode import short_code
from hub.services import event_admin, reports
from hub.services.clock import iso
from hub.services.errors import Invalid
from tests.hub.helpers import buy, create_event, ga_type
from tests.hub.test_sync import FakeGate, attendance


@pytest.fixture
def event(client, organizer):
    return create_event(
        client,
        organizer,
        rows=1,
        seats=1,
        ga_capacity=50,
        extra_types=[{"name": "Late entry", "kind": "ga", "price": 0, "capacity": 10}],
    )


def _buy_ga(client, event, type_id=None, quantity=1) -> dict:
    hold = client.post(
        f"/api/v1/events/{event['id']}/holds",
        json={"ga": {"ticket_type": type_id or ga_type(event), "quantity": quantity}},
    ).json
    return buy(client, hold).json


def _event_config(pulled: dict, event_id: int) -> dict:
    return next(e for e in pulled["config"]["events"] if e["event_id"] == event_id)


def test_the_gate_pulls_windows_types_reentry_names_and_pin(client, engine, organizer, event):
    gate = FakeGate(client, organizer, event["id"], "North door")
    starts = datetime.fromisoformat(event["starts_at"].replace("Z", "+00:00"))
    first = gate.pull().json
    config = _event_config(first, event["id"])
    # nothing set: a window around the start all the same, so a ticket for another day is refused
    assert config["doors_open"] == iso(starts - timedelta(hours=4)) and config["ends"] == iso(
        starts + timedelta(hours=12)
    )
    assert config["name"] == "Test Show" and config["show_names"] is False and config["supervisor_pin_hash"] is None
    assert first["config"]["reentry"] == "single"

    late = next(t for t in event["ticket_types"] if t["name"] == "Late entry")
    doors, ends = starts - timedelta(hours=1), starts + timedelta(hours=3)
    with engine.connect() as conn:
        door = event_admin.set_door_settings(
            conn,
            event["id"],
            {
                "doors_open_at": iso(doors),
                "ends_at": iso(ends),
                "timezone": "Europe/Vienna",
                "door_shows_names": True,
                "supervisor_pin": "4821",
            },
        )
        event_admin.set_ticket_type_validity(
            conn, event["id"], late["id"], {"valid_from": iso(starts + timedelta(hours=2))}
        )
    assert door["supervisor_pin_set"] and "4821" not in str(door)
    changed = client.patch(f"/api/v1/devices/{gate.id}", json={"reentry": "reentry"}, headers=organizer)
    assert changed.status_code == 200 and changed.json["reentry"] == "reentry"

    second = gate.pull(config_version=first["config"]["config_version"]).json
    config = _event_config(second, event["id"])
    assert (config["doors_open"], config["ends"], config["timezone"]) == (iso(doors), iso(ends), "Europe/Vienna")
    assert config["show_names"] is True and second["config"]["reentry"] == "reentry"
    assert check_pin("4821", config["supervisor_pin_hash"]) and not check_pin("4822", config["supervisor_pin_hash"])
    types = {t["name"]: t for t in config["ticket_types"]}
    assert types["Late entry"]["valid_from"] == iso(starts + timedelta(hours=2))
    assert types["Late entry"]["valid_until"] is None and types["Standing"]["valid_from"] is None

    # a null clears: the PIN (undo and override off) and the doors-open time (back to the default)
    with engine.connect() as conn:
        event_admin.set_door_settings(conn, event["id"], {"supervisor_pin": None, "doors_open_at": None})
    third = _event_config(gate.pull(config_version=second["config"]["config_version"]).json, event["id"])
    assert third["supervisor_pin_hash"] is None and third["doors_open"] == iso(starts - timedelta(hours=4))


@pytest.mark.parametrize(
    "bad, code",
    [
        ({"supervisor_pin": "12"}, "invalid_field"),
        ({"supervisor_pin": 1234}, "invalid_field"),
        ({"timezone": "Mars/Olympus"}, "invalid_field"),
        ({"doors_open_at": "2031-01-02T20:00:00Z", "ends_at": "2031-01-02T19:00:00Z"}, "invalid_field"),
        ({"door_shows_names": "yes"}, "invalid_field"),
        ({"pin": "1234"}, "unknown_field"),
    ],
)
def test_bad_door_settings_are_refused_by_name(engine, event, bad, code):
    with engine.connect() as conn, pytest.raises(Invalid) as refused:
        event_admin.set_door_settings(conn, event["id"], bad)
    assert refused.value.code == code


def test_a_device_serves_several_events_of_its_organizer(client, organizer, make_user, event):
    second = create_event(client, organizer, rows=1, seats=1, ga_capacity=5, title="Spring Gala")
    foreign = create_event(client, make_user("organizer")[1], rows=1, seats=1, ga_capacity=5)
    festival = FakeGate(client, organizer, event["id"], "Festival gate")
    refused = client.patch(
        f"/api/v1/devices/{festival.id}", json={"more_event_ids": [foreign["id"]]}, headers=organizer
    )
    assert refused.status_code == 422 and refused.json["error"]["code"] == "foreign_event"
    ok = client.patch(f"/api/v1/devices/{festival.id}", json={"more_event_ids": [second["id"]]}, headers=organizer)
    assert ok.status_code == 200 and ok.json["more_event_ids"] == [second["id"]]

    pulled = festival.pull().json
    assert {e["event_id"]: e["name"] for e in pulled["config"]["events"]} == {
        event["id"]: "Test Show",
        second["id"]: "Spring Gala",
    }
    # another gate of the second event admits a ticket: the festival gate pulls that movement
    other = FakeGate(client, organizer, second["id"], "Gala door")
    other.push([other.scan(77)])
    assert [(m["event_id"], m["ticket_id"]) for m in festival.pull(cursor=pulled["cursor"]).json["movements"]] == [
        (second["id"], 77)
    ]


def test_the_attendee_list_is_minimal_and_pulled_in_steps(client, organizer, event):
    gate = FakeGate(client, organizer, event["id"], "Gate")
    order = _buy_ga(client, event, quantity=2)
    roster = gate.pull().json["roster"]
    assert [t["ticket_id"] for t in roster["tickets"]] == [t["ticket_id"] for t in order["tickets"]]
    first = roster["tickets"][0]
    assert set(first) == {"ticket_id", "event_id", "code", "ticket_type", "order", "name"}  # no e-mail, no payment
    assert first["name"] == "Buyer" and first["order"] == order["id"] and first["code"].startswith("TG1:")
    assert short_code(first["ticket_id"])  # every ticket the gate holds has a short code
    assert gate.pull(roster_seq=roster["seq"]).json["roster"]["tickets"] == []
    more = _buy_ga(client, event)
    again = gate.pull(roster_seq=roster["seq"]).json["roster"]
    assert [t["ticket_id"] for t in again["tickets"]] == [more["tickets"][0]["ticket_id"]]


def test_forced_and_annulled_admissions_count_as_the_organizer_expects(client, engine, organizer, event):
    a = FakeGate(client, organizer, event["id"], "Gate A")
    b = FakeGate(client, organizer, event["id"], "Gate B")
    t0 = a.now() - 100
    entry = a.scan(1, at=t0)
    forced = b.scan(1, at=t0 + 10, reason=FORCED_REASON, note="guest swears it is the first time")
    wrong_phone = a.scan(2, at=t0 + 20)
    annul = a.scan(2, verdict="annulled", at=t0 + 25, reason=wrong_phone["scan_id"])
    again = b.scan(2, at=t0 + 30)
    # the annulment arrives before the admission it annuls: order of arrival does not matter
    assert a.push([annul]).status_code == 200
    assert a.push([entry, wrong_phone]).status_code == 200
    assert b.push([forced, again]).status_code == 200

    report = attendance(client, organizer, event)
    # ticket 1 in once (the forced second admission is a duplicate), ticket 2 in once (the annulled one does not count)
    assert report["admitted"] == 2 and report["entries"] == 2
    assert [d["duplicate"]["scan_id"] for d in report["duplicates"]] == [forced["scan_id"]]
    assert "annulled" not in report["rejected"]
    gates = {g["name"]: g for g in report["per_gate"]}
    assert (gates["Gate A"]["annulled"], gates["Gate B"]["forced"]) == (1, 1)
    actions = [(o["action"], o["ticket_id"], o["duplicate"], o["note"]) for o in report["overrides"]]
    assert actions == [
        ("forced", 1, True, "guest swears it is the first time"),
        ("annulled", 2, False, None),
    ]
    with engine.connect() as conn:
        rows = list(
            csv.DictReader(io.StringIO(reports.to_csv(reports.SCAN_COLUMNS, reports.scan_csv_rows(conn, event["id"]))))
        )
    by_id = {r["scan_id"]: r for r in rows}
    assert by_id[forced["scan_id"]]["note"] == "guest swears it is the first time"
    assert by_id[forced["scan_id"]]["duplicate_of"] == entry["scan_id"]
    assert by_id[wrong_phone["scan_id"]]["annulled_by"] == annul["scan_id"]
    assert by_id[again["scan_id"]]["duplicate_of"] == ""  # the annulled admission let nobody in


def test_a_note_longer_than_the_protocol_allows_is_refused(client, organizer, event):
    a = FakeGate(client, organizer, event["id"], "Gate A")
    answer = a.push([a.scan(1, reason=FORCED_REASON, note="x" * 201)])
    assert answer.status_code == 422 and answer.json["error"]["code"] == "invalid_field"


def test_event_json_shows_the_door_window(client, engine, event):
    with engine.connect() as conn:
        event_admin.set_door_settings(conn, event["id"], {"doors_open_at": "2031-05-01T17:00:00Z"})
    shown = client.get(f"/api/v1/events/{event['id']}").json
    assert shown["doors_open_at"] == "2031-05-01T17:00:00Z" and shown["ends_at"] is None
    assert "supervisor_pin_hash" not in str(shown)


def test_a_gate_forgets_names_a_day_after_the_event_and_when_moved(
    app, engine, client, organizer, live_server, tmp_path
):
    from tests.hub.web.gates import LiveGate

    other = create_event(client, organizer, rows=1, seats=1, ga_capacity=5, title="Other Night")
    event = create_event(client, organizer, rows=1, seats=1, ga_capacity=5)
    order = _buy_ga(client, event, quantity=2)
    gate = LiveGate(engine, live_server, event["id"], "Gate", tmp_path / "gate")
    try:
        result = gate.client.pull_once()
        assert result.attendees == 2 and gate.gate.store.attendee_count() == 2
        assert gate.gate.search("buyer")[0]["order"] == order["id"]
        # the event ended 23 h ago: still kept; 25 h ago: forgotten at the next pull
        starts = datetime.fromisoformat(event["starts_at"].replace("Z", "+00:00"))
        for hours_ago, kept in ((23, 2), (25, 0)):
            ends = datetime.now(starts.tzinfo) - timedelta(hours=hours_ago)
            with engine.connect() as conn:
                event_admin.set_door_settings(
                    conn, event["id"], {"doors_open_at": iso(ends - timedelta(hours=5)), "ends_at": iso(ends)}
                )
            gate.client.pull_once()
            assert gate.gate.store.attendee_count() == kept, hours_ago
        # moved to another event: that event's attendees only
        _buy_ga(client, other)
        assert (
            client.patch(
                f"/api/v1/devices/{gate.device['id']}", json={"event_id": other["id"]}, headers=organizer
            ).status_code
            == 200
        )
        gate.client.pull_once()
        assert {a["event_name"] for a in gate.gate.search("buyer")} == {"Other Night"}
    finally:
        gate.close()
