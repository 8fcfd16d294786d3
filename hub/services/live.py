"""Live attendance updates: "event N changed" pings from a sync to every open dashboard.

The notifiers share one interface (``publish(event_id)`` / ``subscribe()``):

- ``LocalNotifier``: in-process fan-out, one queue per subscriber;
  ``SqliteNotifier`` adds a poller of the scan counter for syncs committed by
  other hub processes on the same SQLite file.
- ``PostgresNotifier``: ``NOTIFY tickethub_attendance, '<event_id>'`` after the
  sync transaction commits, and one dedicated ``LISTEN`` connection per process
  that feeds a LocalNotifier. Every hub process on the database hears every
  sync, so a browser connected to any process sees it (its own publishes come
  back through the listener too, so nothing is delivered twice).

Pings carry only the event id: the page fetches fresh figures itself, so a
missed or merged ping costs nothing but a refresh.

``StreamSlots`` caps the streams open at once in a process. Under waitress an
open stream holds a worker thread for its whole life (waitress iterates a
response on a task thread and has no way to hand a socket to an event loop), so
without a cap a room of dashboards would take every thread and stop sales and
gate sync. Streams past the cap are refused at once and the page tries again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable
from typing import Protocol

log = logging.getLogger(__name__)

CHANNEL = "tickethub_attendance"
ANY_EVENT = -1  # a ping meaning "refresh whatever you show" (e.g. the listener reconnected)
EXTENSION = "tickethub.live"
SLOTS_EXTENSION = "tickethub.live_slots"


class Subscription:
    """One subscriber's queue of changed event ids. Use as a context manager."""

    def __init__(self, hub: LocalNotifier):
        self._hub = hub
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.closed = False  # the notifier shut down: stop reading

    def put(self, event_id: int | None) -> None:
        self._queue.put(event_id)

    def get(self, timeout: float) -> int | None:
        """The next changed event id; None after ``timeout`` seconds or when the notifier closed."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self) -> list[int]:
        """Every id already queued (to merge a burst of pings into one)."""
        found = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return found
            if item is not None:
                found.append(item)

    def close(self) -> None:
        self._hub._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


class Notifier(Protocol):
    def publish(self, event_ids: Iterable[int], conn=None) -> None: ...

    def subscribe(self) -> Subscription: ...

    def close(self) -> None: ...


class LocalNotifier:
    """Fans pings out to the subscribers of this process. Never blocks the publisher."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()
        self.closed = False

    def publish(self, event_ids: Iterable[int], conn=None) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for event_id in set(event_ids):
            for sub in subscribers:
                sub.put(int(event_id))

    def subscribe(self) -> Subscription:
        sub = Subscription(self)
        with self._lock:
            if self.closed:
                sub.closed = True
                sub.put(None)
            else:
                self._subscribers.add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def close(self) -> None:
        """Wake every subscriber with None (server shutdown)."""
        with self._lock:
            self.closed = True
            subscribers, self._subscribers = list(self._subscribers), set()
        for sub in subscribers:
            sub.closed = True
            sub.put(None)


class PostgresNotifier:
    """NOTIFY on publish; a per-process LISTEN thread (started by the first subscriber)
    hands pings to local subscribers."""

    def __init__(self, engine, reconnect_s: float = 1.0):
        self._engine = engine
        self._local = LocalNotifier()
        self._reconnect_s = reconnect_s
        self._thread: threading.Thread | None = None
        self._started = threading.Lock()
        self._stopping = threading.Event()
        self.listening = threading.Event()  # set while the LISTEN connection is up

    def publish(self, event_ids: Iterable[int], conn=None) -> None:
        """NOTIFY once per event. With ``conn`` inside a transaction, PostgreSQL delivers
        at its commit; otherwise at once (its own short transaction)."""
        from sqlalchemy import text

        ids = sorted({int(e) for e in event_ids})
        if not ids:
            return
        statement = text("SELECT pg_notify(:channel, :payload)")
        params = [{"channel": CHANNEL, "payload": str(e)} for e in ids]
        if conn is not None and conn.in_transaction():
            for p in params:
                conn.execute(statement, p)
            return
        with self._engine.begin() as own:
            for p in params:
                own.execute(statement, p)

    def subscribe(self) -> Subscription:
        sub = self._local.subscribe()  # first, so it hears the listener's "connected" ping
        self._ensure_listener()
        return sub

    def _ensure_listener(self) -> None:
        with self._started:
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(target=self._listen_forever, name="attendance-listener", daemon=True)
                self._thread.start()

    def _listen_forever(self) -> None:
        import psycopg

        url = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stopping.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self._local.publish([ANY_EVENT])  # (re)connected: pings may have been missed
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=0.5):
                            if note.payload.isdigit():
                                self._local.publish([int(note.payload)])
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("attendance listener lost its connection (%s); reconnecting", exc)
                self._stopping.wait(self._reconnect_s)
        self.listening.clear()

    def close(self) -> None:
        self._stopping.set()
        self._local.close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class SqliteNotifier(LocalNotifier):
    """In-process pings at once, plus syncs committed by other processes on the same database
    file (`tickethub serve --workers N`): a thread, started by the first subscriber, polls the
    scan counter and pings the events of the new scans. SQLite has no NOTIFY; one indexed
    read per interval is cheap. A sync seen both ways pings twice; the page merges pings."""

    def __init__(self, engine, poll_s: float = 0.5):
        super().__init__()
        self._engine = engine
        self._poll_s = poll_s
        self._thread: threading.Thread | None = None
        self._started = threading.Lock()
        self._stopping = threading.Event()

    def subscribe(self) -> Subscription:
        sub = super().subscribe()
        with self._started:
            if self._thread is None and not self.closed:
                self._thread = threading.Thread(target=self._poll_forever, name="attendance-poller", daemon=True)
                self._thread.start()
        return sub

    def _poll_forever(self) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        last = None
        while not self._stopping.is_set():
            try:
                with self._engine.connect() as conn:
                    last, changed = _scans_since(conn, last)
                self.publish(changed)
            except SQLAlchemyError as exc:
                log.warning("attendance poller could not read the database: %s", exc)
            self._stopping.wait(self._poll_s)

    def close(self) -> None:
        self._stopping.set()
        super().close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _scans_since(conn, last: int | None) -> tuple[int, set[int]]:
    """The scan counter now, and the events with scans after ``last`` (ANY_EVENT on the first
    read: whatever happened before it may have been missed)."""
    from sqlalchemy import func, select

    from ..schema import counters
    from ..schema_devices import SCAN_COUNTER, devices, gate_scans

    now = conn.execute(select(counters.c.value).where(counters.c.name == SCAN_COUNTER)).scalar() or 0
    if last is None:
        return now, {ANY_EVENT}
    if now <= last:
        return now, set()
    rows = conn.execute(
        select(func.coalesce(gate_scans.c.event_id, devices.c.event_id))
        .distinct()
        .join(devices, devices.c.id == gate_scans.c.device_id)
        .where(gate_scans.c.hub_seq > last, gate_scans.c.hub_seq <= now)
    ).scalars()
    return now, {e for e in rows if e is not None}


