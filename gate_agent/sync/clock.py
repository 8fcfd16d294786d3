"""The gate's wall clock, shiftable for tests and drills (GATE_CLOCK_OFFSET_S), and kept
inside the protocol's window of plausible times (:class:`BoundedClock`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from common.protocol import TIME_MIN, format_utc, plausible_time

from ..config import setting_from_env

log = logging.getLogger(__name__)


def wall_clock_from_env(environ: Mapping[str, str] | None = None) -> Callable[[], float]:
    """time.time, or time.time shifted by GATE_CLOCK_OFFSET_S seconds (a gate whose clock is wrong)."""
    offset = setting_from_env("GATE_CLOCK_OFFSET_S", environ)
    if not offset:
        return bounded_clock(time.time)
    return bounded_clock(lambda: time.time() + offset)


class BoundedClock:
    """The time a gate records on its scans and sends to the hub.

    While the machine's clock reads a plausible time (common.protocol: 2000..2100) that
    is the time. Otherwise (a board without a battery-backed clock that booted in 1970
    and has no NTP yet, or a clock set absurdly far ahead) it is TIME_MIN plus the
    monotonic clock: still wrong, but inside the window, increasing, and with true
    spacing. Scans recorded and pushed in one such stretch are one consistent clock
    frame, so the hub's offset correction (hub time − sent_at) still places them at
    their real moment; the hub would refuse the raw times (time_out_of_range).
    """

    def __init__(self, clock: Callable[[], float], mono: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.mono = mono
        self._warned = False

    def __call__(self) -> float:
        now = self.clock()
        if plausible_time(now):
            self._warned = False
            return now
        if not self._warned:  # once per bad stretch, not once per scan
            self._warned = True
            log.warning(
                "the gate's clock reads %s (%r), outside the plausible window: recording "
                "2000-01-01 plus the time since boot until it is set right",
                format_utc(now),
                now,
            )
        return TIME_MIN + self.mono()


def bounded_clock(clock: Callable[[], float]) -> BoundedClock:
    return clock if isinstance(clock, BoundedClock) else BoundedClock(clock)
