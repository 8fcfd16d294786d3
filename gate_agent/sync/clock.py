"""The gate's wall clock, shiftable for tests and drills (GATE_CLOCK_OFFSET_S)."""
from __future__ import annotations

import os
import time
from typing import Callable, Mapping

CLOCK_OFFSET_ENV = "GATE_CLOCK_OFFSET_S"


def wall_clock_from_env(environ: Mapping[str, str] | None = None) -> Callable[[], float]:
    """time.time, or time.time shifted by GATE_CLOCK_OFFSET_S seconds (a gate whose clock is wrong)."""
    raw = (os.environ if environ is None else environ).get(CLOCK_OFFSET_ENV, "").strip()
    if not raw:
        return time.time
    try:
        offset = float(raw)
    except ValueError:
        raise ValueError(f"{CLOCK_OFFSET_ENV} must be a number of seconds, got {raw!r}") from None
    return lambda: time.time() + offset
