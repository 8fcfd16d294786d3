"""Scan rows an older hub stored with absurd times (it accepted device times within ±10^12 s)
must not break any page, CSV or API that shows them: each such time shows as "invalid time"."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from common.protocol import INVALID_TIME
from hub.schema_devices import devices, gate_scans
from hub.services import devices as device_service
from hub.services import users
from tests.hub.web.support import make_event

ABSURD = (1e12, -1e12, 1e300)


@pytest.fixture
def poisoned_event(engine, make_account):
    """An event starting within the hour (so the door page lists it) whose gate stored rows with
    absurd device, corrected and receipt times, among them an entry and its duplicate."""
    organizer = make_account("organizer", "org@example.org")
    with engine.connect() as conn:
        event = make_event(conn, organizer["id"], starts_in=timedelta(hours=1))
        gate, _ = device_service.create_device(conn, {"name": "Gate A", "event_id": event["id"]})
        conn.execute(devices.update().where(devices.c.id == gate["id"]).values(status="active"))
        first_seq = 1 + (
            conn.execute(select(gate_scans.c.hub_seq).order_by(gate_scans.c.hub_seq.desc()).limit(1)).scalar() or 0
        )
        entry = secrets.token_hex(16)
        rows = [
            # ticket 1: an entry at -1e12 and a duplicate admission at 1e12 (duplicates list both times)
            dict(scan_id=entry, ticket_id=1, verdict="admitted", duplicate_of=None, times=(-1e12, -1e12, 1e12)),
            dict(
                scan_id=secrets.token_hex(16),
                ticket_id=1,
                verdict="admitted",
                duplicate_of=entry,
                times=(1e12, 1e12, -1e12),
            ),
            # ticket 2: an arrival far in the future; ticket 3: refused, stamped 1e300
            dict(
                scan_id=secrets.token_hex(16),
                ticket_id=2,
                verdict="admitted",
                duplicate_of=None,
                times=(1e12, 1e12, 1e12),
            ),
            dict(
                scan_id=secrets.token_hex(16),
                ticket_id=3,
                verdict="revoked",
                duplicate_of=None,
                times=(1e300, -1e300, 1e300),
            ),
        ]
        conn.execute(
            insert(gate_scans),
            [
                {
                    "scan_id": r["scan_id"],
                    "device_id": gate["id"],
                    "event_id": event["id"],
                    "ticket_id": r["ticket_id"],
                    "verdict": r["verdict"],
                    "reason": None,
                    "device_seq": i + 1,
                    "device_time": r["times"][0],
                    "corrected_time": r["times"][1],
                    "received_at": r["times"][2],
                    "hub_seq": first_seq + i,
                    "duplicate_of": r["duplicate_of"],
                }
                for i, r in enumerate(rows)
            ],
        )
        _token_id, token = users.create_token(conn, organizer["id"], "test")
        conn.commit()
    return {"event": event, "api": {"Authorization": f"Bearer {token}"}}


def test_stored_absurd_times_show_as_invalid_time_in_the_api(client, poisoned_event):
    event_id, api = poisoned_event["event"]["id"], poisoned_event["api"]
    attendance = client.get(f"/api/v1/events/{event_id}/attendance", headers=api)
    assert attendance.status_code == 200, attendance.get_data(as_text=True)[:300]
    assert attendance.json["entries"] == 2 and attendance.json["rejected"] == {"revoked": 1}
    [dup] = attendance.json["duplicates"]
    assert dup["entry"]["at"] == dup["duplicate"]["at"] == INVALID_TIME

    scans = client.get(f"/api/v1/events/{event_id}/scans", headers=api)
    assert scans.status_code == 200, scans.get_data(as_text=True)[:300]
    assert len(scans.json["items"]) == 4
    assert {s[k] for s in scans.json["items"] for k in ("device_time", "corrected_time", "received_at")} == {
        INVALID_TIME
    }


def test_stored_absurd_times_do_not_break_the_pages_and_the_csv(browser_client, poisoned_event):
    event_id = poisoned_event["event"]["id"]
    browser_client.login("org@example.org")

    export = browser_client.get(f"/manage/events/{event_id}/scans.csv")
    assert export.status_code == 200, export.get_data(as_text=True)[:300]
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert len(rows) == 4 and {r["corrected_time"] for r in rows} == {INVALID_TIME}

    for url in (
        f"/manage/events/{event_id}/report",
        f"/dashboard/events/{event_id}",
        f"/dashboard/events/{event_id}/panel",
        "/door",
    ):
        page = browser_client.get(url)
        assert page.status_code == 200, (url, page.get_data(as_text=True)[:300])
    panel = browser_client.get(f"/dashboard/events/{event_id}/panel").get_data(as_text=True)
    assert f"Gate A {INVALID_TIME}</td>" in panel  # the duplicate's entry and admission times

    live = browser_client.get(f"/dashboard/events/{event_id}/live.json")
    assert live.status_code == 200, live.get_data(as_text=True)[:300]
    assert live.json["admitted"] == 2 and sum(a["count"] for a in live.json["arrivals"]) == 0  # no minute for them
