"""The on-sale waiting room: a fair queue in front of an event's holds, turned on per event.

While an event's waiting room is on (events.waiting_room), a hold needs an admission token, and
buyers get one by queueing:

- Joining hands out a queue ticket carrying the next number of the event's queue
  (waiting_rooms.entries), signed with the hub's SECRET_KEY (itsdangerous, HMAC-SHA256), so any
  hub process checks it without the database. A browser keeps its ticket in its session: a
  reload keeps the place, a new session goes to the back.
- Fair start: everyone who joined before the release (events.ticket_release_at) is given a place
  drawn when the release passes: positions 1..P in the order of a keyed hash (BLAKE2b) of their
  ticket numbers under a random key chosen then (`shuffle_key`). Joining an hour early is worth
  no more than a minute early, and nobody can predict or pick a place. Later arrivals queue
  behind them in the order they came (their position is their ticket number).
- Admission: positions 1..`admitted` are let in. `admitted` grows at the event's
  `admit_per_minute` from the release on, counted up to `admitted_at`, and never past the number
  of tickets handed out, so a quiet spell banks no burst of admissions for later.
- A waiting client's status (position, people ahead, estimated wait, when to ask again) is
  computed from its ticket and this process's copy of the queue state (QueueStates), read from
  the database at most once a second: no database work per status request.
- Being let in is written once per ticket (waiting_room_admissions): the admission lasts
  QUEUE_ADMISSION_TTL_SECONDS from then however often the buyer asks again, and its token carries
  that expiry and is checked, like the ticket, by its signature alone.

The shared state lives in database rows (SQLite or PostgreSQL; no Redis needed). Services take
`now`, so tests pin the clock.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import time
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError

from ..db import atomic, is_sqlite, retrying
from ..schema import events
from ..schema_queue import waiting_room_admissions, waiting_rooms
from .clock import iso, utcnow
from .errors import Conflict, Forbidden, NotFound
from .events import event_row

log = logging.getLogger(__name__)

TICKET_SALT = "tickethub.queue-ticket"
ADMISSION_SALT = "tickethub.queue-admission"
MIN_POLL_SECONDS = 2  # how soon a client near the front asks again
FAR_POLL_SECONDS = 30  # how long a client far back waits between questions in a short queue


@dataclass(frozen=True)
class QueueState:
    """One event's queue as of one database read (see the module docstring for the fields)."""

    event_id: int
    title: str
    on: bool
    release_at: datetime
    admit_per_minute: int
    entries: int = 0
    pre_release: int | None = None  # None: the release has not passed yet, places not drawn
    shuffle_key: str | None = None
    admitted: int = 0

    @property
    def drawn(self) -> bool:
        """Whether the places of the early arrivals have been drawn (the release has passed)."""
        return self.pre_release is not None

    @property
    def waiting(self) -> int:
        return max(0, self.entries - self.admitted)

    def public(self, now: datetime) -> dict:
        """What anyone may see of the queue: how long it is and how fast it moves."""
        return {
            "event_id": self.event_id,
            "waiting_room": self.on,
            "release_at": iso(self.release_at),
            "released": now >= self.release_at,
            "admit_per_minute": self.admit_per_minute,
            "entries": self.entries,
            "admitted": min(self.admitted, self.entries),
            "waiting": self.waiting,
        }


def _state(event, room) -> QueueState:
    fields = {} if room is None else {k: room[k] for k in ("entries", "pre_release", "shuffle_key", "admitted")}
    return QueueState(
        event_id=event.id,
        title=event.title,
        on=bool(event.waiting_room),
        release_at=event.ticket_release_at,
        admit_per_minute=event.admit_per_minute,
        **fields,
    )


# --- signed tickets and admission tokens ---------------------------------------------------------


def _serializer(secret: str, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=salt, signer_kwargs={"digest_method": hashlib.sha256})


def _signed_ints(secret: str, salt: str, token: str | None, count: int) -> list[int] | None:
    """The list of `count` integers the token carries, or None when it is forged, mangled or not one."""
    if not token or not isinstance(token, str) or len(token) > 500:
        return None
    try:
        data = _serializer(secret, salt).loads(token)
    except (BadSignature, UnicodeError, ValueError):
        return None
    if not (
        isinstance(data, list)
        and len(data) == count
        and all(isinstance(v, int) and not isinstance(v, bool) for v in data)
    ):
        return None
    return data


def issue_ticket(secret: str, event_id: int, seq: int) -> str:
    return _serializer(secret, TICKET_SALT).dumps([event_id, seq])


def ticket_number(secret: str, event_id: int, ticket: str | None) -> int | None:
    """The queue number a genuine ticket of this event carries, else None."""
    data = _signed_ints(secret, TICKET_SALT, ticket, 2)
    if data is None or data[0] != event_id or data[1] < 1:
        return None
    return data[1]


