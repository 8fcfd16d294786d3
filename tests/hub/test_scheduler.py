"""The APScheduler job sweeps expired holds in the background."""

from __future__ import annotations

import threading
from datetime import timedelta

from apscheduler.events import EVENT_JOB_EXECUTED

from hub.scheduler import start_sweeper
from hub.services import holds
from hub.services.clock import utcnow

from .helpers import create_event


def test_background_sweeper_expires_stale_holds(app, client, organizer, engine):
    event = create_event(client, organizer, rows=1, seats=2)
    with engine.connect() as conn:
        stale = holds.hold_seats(conn, event["id"], [("A", "1", "1")], now=utcnow() - timedelta(minutes=30))
        live = holds.hold_seats(conn, event["id"], [("A", "1", "2")])
    app.config["SWEEP_INTERVAL_SECONDS"] = 1
    swept = threading.Event()
    scheduler = start_sweeper(app)
    scheduler.add_listener(lambda _event: swept.set(), mask=EVENT_JOB_EXECUTED)
    try:
        assert swept.wait(timeout=15), "the sweep job never ran"
    finally:
        scheduler.shutdown(wait=True)
    with engine.connect() as conn:
        assert holds.get_hold(conn, stale["hold_id"], stale["hold_token"])["status"] == "expired"
        assert holds.get_hold(conn, live["hold_id"], live["hold_token"])["status"] == "active"
        seat_status = conn.exec_driver_sql("SELECT status FROM event_seats WHERE hold_id IS NOT NULL").scalars().all()
    assert seat_status == ["held"]  # only the live hold's seat is still held


def test_sweeper_disabled_with_zero_interval(app):
    app.config["SWEEP_INTERVAL_SECONDS"] = 0
    assert start_sweeper(app) is None
