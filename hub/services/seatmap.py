"""Seat maps served from memory: per event a layout that rarely changes and a versioned status.

A hot event's seat map is read by thousands of viewers while it changes a few times a second,
so no viewer's read touches the database. Per event a process keeps:

- a **layout** (``Layout``): sections, rows, seat labels and each seat's index (``position``), and
  the seated ticket types with their prices. It is read again when the event's ticket types change
  or its number of seats does (both are compared on every rebuild), so venue and ticket-type edits
  reach the map with the next rebuild;
- a **snapshot** (``Snapshot``): one character per seat index (``CODES``: ``a`` available, ``h`` held,
  ``s`` sold, ``-`` not sold at this event), as computed by the one rule of services.seats, with a
  version ``<epoch>.<n>``. ``n`` grows by one each time the status changes; the epoch names the
  sequence (this process's own, or the one kept in Redis for every process), so a version from
  another sequence is never mistaken for one of ours;
- the **changes** of the last versions (``history``), for ``changes_since(V)``.

Builds happen on one refresher thread per process (``SeatMaps``), never on a reader's: after
``changed(event_id, hold_id)`` (called once a hold, order, refund or release for the event has
committed) at once, but at most every few build times of the event (``_gap``), so a sale storm
costs at most a fifth of a core. A hold or its order names its hold, and only that hold's seats
are read again (a few rows); anything else reads the whole event. While the map is being read or
streamed it is read whole again once it is older than ``max_age`` (holds that run out by time,
changes made by other processes without Redis). A reader waits for the first build, and for the
build that includes a change committed in its own process (read-your-writes); never otherwise.

With Redis (hub/services/seatmap_shared.py) the version sequence and the status live in Redis, so
every process behind a load balancer serves the same versions and answers ``?since=V`` alike.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, select

from ..schema import event_seats, ticket_types, venue_seats
from .clock import utcnow
from .errors import NotFound, ServiceError
from .event_status import check_visible
from .events import event_row
from .seats import seat_status

log = logging.getLogger(__name__)

CODES = {"available": "a", "held": "h", "sold": "s"}  # one character per seat in a status
NOT_FOR_SALE = "-"  # a venue position that is no seat of this event
STATUS_NAMES = {code: name for name, code in CODES.items()}
EXTENSION = "tickethub.seatmaps"

# A reader whose change is not built yet waits for the build at most this long, then gets what there is.
READ_WAIT_S = 10.0
MAX_GAP_S = 0.25  # the longest pause between two builds of one event while it keeps changing
GAP_BUILDS = 4  # ... else this many build times: builds take at most a fifth of the refresher's time
IDLE_EXIT_S = 30.0  # the refresher thread ends after this long without work (a new read starts it again)
EVICT_S = 600.0  # an event nobody read or streamed for this long is forgotten
FORGET_FAILED_S = 10.0  # ... and one whose builds fail, after this long
CHANGE_BYTES = 8  # about what one change costs in JSON: more changes than that are cheaper as a reload


class Unavailable(ServiceError):
    status = 503
    code = "seat_map_unavailable"


def _gzip(body: bytes) -> bytes:
    return gzip.compress(body, 6, mtime=0)


@dataclass(frozen=True)
class Body:
    """One prebuilt answer: JSON, its gzip form, and its entity tag (quoted)."""

    json: bytes
    gzip: bytes
    etag: str

    @classmethod
    def of(cls, value, tag: str) -> Body:
        data = json.dumps(value, separators=(",", ":")).encode()
        return cls(data, _gzip(data), f'"{tag}"')


# --- layout --------------------------------------------------------------------------------------

TicketTypes = tuple[tuple, ...]


def ticket_type_rows(conn: Connection, event_id: int) -> TicketTypes:
    """What of the event's ticket types the layout shows, compared on every rebuild (a few rows)."""
    rows = conn.execute(
        select(
            ticket_types.c.id, ticket_types.c.name, ticket_types.c.kind, ticket_types.c.price, ticket_types.c.sections
        )
        .where(ticket_types.c.event_id == event_id, ticket_types.c.hidden.is_(False))  # hidden: not offered
        .order_by(ticket_types.c.id)
    ).all()
    return tuple(tuple(row) for row in rows)


