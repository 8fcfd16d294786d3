"""One scan per ticket presentation, not one per camera frame."""

from __future__ import annotations

import threading
import time


class ScanDebouncer:
    """Tells a new scan from the same code seen again in the next frames.

    A code counts as a new scan when it has not been seen for ``cooldown_s``
    seconds. Every sighting restarts its cool-down, so a phone held in front
    of the camera for a minute is one scan; once it has been gone for the
    cool-down it may be scanned again. Codes are tracked separately, so a
    different ticket right after (or two phones in one frame) is accepted at
    once. Times come from ``time.monotonic()`` (wall-clock jumps do not matter).
    """

    def __init__(self, cooldown_s: float = 2.0) -> None:
        if cooldown_s < 0:
            raise ValueError("cooldown_s must be >= 0")
        self.cooldown_s = float(cooldown_s)
        self._last_seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def accept(self, text: str, mono: float | None = None) -> bool:
        """Record a sighting of ``text`` at ``mono``; True if it is a new scan."""
        now = time.monotonic() if mono is None else mono
        with self._lock:
            last = self._last_seen.get(text)
            self._last_seen[text] = now if last is None else max(last, now)
            if len(self._last_seen) > 64:
                self._forget_older_than(now - self.cooldown_s)
            return last is None or now - last >= self.cooldown_s

    def reset(self) -> None:
        """Forget every code (e.g. after the gate operator cleared the screen)."""
        with self._lock:
            self._last_seen.clear()

    def _forget_older_than(self, cutoff: float) -> None:
        for text in [t for t, seen in self._last_seen.items() if seen < cutoff]:
            del self._last_seen[text]