def admission_problem(secret: str, event_id: int, token: str | None, now: datetime) -> str | None:
    """Why `token` does not let its bearer hold tickets of the event now (None: it does)."""
    if not token:
        return (
            "Tickets for this event are sold through a waiting room: join the queue, and when it is "
            "your turn use the admission it gives you."
        )
    data = _signed_ints(secret, ADMISSION_SALT, token, 3)
    if data is None or data[0] != event_id:
        return "This admission is not valid for this event: join the queue to get one."
    if data[2] <= now.timestamp():
        return "Your admission has expired: join the queue again."
    return None


def check_admission(
    conn: Connection, event_id: int, token: str | None, secret: str, now: datetime | None = None
) -> None:
    """Refuse (403 queue_admission_required) a hold without a live admission while the event's
    waiting room is on. An unknown event passes: the hold itself answers 404."""
    on = conn.execute(select(events.c.waiting_room).where(events.c.id == event_id)).scalar_one_or_none()
    if not on:
        return
    problem = admission_problem(secret, event_id, token, now or utcnow())
    if problem:
        raise Forbidden(problem, "queue_admission_required")


# --- the shared state -----------------------------------------------------------------------------


def _locked_room(conn: Connection, event_id: int):
    """The event's waiting_rooms row, created on first use, locked until the transaction ends."""
    query = select(waiting_rooms).where(waiting_rooms.c.event_id == event_id).with_for_update()
    room = conn.execute(query).mappings().first()
    if room is None:
        insert_ = sqlite_insert if is_sqlite(conn) else postgresql_insert
        conn.execute(insert_(waiting_rooms).values(event_id=event_id, entries=0, admitted=0).on_conflict_do_nothing())
        room = conn.execute(query).mappings().one()
    return room