@dataclass(frozen=True, eq=False)
class Layout:
    """Where the event's seats are: (position, section, row, label) by position, and its seated ticket types."""

    event_id: int
    seats: tuple[tuple[int, str, str, str], ...]
    types: TicketTypes
    size: int = field(init=False)  # length of a status: the highest position + 1
    by_label: dict = field(init=False, repr=False)
    by_position: dict = field(init=False, repr=False)
    etag: str = field(init=False)
    body: Body = field(init=False, repr=False)
    sections: list = field(init=False, repr=False)  # [(section, [(row, [(position, label)])])]

    def __post_init__(self):
        put = object.__setattr__
        put(self, "size", self.seats[-1][0] + 1 if self.seats else 0)
        put(self, "by_position", {s[0]: s[1:] for s in self.seats})
        put(self, "by_label", {s[1:]: s[0] for s in self.seats})
        sections: dict[str, dict[str, list]] = {}
        for position, section, row, label in self.seats:
            sections.setdefault(section, {}).setdefault(row, []).append((position, label))
        put(self, "sections", [(name, list(rows.items())) for name, rows in sections.items()])
        document = self._document()
        put(self, "etag", hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16])
        put(self, "body", Body.of({"event_id": self.event_id, "layout": self.etag, **document}, "L" + self.etag))

    def _document(self) -> dict:
        seated = [
            {"id": t[0], "name": t[1], "price": t[3], "sections": json.loads(t[4])}
            for t in self.types
            if t[2] == "seated"
        ]
        return {
            "num_seats": len(self.seats),
            "size": self.size,
            "ticket_types": seated,
            "sections": [
                {"name": name, "rows": [_row_json(row, seats) for row, seats in rows]} for name, rows in self.sections
            ],
        }

    def template(self) -> bytearray:
        """A status with every seat of the event available."""
        status = bytearray(NOT_FOR_SALE.encode() * self.size)
        for position, *_ in self.seats:
            status[position] = ord("a")
        return status


def _row_json(name: str, seats: list[tuple[int, str]]) -> dict:
    """A row's seats; their indexes as ``first`` (seat i is first + i), or listed when not consecutive."""
    first = seats[0][0]
    row = {"name": name, "seats": [label for _position, label in seats]}
    if all(position == first + i for i, (position, _label) in enumerate(seats)):
        row["first"] = first
    else:
        row["indexes"] = [position for position, _label in seats]
    return row


def load_layout(conn: Connection, event_id: int, types: TicketTypes | None = None) -> Layout:
    """The event's layout from the database (404 event_not_found, also for a draft: services.event_status)."""
    check_visible(event_id, event_row(conn, event_id).status)
    seats = conn.execute(
        select(event_seats.c.position, venue_seats.c.section, venue_seats.c.row, venue_seats.c.label)
        .join(venue_seats, venue_seats.c.id == event_seats.c.seat_id)
        .where(event_seats.c.event_id == event_id)
        .order_by(event_seats.c.position)
    ).all()
    return Layout(
        event_id, tuple(tuple(s) for s in seats), ticket_type_rows(conn, event_id) if types is None else types
    )


def load_status(conn: Connection, layout: Layout, now: datetime) -> tuple[bytes, int] | None:
    """The status of every seat of the layout now (services.seats.seat_status), or None when the event's
    seats are no longer those of the layout (seats were added)."""
    status = bytearray(NOT_FOR_SALE.encode() * layout.size)
    rows = conn.execute(
        select(event_seats.c.position, seat_status(now)).where(event_seats.c.event_id == layout.event_id)
    ).all()
    if len(rows) != len(layout.seats):
        return None
    try:
        for position, name in rows:
            status[position] = ord(CODES[name])
    except IndexError:
        return None
    return bytes(status), len(rows)


def diff(old: bytes, new: bytes) -> list[list]:
    """[[index, code], ...] of the seats whose status differs."""
    return [[i, chr(c)] for i, (b, c) in enumerate(zip(old, new)) if b != c]


# --- snapshots -----------------------------------------------------------------------------------


