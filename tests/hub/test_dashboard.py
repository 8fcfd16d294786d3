"""Dashboard figures: arrivals per minute (duplicates left out), gate state, chart geometry."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from hub.schema_devices import devices
from hub.services import devices as device_service
from hub.services import sync, users
from hub.services.dashboard import ONLINE_WITHIN_S, arrivals_chart, live_attendance
from tests.hub.web.support import make_event

NOW = datetime(2026, 5, 1, 19, 30, 30, tzinfo=UTC)


def _push(conn, device, event_id, scans, at: datetime):
    """scans: (ticket_id, verdict, seconds before ``at``); the device clock is exact."""
    batch = sync.parse_push(
        {
            "sent_at": at.timestamp(),
            "scans": [
                {
                    "scan_id": secrets.token_hex(16),
                    "verdict": verdict,
                    "seq": i + 1,
                    "wall_time": at.timestamp() - ago,
                    "event_id": event_id if ticket else None,
                    "ticket_id": ticket,
                }  # a forged code names no event
                for i, (ticket, verdict, ago) in enumerate(scans)
            ],
        }
    )
    sync.ingest(conn, device, batch, now=at)


def test_arrivals_per_minute_gates_and_duplicates(engine):
    with engine.connect() as conn:
        organizer = users.create_user(conn, "org@example.org", "correct horse", "organizer")
        event = make_event(conn, organizer["id"])
        gate_a, _ = device_service.create_device(conn, {"name": "Gate A", "event_id": event["id"]})
        gate_b, _ = device_service.create_device(conn, {"name": "Gate B", "event_id": event["id"]})
        for device in (gate_a, gate_b):  # active, as after enrolment
            conn.execute(devices.update().where(devices.c.id == device["id"]).values(status="active"))
        conn.commit()
        # minute 19:28: two arrivals; 19:30: one, plus a forged ticket
        _push(
            conn,
            gate_a,
            event["id"],
            [(1, "admitted", 150), (2, "admitted", 140), (3, "admitted", 10), (None, "invalid", 5)],
            NOW,
        )
        # gate B admits ticket 1 again (offline): a duplicate, not an arrival; it synced long ago
        _push(conn, gate_b, event["id"], [(1, "admitted", 10)], NOW - timedelta(seconds=ONLINE_WITHIN_S + 10))
        live = live_attendance(conn, event["id"], now=NOW, minutes=5)

    assert [(a["minute"][11:16], a["count"]) for a in live["arrivals"]] == [
        ("19:26", 0),
        ("19:27", 0),
        ("19:28", 2),
        ("19:29", 0),
        ("19:30", 1),
    ]
    assert (live["admitted"], live["inside"], live["rejected"]) == (3, 3, {"invalid": 1})
    gates = {g["name"]: g for g in live["per_gate"]}
    assert gates["Gate A"]["online"] and not gates["Gate B"]["online"]
    assert gates["Gate A"]["entries"] == 3 and gates["Gate B"]["duplicates"] == 1
    assert gates["Gate A"]["rejected"] == 1  # the forged code names no event, but was shown at this gate
    assert gates["Gate A"]["backlog"] == 0 and gates["Gate A"]["clock_offset_s"] == 0
    [dup] = live["duplicates"]
    assert (dup["ticket_id"], dup["entry"]["gate"], dup["duplicate"]["gate"]) == (1, "Gate A", "Gate B")

    chart = arrivals_chart(live["arrivals"], width=500, height=120)
    heights = [b["height"] for b in chart["bars"]]
    assert heights[2] == chart["plot"] and heights[4] == chart["plot"] / 2 and heights[0] == 0
    assert chart["total"] == 3 and chart["top"] == 2


def test_after_the_doors_close_the_chart_ends_at_the_last_arrival(engine):
    with engine.connect() as conn:
        organizer = users.create_user(conn, "org@example.org", "correct horse", "organizer")
        event = make_event(conn, organizer["id"])
        gate, _ = device_service.create_device(conn, {"name": "Gate A", "event_id": event["id"]})
        _push(conn, gate, event["id"], [(1, "admitted", 0)], NOW)
        arrivals = live_attendance(conn, event["id"], now=NOW + timedelta(days=1), minutes=3)["arrivals"]
    assert [(a["minute"][11:16], a["count"]) for a in arrivals] == [("19:28", 0), ("19:29", 0), ("19:30", 1)]
