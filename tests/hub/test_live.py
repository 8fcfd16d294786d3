"""Notifiers of the live dashboard: in-process fan-out, and PostgreSQL LISTEN/NOTIFY between
two notifiers on one database (as two hub processes have); the cap on open streams
(over HTTP: tests/hub/test_stream_limit.py)."""

from __future__ import annotations

import logging
import os
import secrets
import threading

import pytest

from hub.db import make_engine
from hub.services.live import (
    ANY_EVENT,
    LocalNotifier,
    PostgresNotifier,
    SqliteNotifier,
    StreamSlots,
    make_notifier,
    stream_limit,
)
from tests.support import POSTGRES_URL_ENV, require


def test_local_notifier_fans_out_to_every_subscriber_and_close_wakes_them():
    notifier = LocalNotifier()
    first, second = notifier.subscribe(), notifier.subscribe()
    notifier.publish([7, 7, 9])
    assert sorted([first.get(1), *first.drain()]) == [7, 9]
    assert sorted([second.get(1), *second.drain()]) == [7, 9]
    second.close()  # an unsubscribed reader gets nothing more
    notifier.publish([3])
    assert first.get(1) == 3 and second.get(0.01) is None

    woke = threading.Event()

    def reader():
        while not first.closed:
            first.get(30)
        woke.set()

    thread = threading.Thread(target=reader)
    thread.start()
    notifier.close()
    assert woke.wait(5)
    thread.join()
    assert notifier.subscribe().closed  # after close, new subscribers end at once


def test_sqlite_notifier_hears_syncs_committed_by_another_process(tmp_path):
    """Two notifiers on one SQLite file, as `tickethub serve --workers 2` has: B's poller finds
    the scans A's process ingested (its in-process publish reaches only A's subscribers)."""
    from hub.db import upgrade
    from hub.services import devices, events, sync
    from hub.services.clock import iso, utcnow

    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    engine_a, engine_b = make_engine(url), make_engine(url)
    upgrade(engine_a)
    a, b = make_notifier(engine_a), make_notifier(engine_b)
    assert isinstance(a, SqliteNotifier) and isinstance(b, SqliteNotifier)
    b._poll_s = 0.05
    try:
        with engine_a.connect() as conn:
            event = events.create_event(
                conn,
                {
                    "title": "Night",
                    "starts_at": iso(utcnow()),
                    "ticket_types": [{"name": "Standing", "kind": "ga", "price": 0, "capacity": 10}],
                },
                organizer_id=None,
            )
            device, _ = devices.create_device(conn, {"name": "Gate A", "event_id": event["id"]})
        with b.subscribe() as sub:
            assert sub.get(10) == ANY_EVENT  # B's poller has read the counter
            with engine_a.connect() as conn:
                sync.ingest(
                    conn,
                    device,
                    sync.parse_push(
                        {
                            "sent_at": 1.0e9,
                            "scans": [
                                {
                                    "scan_id": secrets.token_hex(16),
                                    "verdict": "invalid",
                                    "seq": 1,
                                    "wall_time": 1.0e9,
                                    "event_id": None,
                                    "ticket_id": None,
                                }
                            ],
                        }
                    ),
                )  # no event id: the gate's event is pinged
            a.publish([event["id"]])
            assert sub.get(10) == event["id"]
    finally:
        a.close()
        b.close()
        engine_a.dispose()
        engine_b.dispose()


def test_postgres_notify_reaches_the_other_notifier():
    url = os.environ.get(POSTGRES_URL_ENV)
    require(bool(url), f"{POSTGRES_URL_ENV} is not set")
    engine_a, engine_b = make_engine(url), make_engine(url)
    a, b = make_notifier(engine_a), make_notifier(engine_b)
    assert isinstance(a, PostgresNotifier) and isinstance(b, PostgresNotifier)
    try:
        with b.subscribe() as sub:
            assert sub.get(10) == ANY_EVENT  # B's LISTEN connection is up
            a.publish([41, 42])
            assert {sub.get(10), sub.get(10)} == {41, 42}  # each NOTIFY once, in any order
            with engine_a.begin() as conn:  # inside a transaction: delivered at commit, not before
                a.publish([43], conn)
                assert sub.get(0.3) is None
            assert sub.get(10) == 43
    finally:
        a.close()
        b.close()
        engine_a.dispose()
        engine_b.dispose()


def test_stream_limit_is_a_quarter_of_the_threads_unless_configured():
    assert [stream_limit(0, threads) for threads in (1, 4, 8, 16, 64)] == [1, 1, 2, 4, 16]
    assert stream_limit(0) == 4  # served some other way: as many threads as `tickethub serve` has by default
    assert stream_limit(6, 16) == 6
    with pytest.raises(ValueError, match="MAX_STREAMS"):
        stream_limit(-1, 16)


def test_stream_slots_refuse_past_the_limit_warn_once_a_minute_and_give_a_slot_back_once(caplog):
    now = [0.0]
    slots = StreamSlots(2, clock=lambda: now[0])
    first, second = slots.take(), slots.take()
    assert first is not None and second is not None and slots.open == 2
    with caplog.at_level(logging.WARNING, "hub.services.live"):
        assert slots.take() is None and slots.take() is None
        now[0] = 61.0
        assert slots.take() is None
    # the first refusal at once, then the ones since, a minute later
    assert [r.getMessage().split(" live")[0] for r in caplog.records] == ["1", "2"]
    first.release()
    first.release()  # a second release (closed twice) does not free another stream's slot
    assert slots.open == 1
    assert slots.take() is not None and slots.take() is None