@dataclass(eq=False)
class Snapshot:
    """One version of an event's seat statuses, with its answers built once, on first use."""

    layout: Layout
    epoch: str
    n: int
    status: bytes
    built_at: float  # time.monotonic() when the database was read
    _bodies: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def event_id(self) -> int:
        return self.layout.event_id

    @property
    def version(self) -> str:
        return f"{self.epoch}.{self.n}"

    @property
    def num_available(self) -> int:
        return self.status.count(b"a")

    def seat(self, position: int) -> str:
        """The status name of the seat at ``position``."""
        return STATUS_NAMES[chr(self.status[position])]

    def body(self, kind: str) -> Body:
        """The prebuilt answer ``status`` (compact) or ``seats`` (the classic seat map: every seat spelled out)."""
        found = self._bodies.get(kind)
        if found is None:
            with self._lock:
                found = self._bodies.get(kind)
                if found is None:
                    found = self._bodies[kind] = self._build(kind)
        return found

    def _build(self, kind: str) -> Body:
        common = {"event_id": self.event_id}
        if kind == "status":
            return Body.of(
                {
                    **common,
                    "version": self.version,
                    "layout": self.layout.etag,
                    "num_seats": len(self.layout.seats),
                    "num_available": self.num_available,
                    "status": self.status.decode(),
                },
                "S" + self.version,
            )
        seats = [
            {"index": p, "section": s, "row": r, "seat": label, "status": self.seat(p)}
            for p, s, r, label in self.layout.seats
        ]
        return Body.of(
            {**common, "seats": seats, "num_available": self.num_available, "num_seats": len(seats)},
            f"M{self.version}.{self.layout.etag}",
        )


def parse_version(text: str | None) -> tuple[str, int] | None:
    """``<epoch>.<n>`` as (epoch, n); None for anything else."""
    epoch, dot, n = (text or "").strip().strip('"').rpartition(".")
    if not dot or not epoch or len(epoch) > 40 or not n.isdigit() or len(n) > 18:
        return None
    return epoch, int(n)


# --- the store -----------------------------------------------------------------------------------

# (new snapshot, the version n it follows, the changes since then); (snapshot, None, None): clients must reload
Listener = Callable[[Snapshot, "int | None", "list | None"], None]


class _Entry:
    """One event's state in a process."""

    def __init__(self, event_id: int, now: float):
        self.event_id = event_id
        self.snapshot: Snapshot | None = None
        self.changes = 0  # changed() calls (and, with Redis, announcements of newer versions)
        self.built_changes = 0  # how many of them the current snapshot includes
        self.attempted = 0  # ... and the last build attempt covered (its error in .error)
        self.error: Exception | None = None
        self.local = False  # a change committed here waits to be built (with Redis: built and shared)
        self.holds: set[int] = set()  # ... only these holds' seats changed
        self.whole = False  # ... or any seat may have
        self.want_fresh = False  # a reader found the snapshot older than max_age
        self.history: deque[tuple[int, list | None]] = deque()  # (n, changes that made version n)
        self.watchers = 0  # open streams
        self.last_read = now
        self.build_seconds = 0.0  # how long the last build took
        self.last_build = 0.0  # when it started (time.monotonic())
        self.retry_at = 0.0  # not before: the last build failed, or (Redis) another process is building

    def pending(self) -> bool:
        return self.changes > self.built_changes


