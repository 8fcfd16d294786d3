"""Is the camera really watching? A source that ended, a camera that delivers no new frame,
and a black or repeated picture (lens covered, driver or stream frozen) all leave the scanner silent,
which at the door looks exactly like "nobody showed a ticket". :class:`CameraHealth` turns
them into a state the door page shows in place of READY.

Frames are judged on a 32x24 thumbnail, so the check costs microseconds per frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

THUMB_SIZE = (32, 24)
DARK_LEVEL = 12.0  # mean gray level (0..255) below which the picture counts as black (lens covered)

# state -> what the door page says; "ok" and "starting" show READY
MESSAGES = {
    "ok": "",
    "starting": "Starting the camera…",
    "stopped": "The camera stopped. Type codes below or use the backup list.",
    "no_frames": "The camera sends no pictures: check its cable. Type codes below or use the backup list.",
    "dark": "The camera sees only black: is the lens covered? Type codes below meanwhile.",
    "frozen": "The camera picture is frozen: check the camera. Type codes below meanwhile.",
}


@dataclass(frozen=True)
class CameraStatus:
    state: str
    since: float  # monotonic time the state began

    @property
    def ok(self) -> bool:
        return self.state in ("ok", "starting")

    def to_json(self, now: float) -> dict:
        return {
            "state": self.state,
            "ok": self.ok,
            "message": MESSAGES[self.state],
            "for_s": round(max(0.0, now - self.since), 1),
        }


class CameraHealth:
    """Fed by the scan loop (``frame``, ``ended``, ``reopened``); read by any thread (``status``).

    ``live`` sources (cameras, streams) are also judged on their picture: black or unchanging for
    ``stall_s``. Files are not: a demo loop of one photo is unchanging on purpose.
    """

    def __init__(self, stall_s: float = 3.0, *, live: bool = True, clock: Callable[[], float] = time.monotonic):
        self.stall_s = stall_s
        self.live = live
        self.clock = clock
        self._lock = threading.Lock()
        now = clock()
        self._ended_at: float | None = None
        self._last_frame_at: float | None = None
        self._started_at = now
        self._thumb: np.ndarray | None = None
        self._changed_at = now  # last time the picture changed
        self._lit_at = now  # last time the picture was not black

    def frame(self, image: np.ndarray | None, mono: float | None = None) -> None:
        now = self.clock() if mono is None else mono
        thumb = _thumbnail(image) if image is not None and self.live else None
        with self._lock:
            self._last_frame_at = now
            self._ended_at = None
            if thumb is None:
                self._changed_at = self._lit_at = now
                return
            if float(thumb.mean()) >= DARK_LEVEL:
                self._lit_at = now
            # exactly the same picture: a live sensor always adds some noise, even to a still scene,
            # so only a frozen driver or stream repeats a frame bit for bit
            if self._thumb is None or not np.array_equal(thumb, self._thumb):
                self._changed_at = now
            self._thumb = thumb

    def ended(self) -> None:
        """The source ended or failed: no more frames until it is reopened."""
        with self._lock:
            if self._ended_at is None:
                self._ended_at = self.clock()

    def reopened(self) -> None:
        with self._lock:
            now = self.clock()
            self._ended_at = None
            self._last_frame_at = None
            self._started_at = self._changed_at = self._lit_at = now
            self._thumb = None

    def status(self) -> CameraStatus:
        now = self.clock()
        with self._lock:
            if self._ended_at is not None:
                return CameraStatus("stopped", self._ended_at)
            if self._last_frame_at is None:
                if now - self._started_at > self.stall_s:
                    return CameraStatus("no_frames", self._started_at + self.stall_s)
                return CameraStatus("starting", self._started_at)
            if now - self._last_frame_at > self.stall_s:
                return CameraStatus("no_frames", self._last_frame_at + self.stall_s)
            if now - self._lit_at > self.stall_s:
                return CameraStatus("dark", self._lit_at + self.stall_s)
            if now - self._changed_at > self.stall_s:
                return CameraStatus("frozen", self._changed_at + self.stall_s)
            return CameraStatus("ok", self._last_frame_at)


def _thumbnail(image: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return cv2.resize(gray, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