def _advanced(room, event, now: datetime, shuffle_key: str | None = None) -> dict:
    """The room row's changes at `now`: the early arrivals' places drawn once the release has passed,
    then admission counted on at the event's rate up to the number of tickets handed out."""
    if not event.waiting_room or now < event.ticket_release_at:
        return {}
    changes: dict = {}
    since = room["admitted_at"]
    if room["pre_release"] is None:
        changes.update(pre_release=room["entries"], shuffle_key=shuffle_key or secrets.token_hex(16))
        since = event.ticket_release_at
    since = since or now
    rate, admitted, entries = event.admit_per_minute, room["admitted"], room["entries"]
    gained = int((now - since).total_seconds() * rate // 60) if rate and now > since else 0
    if admitted + gained >= entries:
        admitted, since = entries, max(since, now)  # nobody is left waiting: nothing is banked for later
    elif gained:
        admitted += gained
        since += timedelta(seconds=gained * 60 / rate)  # the part of an admission not yet earned is kept
    elif not rate:
        since = max(since, now)  # paused: the pause banks nothing either
    if admitted != room["admitted"]:
        changes["admitted"] = admitted
    if since != room["admitted_at"]:
        changes["admitted_at"] = since
    return changes


def _save(conn: Connection, event_id: int, changes: dict) -> None:
    if changes:
        conn.execute(update(waiting_rooms).where(waiting_rooms.c.event_id == event_id).values(**changes))


def queue_state(
    conn: Connection, event_id: int, now: datetime | None = None, shuffle_key: str | None = None
) -> QueueState:
    """The event's queue at `now`, brought up to date in the database (404 event_not_found).

    Before the release (or with the waiting room off) this only reads. Once the release has passed
    it draws the early arrivals' places (with `shuffle_key`, hex; tests give one, else random) and
    counts admission on, under the room's row lock so every process counts the same.
    """
    now = now or utcnow()
    event = event_row(conn, event_id)
    if not event.waiting_room or now < event.ticket_release_at:
        room = conn.execute(select(waiting_rooms).where(waiting_rooms.c.event_id == event_id)).mappings().first()
        return _state(event, room)

    def attempt() -> QueueState:
        with atomic(conn):
            current = event_row(conn, event_id)
            room = _locked_room(conn, event_id)
            changes = _advanced(room, current, now, shuffle_key)
            _save(conn, event_id, changes)
        return _state(current, {**room, **changes})

    return retrying(attempt)


def join(conn: Connection, event_id: int, secret: str, now: datetime | None = None) -> tuple[str, QueueState]:
    """A new place at the back of the event's queue: (signed queue ticket, the queue state after it).

    409 waiting_room_off when the event has no waiting room (its tickets are on sale directly).
    """
    now = now or utcnow()

    def attempt() -> tuple[int, QueueState]:
        with atomic(conn):
            event = event_row(conn, event_id)
            if not event.waiting_room:
                raise Conflict(f"event {event_id} has no waiting room: hold tickets directly", "waiting_room_off")
            room = _locked_room(conn, event_id)
            changes = _advanced(room, event, now)  # drawn and counted before the new place is added
            seq = room["entries"] + 1
            _save(conn, event_id, {**changes, "entries": seq})
        return seq, _state(event, {**room, **changes, "entries": seq})

    seq, state = retrying(attempt)
    return issue_ticket(secret, event_id, seq), state


def admit(
    conn: Connection, event_id: int, seq: int, secret: str, ttl_seconds: int, now: datetime | None = None
) -> tuple[dict, QueueState]:
    """Let queue ticket `seq` in once its turn has come: ({admission_token, expires_at, position},
    queue state). The admission lasts `ttl_seconds` from the first time it was given.

    409 queue_not_your_turn (not yet), queue_admission_expired (the turn is over: join again),
    waiting_room_off.
    """
    now = now or utcnow()

    def attempt():
        with atomic(conn):
            event = event_row(conn, event_id)
            if not event.waiting_room:
                return None, None, _state(event, None)
            room = _locked_room(conn, event_id)
            changes = _advanced(room, event, now)
            _save(conn, event_id, changes)
            state = _state(event, {**room, **changes})
            place = position(state, seq)
            if place is None or place > state.admitted or seq > state.entries:
                return place, None, state
            key = (waiting_room_admissions.c.event_id == event_id) & (waiting_room_admissions.c.seq == seq)
            admitted_at = conn.execute(select(waiting_room_admissions.c.admitted_at).where(key)).scalar_one_or_none()
            if admitted_at is None:
                admitted_at = now
                conn.execute(insert(waiting_room_admissions).values(event_id=event_id, seq=seq, admitted_at=now))
        return place, admitted_at, state

    place, admitted_at, state = retrying(attempt)
    if not state.on:
        raise Conflict(f"event {event_id} has no waiting room: hold tickets directly", "waiting_room_off")
    if admitted_at is None:
        raise Conflict(
            "It is not your turn yet: keep your place and ask again when your status says so.", "queue_not_your_turn"
        )
    expires = admitted_at + timedelta(seconds=ttl_seconds)
    if expires <= now:
        raise Conflict(
            f"Your turn came at {iso(admitted_at)} and your time to buy is over: join the queue again (at the back).",
            "queue_admission_expired",
        )
    token = _serializer(secret, ADMISSION_SALT).dumps([event_id, seq, math.floor(expires.timestamp())])
    return {"admission_token": token, "expires_at": iso(expires.replace(microsecond=0)), "position": place}, state


def admissions_given(conn: Connection, event_id: int) -> int:
    """How many queue tickets have been let in (for the organizer's page)."""
    return conn.execute(
        select(func.count()).select_from(waiting_room_admissions).where(waiting_room_admissions.c.event_id == event_id)
    ).scalar_one()


# --- positions and status -------------------------------------------------------------------------

_draws: OrderedDict[tuple[str, int], array] = OrderedDict()
_draws_lock = threading.Lock()


def _drawn_positions(shuffle_key: str, count: int) -> array:
    """positions[n - 1] = the place drawn for early ticket n: ticket numbers 1..count ordered by their
    keyed BLAKE2b hash. Computed once per process and kept (0.1 s for 100,000 tickets, about a second
    for a million); QueueStates computes it before it shows a drawn state to other requests."""
    found = _draws.get((shuffle_key, count))  # a dict read needs no lock
    if found is not None:
        return found
    with _draws_lock:  # one thread computes while the others wait for it, instead of all computing
        found = _draws.get((shuffle_key, count))
        if found is not None:
            return found
        key = bytes.fromhex(shuffle_key)
        digests = [hashlib.blake2b(n.to_bytes(8, "big"), key=key, digest_size=16).digest() for n in range(1, count + 1)]
        positions = array("q", bytes(8 * count))
        for place, index in enumerate(sorted(range(count), key=digests.__getitem__), start=1):
            positions[index] = place
        _draws[(shuffle_key, count)] = positions
        while len(_draws) > 16:
            _draws.popitem(last=False)
        return positions


def position(state: QueueState, seq: int) -> int | None:
    """Ticket `seq`'s place in the queue (1 is let in first); None until the places are drawn."""
    if state.pre_release is None:
        return None
    if seq > state.pre_release:
        return seq
    return _drawn_positions(state.shuffle_key, state.pre_release)[seq - 1]


def _spread(seq: int) -> float:
    """A fixed fraction in [0, 1) per ticket (Knuth's multiplicative hash): spreads the clients'
    questions evenly over time instead of letting them all ask at once."""
    return ((seq * 2654435761) % 2**32) / 2**32


def queue_status(state: QueueState, seq: int, now: datetime, poll_budget: int) -> dict:
    """What ticket `seq` is told: waiting (position, people ahead, estimated wait), admitted, or off
    (no waiting room: go straight to the event). `poll_after_seconds` says when to ask again: soon
    near the front, seldom far back, so the whole queue asks about `poll_budget` times a second."""
    out = {
        "event_id": state.event_id,
        "status": "waiting",
        "position": None,
        "ahead": None,
        "estimated_wait_seconds": None,
        "release_at": iso(state.release_at),
        "released": now >= state.release_at,
        "poll_after_seconds": None,
    }
    if not state.on:
        return {**out, "status": "off"}
    place = position(state, seq)
    far = max(FAR_POLL_SECONDS, state.waiting / max(1, poll_budget))
    if place is None:  # before the release
        until = max(0.0, (state.release_at - now).total_seconds())
        if until <= far:  # soon: everyone asks once more, spread over the moments after it, not all at once
            spread = state.entries / max(1, poll_budget)
            return {**out, "poll_after_seconds": _clamp(until + _spread(seq) * spread, until + spread)}
        # later: check in now and then (the event may change), spread out as well
        return {**out, "poll_after_seconds": _clamp(far * (0.8 + 0.2 * _spread(seq)), far)}
    if place <= state.admitted:
        return {**out, "status": "admitted", "position": place, "ahead": 0, "estimated_wait_seconds": 0}
    rate = state.admit_per_minute
    wait = math.ceil((place - state.admitted) * 60 / rate) if rate else None
    target = (wait / 2 if wait is not None else far) * (0.9 + 0.2 * _spread(seq))
    return {
        **out,
        "position": place,
        "ahead": place - state.admitted - 1,
        "estimated_wait_seconds": wait,
        "poll_after_seconds": _clamp(target, far),
    }


def _clamp(seconds: float, longest: float) -> int:
    return math.ceil(max(min(seconds, longest), MIN_POLL_SECONDS))


# --- this process's copy of the state -------------------------------------------------------------


class _Slot:
    __slots__ = ("lock", "read_at", "state")

    def __init__(self):
        self.lock = threading.Lock()
        self.read_at = -math.inf  # time.monotonic() of the read
        self.state: QueueState | None = None  # None: no such event


class QueueStates:
    """Each event's queue state as this process knows it, read from the database at most once per
    `max_age` seconds per event: one request thread reads while the others answer from the copy
    they have (a second old at most), so a crowd of queue-status requests costs no database work."""

    def __init__(self, engine: Engine, max_age: float = 1.0, size: int = 1024):
        self._engine, self._max_age, self._size = engine, max_age, size
        self._slots: OrderedDict[int, _Slot] = OrderedDict()
        self._lock = threading.Lock()

    def _slot(self, event_id: int) -> _Slot:
        with self._lock:
            slot = self._slots.get(event_id)
            if slot is None:
                slot = self._slots[event_id] = _Slot()
                while len(self._slots) > self._size:
                    self._slots.popitem(last=False)
            return slot

    def get(self, event_id: int, now: datetime | None = None) -> QueueState:
        """The event's queue state, at most `max_age` seconds old (404 event_not_found)."""
        slot = self._slot(event_id)
        if time.monotonic() - slot.read_at >= self._max_age:
            known = slot.read_at > -math.inf
            if slot.lock.acquire(blocking=not known):  # someone else is reading: answer from the copy
                try:
                    if time.monotonic() - slot.read_at >= self._max_age:
                        self._read(slot, event_id, now, known)
                finally:
                    slot.lock.release()
        if slot.state is None:
            raise NotFound(f"no event {event_id}", "event_not_found")
        return slot.state

    def _read(self, slot: _Slot, event_id: int, now: datetime | None, known: bool) -> None:
        try:
            with self._engine.connect() as conn:
                state = queue_state(conn, event_id, now)
        except NotFound:
            state = None
        except OperationalError:
            if not known:
                raise
            log.warning(
                "waiting room of event %s: the database is unavailable; answering from the last copy",
                event_id,
                exc_info=True,
            )
            return
        slot.state, slot.read_at = _drawn_ahead(state), time.monotonic()

    def forget(self, event_id: int) -> None:
        """Read the event's state again at its next use (its organizer just changed it)."""
        self._slot(event_id).read_at = -math.inf

    def put(self, state: QueueState) -> None:
        """Keep a state just read or written by a request (a join, an admission) as this process's copy."""
        slot = self._slot(state.event_id)
        slot.state, slot.read_at = _drawn_ahead(state), time.monotonic()


def _drawn_ahead(state: QueueState | None) -> QueueState | None:
    """The state, once the places it has drawn are computed: the thread that brings the news of the
    draw computes them, while the other requests still answer from the state before it (places not
    drawn yet) instead of all waiting for the computation."""
    if state is not None and state.pre_release:
        _drawn_positions(state.shuffle_key, state.pre_release)
    return state