class SeatMaps:
    """Every seat map of one hub process (see the module's docstring). ``shared``: the Redis sequence
    (seatmap_shared.RedisSeatMaps) or None."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_age: float = 1.0,
        history: int = 512,
        shared=None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.engine = engine
        self.max_age = max_age
        self.history = history
        self.shared = shared
        self.epoch = secrets.token_hex(4)  # this process's own sequence
        self._clock = clock
        self._entries: dict[int, _Entry] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._listeners: list[Listener] = []
        if shared is not None:
            shared.attach(self)

    # -- what the routes and hooks call --

    def changed(self, event_id: int, hold_id: int | None = None) -> None:
        """A change of the event's seats has committed in this process. ``hold_id``: only the seats of
        that hold changed (it took them, or its order bought them), so only they are read again;
        None (a release, a refund, new ticket types): the whole event is."""
        with self._cond:
            entry = self._entries.get(event_id)
            if entry is None and self.shared is None:
                return  # nobody reads it here; the first read builds it
            entry = entry or self._entry(event_id)
            entry.changes += 1
            entry.local = True
            if hold_id is None:
                entry.whole = True
            else:
                entry.holds.add(hold_id)
            self._wake()

    def remote_changed(self, event_id: int | None, version: str | None = None) -> None:
        """Another process shared ``version`` of the event (Redis); None: any event may have changed."""
        parsed = parse_version(version)
        with self._cond:
            entries = list(self._entries.values()) if event_id is None else [self._entries.get(event_id)]
            for entry in filter(None, entries):
                found = entry.snapshot
                if parsed is None or found is None or found.epoch != parsed[0] or found.n < parsed[1]:
                    entry.changes += 1
            self._wake()

    def snapshot(self, event_id: int) -> Snapshot:
        """The event's current snapshot: including every change committed in this process before the call."""
        with self._cond:
            now = self._clock()
            entry = self._entries.get(event_id) or self._entry(event_id)
            entry.last_read = now
            found = entry.snapshot
            if found is not None and not entry.pending():
                if now - found.built_at >= self.max_age and not entry.want_fresh:
                    entry.want_fresh = True  # served as it is; rebuilt for the next readers
                    self._wake()
                return found
            if found is None:
                entry.changes += 1  # asks the refresher for a first build (again, after a failed one)
            target = entry.changes
            self._wake()
            deadline = now + READ_WAIT_S
            while entry.attempted < target:
                left = deadline - self._clock()
                if left <= 0 or not self._cond.wait(left):
                    break
                if self._entries.get(event_id) is not entry:
                    break  # forgotten after an error
            if entry.snapshot is not None:
                return entry.snapshot
            if isinstance(entry.error, ServiceError):
                raise entry.error
            raise Unavailable("the seat map cannot be built right now; try again shortly")

    def layout(self, event_id: int) -> Layout:
        return self.snapshot(event_id).layout

    def changes_since(self, event_id: int, since: str | None) -> tuple[Snapshot, list | None]:
        """The snapshot, and the changes from version ``since`` to it ([] when none), or None when the
        caller must reload the whole status (unknown or too old a version, or the layout changed)."""
        snapshot = self.snapshot(event_id)
        parsed = parse_version(since)
        if parsed is None or parsed[0] != snapshot.epoch or parsed[1] > snapshot.n:
            return snapshot, None
        with self._cond:
            entry = self._entries.get(event_id)
            history = list(entry.history) if entry is not None else []
        return snapshot, merge(history, parsed[1], snapshot.n, len(snapshot.layout.seats))

    def watch(self, event_id: int, delta: int) -> None:
        """A stream of the event opened (+1) or closed (-1): watched events are kept fresh without reads."""
        with self._cond:
            entry = self._entries.get(event_id)
            if entry is None:
                if delta < 0:
                    return  # forgotten meanwhile (an unknown event)
                entry = self._entry(event_id)
            entry.watchers = max(0, entry.watchers + delta)
            entry.last_read = self._clock()
            self._wake()

    def listen(self, listener: Listener) -> None:
        """Call ``listener(snapshot, since, changes)`` on the refresher thread for every new version:
        the changes from version ``since`` to it, or (None, None) when clients must reload (the layout
        changed, or the versions between are not known here)."""
        self._listeners.append(listener)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self.shared is not None:
            self.shared.close()

    # -- the refresher --

    def _entry(self, event_id: int) -> _Entry:
        entry = self._entries[event_id] = _Entry(event_id, self._clock())
        return entry

    def _wake(self) -> None:
        """Called under the lock: the refresher has something to look at."""
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="seatmap-refresher", daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def _run(self) -> None:
        idle_since = self._clock()
        while True:
            with self._cond:
                if self._closed:
                    self._thread = None
                    return
                due, wait = self._due(self._clock())
                if not due:
                    if self._clock() - idle_since > IDLE_EXIT_S and not any(
                        e.watchers or e.pending() for e in self._entries.values()
                    ):
                        self._thread = None
                        return
                    self._cond.wait(min(wait, IDLE_EXIT_S))
                    continue
            idle_since = self._clock()
            for entry in due:
                self._refresh(entry)

    def _due(self, now: float) -> tuple[list[_Entry], float]:
        """Entries to refresh now, and how long until the next one is due. Called under the lock."""
        due, wait = [], IDLE_EXIT_S
        for event_id, entry in list(self._entries.items()):
            found = entry.snapshot
            if entry.error is not None and not entry.watchers and now - entry.last_read > FORGET_FAILED_S:
                del self._entries[event_id]  # failing (database away) and nobody asks: stop trying
                continue
            if entry.pending():  # a change committed here waits a few build times; anything else is built at once
                at = entry.last_build + self._gap(entry) if entry.local and found is not None else 0.0
            elif found is not None and (entry.want_fresh or entry.watchers):
                at = found.built_at + self.max_age
            else:
                if not entry.watchers and now - entry.last_read > EVICT_S:
                    del self._entries[event_id]
                continue
            at = max(at, entry.retry_at)
            if at <= now:
                due.append(entry)
            else:
                wait = min(wait, at - now)
        return due, max(wait, 0.001)

    @staticmethod
    def _gap(entry: _Entry) -> float:
        return min(MAX_GAP_S, GAP_BUILDS * entry.build_seconds)

    def _refresh(self, entry: _Entry) -> None:
        with self._cond:
            target, local = entry.changes, entry.local
            holds = None if entry.whole or entry.want_fresh or not local else entry.holds
            entry.local = entry.want_fresh = entry.whole = False
            entry.holds = set()
        started = time.perf_counter()
        entry.last_build = self._clock()
        result, error = None, None
        try:
            if self.shared is not None:
                result = self.shared.refresh(entry, build=local or entry.snapshot is None)
            else:
                result = self.build_local(entry, holds)
        except NotFound as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - the database or Redis is away: readers get the old map
            log.warning("seat map of event %d not rebuilt: %s", entry.event_id, exc)
            error = exc
        elapsed = time.perf_counter() - started
        with self._cond:
            entry.build_seconds = elapsed
            if result == "busy":  # another process is building it (Redis): look again shortly
                entry.local = entry.local or local
                entry.whole = True
                entry.retry_at = self._clock() + 0.02
                return
            entry.retry_at = 0.0 if error is None else self._clock() + 1.0
            entry.attempted = max(entry.attempted, target)
            entry.error = error
            if error is None:
                entry.built_changes = max(entry.built_changes, target)
            else:
                entry.local = entry.local or local
                entry.whole = True
                if isinstance(error, NotFound) and self._entries.get(entry.event_id) is entry:
                    del self._entries[entry.event_id]  # unknown events leave nothing behind
            news = result if isinstance(result, list) else []
            self._cond.notify_all()
        for snapshot, since, changes in news:
            for listener in self._listeners:
                try:
                    listener(snapshot, since, changes)
                except Exception:  # noqa: BLE001 - one listener's bug must not stop the maps
                    log.exception("seat map listener failed")

    def build_local(self, entry: _Entry, holds: set[int] | None = None) -> list:
        """Read the event from the database into this process's own sequence (with ``holds``: only those
        holds' seats); returns the new versions."""
        old = entry.snapshot
        if holds is not None and old is not None and old.epoch == self.epoch:
            return self._patch(entry, old, holds)
        layout, status, built_at = read_map(
            self.engine, entry.event_id, old.layout if old is not None else None, self._clock
        )
        if old is not None and old.epoch == self.epoch and old.layout is layout and old.status == status:
            old.built_at = built_at
            return []
        if old is None or old.epoch != self.epoch:
            return self.install(entry, Snapshot(layout, self.epoch, 1, status, built_at), None)
        steps = [(old.n + 1, diff(old.status, status))] if old.layout is layout else None
        return self.install(entry, Snapshot(layout, self.epoch, old.n + 1, status, built_at), steps)

    def _patch(self, entry: _Entry, old: Snapshot, holds: set[int]) -> list:
        """A new version from the seats of ``holds`` alone (a few rows instead of the whole event): what a
        sale storm costs. Holds that ran out and other processes' changes wait for the next whole read,
        so the snapshot keeps the time of the last one (built_at)."""
        if not holds:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(event_seats.c.position, seat_status(utcnow())).where(
                    event_seats.c.event_id == entry.event_id, event_seats.c.hold_id.in_(sorted(holds))
                )
            ).all()
        status = bytearray(old.status)
        changes = []
        for position, name in rows:
            code = CODES[name]
            if position >= len(status) or status[position] == ord(NOT_FOR_SALE):
                return self.build_local(entry)  # a seat the layout does not have: read everything
            if status[position] != ord(code):
                status[position] = ord(code)
                changes.append([position, code])
        if not changes:
            return []
        changes.sort()
        return self.install(
            entry, Snapshot(old.layout, self.epoch, old.n + 1, bytes(status), old.built_at), [(old.n + 1, changes)]
        )

    def install(self, entry: _Entry, snapshot: Snapshot, steps: list | None) -> list:
        """Make ``snapshot`` the entry's; ``steps`` are [(n, changes)] from the old snapshot's version to
        it, or None when unknown (clients behind it reload). Returns [(snapshot, since, changes)] for
        the listeners (since and changes None: reload)."""
        old = entry.snapshot
        with self._cond:
            if steps is None or old is None or old.epoch != snapshot.epoch:
                entry.history.clear()
                steps = None
                entry.history.append((snapshot.n, None))
            else:
                entry.history.extend(steps)
            while len(entry.history) > self.history:
                entry.history.popleft()
            entry.snapshot = snapshot
        changes = merge(steps, old.n, snapshot.n, len(snapshot.layout.seats)) if steps is not None else None
        return [(snapshot, old.n if changes is not None else None, changes)]


