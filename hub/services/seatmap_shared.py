"""Seat maps shared by every hub process through Redis (REDIS_URL): one version sequence per event.

Each process numbering its own versions would answer ``?since=V`` wrongly for a client whose
previous request went to another process behind the load balancer. So with Redis the sequence
lives there, per event:

- ``<prefix><event>`` (hash): ``epoch``, ``n``, ``status`` (one character per seat), ``layout`` (the
  layout's tag) and ``built`` (Unix time the database was read);
- ``<prefix><event>:log`` (list): the last changes, ``{"n": n, "changes": [[index, code], ...] | null}``;
- ``<prefix><event>:lock``: who is building the event now.

A process that committed a change (``SeatMaps.changed``), or that finds the shared status older
than ``max_age`` while its map is read, takes the event's lock (``SET NX PX``), reads the database,
and, when anything differs, writes the next version with its changes (under ``WATCH``) and
publishes ``"<event> <epoch>.<n>"`` on ``<prefix>changed``. Because each build reads the database
after the previous builder let go of the lock, versions follow commit order. Every process
subscribes to that channel and copies the new version (status and changes) from Redis, so all of
them serve the same versions; a process whose subscription broke looks at every event again when
it is back. ``<prefix>`` holds a hash of DATABASE_URL, so hubs on different databases sharing one
Redis never mix their maps. If Redis is unreachable a process falls back to its own sequence (its
clients reload when they move between processes) and logs it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from typing import NamedTuple

from sqlalchemy import Engine

from .seatmap import Snapshot, diff, load_layout, read_map

log = logging.getLogger(__name__)

LOCK_MS = 5_000  # a builder that died lets go after this long
KEEP_S = 7 * 24 * 3600  # an event's shared map is forgotten after a week without a build
_UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class Shared(NamedTuple):
    epoch: str
    n: int
    status: bytes
    layout: str
    built: float  # Unix time


def namespace(engine: Engine) -> str:
    url = engine.url.render_as_string(hide_password=True)
    return "tickethub:" + hashlib.sha256(url.encode()).hexdigest()[:12] + ":seatmap:"


class RedisSeatMaps:
    """The Redis side of a process's SeatMaps (``attach``): builds, shares and copies versions."""

    def __init__(self, url: str, engine: Engine, history: int = 512):
        import redis

        self._errors = redis.RedisError
        self._watch_error = redis.WatchError
        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)
        self.engine = engine
        self.history = history
        self.prefix = namespace(engine)
        self.channel = self.prefix + "changed"
        self._unlock = self.redis.register_script(_UNLOCK)
        self._store = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned_at = 0.0
        self.listening = threading.Event()  # set while the subscription is up

    def attach(self, store) -> None:
        self._store = store
        self._thread = threading.Thread(target=self._listen, name="seatmap-redis", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.redis.close()

    # -- called by the refresher --

    def refresh(self, entry, build: bool):
        """Bring the entry up to the shared version: build it first when ``build`` or when the shared
        one is older than max_age. Returns the new versions, or "busy" (another process builds)."""
        try:
            if not build:
                shared = self._read(entry.event_id)
                if shared is not None and time.time() - shared.built < self._store.max_age:
                    return self._copy(entry, shared)
            return self._build(entry)
        except self._errors as exc:
            self._warn(exc)
            return self._store.build_local(entry)

    def _build(self, entry):
        key = self.prefix + str(entry.event_id)
        token = secrets.token_hex(8)
        if not self.redis.set(key + ":lock", token, nx=True, px=LOCK_MS):
            return "busy"
        try:
            old = entry.snapshot
            layout, status, _started = read_map(
                self.engine, entry.event_id, old.layout if old is not None else None, self._store._clock
            )
            self._write(entry.event_id, layout.etag, status, time.time())
        finally:
            self._unlock(keys=[key + ":lock"], args=[token])
        return self._copy(entry, self._read(entry.event_id), layout, built=True)

    def _write(self, event_id: int, layout: str, status: bytes, built: float) -> None:
        key = self.prefix + str(event_id)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    epoch, n, old_status, old_layout = pipe.hmget(key, "epoch", "n", "status", "layout")
                    pipe.multi()
                    if old_status == status and old_layout == layout.encode():
                        pipe.hset(key, "built", built)
                    else:
                        epoch = epoch or secrets.token_hex(4).encode()
                        n = int(n or 0) + 1
                        same_layout = old_status is not None and old_layout == layout.encode()
                        changes = diff(old_status, status) if same_layout else None
                        pipe.hset(
                            key, mapping={"epoch": epoch, "n": n, "status": status, "layout": layout, "built": built}
                        )
                        pipe.rpush(key + ":log", json.dumps({"n": n, "changes": changes}, separators=(",", ":")))
                        pipe.ltrim(key + ":log", -self.history, -1)
                        pipe.expire(key + ":log", KEEP_S)
                        pipe.publish(self.channel, f"{event_id} {epoch.decode()}.{n}")
                    pipe.expire(key, KEEP_S)
                    pipe.execute()
                    return
                except self._watch_error:
                    continue

    def _read(self, event_id: int) -> Shared | None:
        epoch, n, status, layout, built = self.redis.hmget(
            self.prefix + str(event_id), "epoch", "n", "status", "layout", "built"
        )
        if epoch is None or n is None or status is None or layout is None:
            return None
        return Shared(epoch.decode(), int(n), bytes(status), layout.decode(), float(built or 0))

    def _copy(self, entry, shared: Shared | None, layout=None, built: bool = False):
        """Install the shared version in this process (with the changes that lead to it). ``built``:
        this process has just written it (another one may have written a newer one since)."""
        store = self._store
        if shared is None:
            return "busy" if built else self._build(entry)
        old = entry.snapshot
        built_at = store._clock() - max(0.0, time.time() - shared.built)
        if old is not None and (old.epoch, old.n) == (shared.epoch, shared.n):
            old.built_at = max(old.built_at, built_at)
            return []
        layout = (
            layout
            if layout is not None and layout.etag == shared.layout
            else (old.layout if old is not None and old.layout.etag == shared.layout else None)
        )
        if layout is None:
            with self.engine.connect() as conn:
                layout = load_layout(conn, entry.event_id)
            if layout.etag != shared.layout or layout.size != len(shared.status):
                # the shared map is of another layout: build it anew (or, just built, look again shortly)
                return "busy" if built else self._build(entry)
        snapshot = Snapshot(layout, shared.epoch, shared.n, shared.status, built_at)
        return store.install(entry, snapshot, self._steps(entry.event_id, old, shared, layout))

    def _steps(self, event_id: int, old: Snapshot | None, shared: Shared, layout) -> list | None:
        """[(n, changes)] from the old version to the shared one, or None when they are not all known."""
        if old is None or old.epoch != shared.epoch or old.n >= shared.n:
            return None
        if shared.n == old.n + 1 and old.layout is layout:
            return [(shared.n, diff(old.status, shared.status))]
        wanted = range(old.n + 1, shared.n + 1)
        found = {}
        for item in self.redis.lrange(self.prefix + f"{event_id}:log", -len(wanted) - 8, -1):
            record = json.loads(item)
            if record["n"] in wanted:
                found[record["n"]] = record["changes"]
        if len(found) != len(wanted) or any(found[n] is None for n in wanted):
            return None
        return [(n, found[n]) for n in wanted]

    # -- the subscription --

    def _listen(self) -> None:
        while not self._stopping.is_set():
            pubsub = None
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                self.listening.set()
                self._store.remote_changed(None)  # (re)subscribed: announcements may have been missed
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        event, _, version = message["data"].decode().partition(" ")
                        if event.isdigit():
                            self._store.remote_changed(int(event), version)
            except self._errors as exc:
                self.listening.clear()
                self._warn(exc)
                self._stopping.wait(1.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except self._errors:
                        pass
        self.listening.clear()

    def _warn(self, exc: Exception) -> None:
        if time.monotonic() - self._warned_at > 60:
            self._warned_at = time.monotonic()
            log.warning("Redis (REDIS_URL) is unreachable, seat maps fall back to this process's own versions: %s", exc)