SERVER_THREADS = 16  # `tickethub serve --threads` default; assumed when the app is served some other way


def stream_limit(configured: int, threads: int = SERVER_THREADS) -> int:
    """Streams a process may hold open: MAX_STREAMS, or (0) a quarter of its ``threads``, at least
    one. The rest of the pool stays free for sales, sync and pages whatever the dashboards do."""
    if configured < 0:
        raise ValueError(f"MAX_STREAMS must be 0 (a quarter of the server's threads) or more, not {configured}")
    return configured or max(1, threads // 4)


class StreamSlots:
    """At most ``limit`` live streams open at once in this process; ``take()`` says None past it."""

    REFUSAL_LOG_INTERVAL_S = 60.0  # a full room retries every few seconds: warn once a minute, not each time

    def __init__(self, limit: int, clock=time.monotonic):
        self.limit = limit
        self._open = 0
        self._lock = threading.Lock()
        self._clock = clock
        self._refused = 0
        self._warned_at: float | None = None

    @property
    def open(self) -> int:
        return self._open

    def take(self) -> StreamSlot | None:
        with self._lock:
            if self._open < self.limit:
                self._open += 1
                return StreamSlot(self)
            self._refused += 1
            refused = self._refusals_to_report()
        if refused:
            log.warning(
                "%d live stream(s) refused: all %d stream slots of this process are open "
                "(MAX_STREAMS; each open stream holds a server thread)",
                refused,
                self.limit,
            )
        return None

    def _give_back(self) -> None:
        with self._lock:
            self._open -= 1

    def _refusals_to_report(self) -> int:
        """Refusals since the last warning, when one is due (else 0). Called under the lock."""
        now = self._clock()
        if self._warned_at is not None and now - self._warned_at < self.REFUSAL_LOG_INTERVAL_S:
            return 0
        refused, self._warned_at, self._refused = self._refused, now, 0
        return refused


class StreamSlot:
    """One open stream's place; ``release()`` gives it back (once, however often it is called)."""

    def __init__(self, slots: StreamSlots):
        self._slots = slots
        self._released = False
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._slots._give_back()


def slots_for(app) -> StreamSlots:
    """The app's stream slots, created on first use from MAX_STREAMS (`tickethub serve` sets it
    from its thread count)."""
    found = app.extensions.get(SLOTS_EXTENSION)
    if found is None:
        with _CREATE_LOCK:
            found = app.extensions.get(SLOTS_EXTENSION)
            if found is None:
                found = app.extensions[SLOTS_EXTENSION] = StreamSlots(stream_limit(int(app.config["MAX_STREAMS"])))
    return found


def make_notifier(engine) -> LocalNotifier | PostgresNotifier:
    return PostgresNotifier(engine) if engine.dialect.name == "postgresql" else SqliteNotifier(engine)


def notifier_for(app) -> LocalNotifier | PostgresNotifier:
    """The app's notifier, created on first use."""
    found = app.extensions.get(EXTENSION)
    if found is None:
        with _CREATE_LOCK:
            found = app.extensions.get(EXTENSION)
            if found is None:
                found = app.extensions[EXTENSION] = make_notifier(app.extensions["tickethub.engine"])
    return found


_CREATE_LOCK = threading.Lock()