def read_map(engine: Engine, event_id: int, layout: Layout | None, clock=time.monotonic) -> tuple[Layout, bytes, float]:
    """(layout, status, when it was read) from the database; ``layout`` is kept while the event's ticket
    types and seats are still those it was made of."""
    with engine.connect() as conn:
        now, started = utcnow(), clock()
        types = ticket_type_rows(conn, event_id)
        if layout is not None and layout.types != types:
            layout = None
        read = load_status(conn, layout, now) if layout is not None else None
        if read is None:
            layout = load_layout(conn, event_id, types)
            read = load_status(conn, layout, now)
        if read is None:
            raise Unavailable("the event's seats changed while its map was read; try again")
    return layout, read[0], started


def merge(history: Iterable[tuple[int, list | None]], since: int, until: int, seats: int) -> list | None:
    """The changes from version ``since`` to ``until`` as [[index, code]] sorted by index (the last code
    of each seat), or None when the history does not reach back to ``since`` or they would be longer
    than the whole status."""
    if since == until:
        return []
    merged: dict[int, str] = {}
    expected = since + 1
    for n, changes in history:
        if n <= since:
            continue
        if n != expected or changes is None:
            return None
        merged.update((index, code) for index, code in changes)
        expected += 1
    if expected != until + 1 or len(merged) * CHANGE_BYTES > max(seats, 1024):
        return None
    return [[index, merged[index]] for index in sorted(merged)]


