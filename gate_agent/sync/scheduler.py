"""Background sync: push about every 2 s, pull about every 5 s (APScheduler jobs).

A scan also triggers a push at once, so an admission reaches other gates within
about one pull interval.

Each job backs off exponentially with jitter while the hub is unreachable and
resets after a success. Jobs never overlap themselves, and scanning never
waits for them: they meet the scanner only in short store transactions.
Intervals: GATE_PUSH_INTERVAL_S, GATE_PULL_INTERVAL_S and the longest backoff
GATE_SYNC_MAX_BACKOFF_S (gate_agent/config.py SETTINGS; tests use fractions of a second).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from ..config import SETTING, setting_from_env
from .client import DeviceRevoked, SyncClient, SyncError

log = logging.getLogger(__name__)

DEFAULT_PUSH_INTERVAL_S = SETTING["GATE_PUSH_INTERVAL_S"].default
DEFAULT_PULL_INTERVAL_S = SETTING["GATE_PULL_INTERVAL_S"].default
MAX_BACKOFF_S = SETTING["GATE_SYNC_MAX_BACKOFF_S"].default


@dataclass
class Backoff:
    """Exponential backoff with full jitter, on the monotonic clock."""

    base_s: float
    max_s: float = MAX_BACKOFF_S
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0
    not_before: float = 0.0

    def ready(self) -> bool:
        return self.clock() >= self.not_before

    def succeeded(self) -> None:
        self.failures = 0
        self.not_before = 0.0

    def failed(self) -> float:
        self.failures += 1
        delay = min(self.max_s, self.base_s * 2 ** min(self.failures, 16))
        delay = self.rng.uniform(delay / 2, delay)
        self.not_before = self.clock() + delay
        return delay


def intervals_from_env(environ: Mapping[str, str] | None = None) -> tuple[float, float, float]:
    """(push, pull, longest backoff) in seconds, from the GATE_* variables."""
    return tuple(
        setting_from_env(name, environ)
        for name in ("GATE_PUSH_INTERVAL_S", "GATE_PULL_INTERVAL_S", "GATE_SYNC_MAX_BACKOFF_S")
    )


class SyncScheduler:
    def __init__(
        self,
        client: SyncClient,
        push_interval_s: float = DEFAULT_PUSH_INTERVAL_S,
        pull_interval_s: float = DEFAULT_PULL_INTERVAL_S,
        max_backoff_s: float = MAX_BACKOFF_S,
        on_change: Callable[[], None] | None = None,
    ):
        self.client = client
        self.on_change = on_change  # e.g. refresh the door page's badge
        self._last_summary: dict | None = None
        self.gate = None  # set by start_sync: the gate whose scans trigger a push
        self.push_interval_s = push_interval_s
        self.pull_interval_s = pull_interval_s
        self.push_backoff = Backoff(push_interval_s, max_backoff_s)
        self.pull_backoff = Backoff(pull_interval_s, max_backoff_s)
        self.revoked = threading.Event()
        self._scheduler = BackgroundScheduler(daemon=True, timezone="UTC")

    def start(self) -> SyncScheduler:
        for job_id, fn, interval in (
            ("push", self.push_job, self.push_interval_s),
            ("pull", self.pull_job, self.pull_interval_s),
        ):
            self._scheduler.add_job(
                fn, "interval", seconds=interval, id=job_id, max_instances=1, coalesce=True, next_run_time=None
            )
        self._scheduler.start()
        # first runs right away (pull first: it brings the configuration and other gates' admissions)
        self._scheduler.modify_job("pull", next_run_time=_now())
        self._scheduler.modify_job("push", next_run_time=_now())
        return self

    def push_soon(self, _result=None) -> None:
        """Push now rather than at the next tick (called after each scan): an admission
        reaches the hub at once, so other gates learn it within one pull interval."""
        if self._scheduler.running and not self.revoked.is_set():
            try:
                self._scheduler.modify_job("push", next_run_time=_now())
            except JobLookupError:
                pass

    def stop(self) -> None:
        if self.gate is not None:
            self.gate.unsubscribe(self.push_soon)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self.client.close()

    def push_job(self) -> None:
        self._run("push", self.client.push_once, self.push_backoff)

    def pull_job(self) -> None:
        self._run("pull", self.client.pull_once, self.pull_backoff)

    def _run(self, name: str, op: Callable, backoff: Backoff) -> None:
        if self.revoked.is_set() or not backoff.ready():
            return
        try:
            self._step(name, op, backoff)
        finally:
            self._notify()

    def _notify(self) -> None:
        """Tell the door page when online / backlog / last sync / revoked changed."""
        if self.on_change is None:
            return
        try:
            summary = self.client.store.sync_summary(self.client.wall_clock())
            if summary != self._last_summary:
                self._last_summary = summary
                self.on_change()
        except Exception:
            log.exception("could not refresh the door page")

    def _step(self, name: str, op: Callable, backoff: Backoff) -> None:
        try:
            result = op()
        except DeviceRevoked as exc:
            log.error("%s", exc)
            self.revoked.set()
            return
        except SyncError as exc:
            delay = backoff.failed()
            log.warning("%s failed (%s); next try in %.1f s", name, exc, delay)
            return
        except Exception:  # a bug or a bad document: keep scanning, try again later
            delay = backoff.failed()
            log.exception("%s failed unexpectedly; next try in %.1f s", name, delay)
            return
        backoff.succeeded()
        log.debug("%s ok: %s", name, result)


def _now():
    from datetime import datetime

    return datetime.now(UTC)


def start_sync(
    gate,
    environ: Mapping[str, str] | None = None,
    on_change: Callable[[], None] | None = None,
    peer_port: int | None = None,
) -> SyncScheduler | None:
    """Start background sync for a running gate whose data folder is enrolled; else None."""
    from .identity import is_enrolled

    if not is_enrolled(gate.data.data_dir):
        log.info("this gate is not enrolled with a hub: running offline only")
        return None
    push_s, pull_s, max_backoff_s = intervals_from_env(environ)
    client = SyncClient(gate.data.data_dir, gate.store, gate, wall_clock=gate.wall_clock)
    client.peer_port = peer_port  # the hub lists it to the event's other gates
    log.info("syncing with %s (push every %.1f s, pull every %.1f s)", client.identity.hub_url, push_s, pull_s)
    scheduler = SyncScheduler(client, push_s, pull_s, max_backoff_s, on_change).start()
    gate.subscribe(scheduler.push_soon)
    scheduler.gate = gate
    return scheduler