# --- one store per app ---------------------------------------------------------------------------

_CREATE_LOCK = threading.Lock()


def seatmaps_for(app) -> SeatMaps:
    """The app's seat maps, created on first use (with Redis when REDIS_URL is set)."""
    found = app.extensions.get(EXTENSION)
    if found is None:
        with _CREATE_LOCK:
            found = app.extensions.get(EXTENSION)
            if found is None:
                found = app.extensions[EXTENSION] = make_seatmaps(app.extensions["tickethub.engine"], app.config)
    return found


def make_seatmaps(engine: Engine, config) -> SeatMaps:
    shared = None
    if config.get("REDIS_URL"):
        from .seatmap_shared import RedisSeatMaps

        shared = RedisSeatMaps(config["REDIS_URL"], engine, history=int(config["SEATMAP_HISTORY"]))
    return SeatMaps(
        engine, max_age=int(config["SEATMAP_MAX_AGE_MS"]) / 1000, history=int(config["SEATMAP_HISTORY"]), shared=shared
    )


def changed(event_id: int, app=None, hold_id: int | None = None) -> None:
    """The one hook: call after a transaction that changed the event's seats committed (hold, order,
    refund, release, ticket types); ``hold_id`` when only that hold's seats changed (a hold, its
    order). The map is rebuilt before anyone in this process reads it again."""
    from flask import current_app

    seatmaps_for(app or current_app).changed(event_id, hold_id)
