"""Live feeds for the door page: verdicts as server-sent events, camera preview as MJPEG."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import cv2

PREVIEW_MAX_WIDTH = 640
# An idle stream sends an "alive" event this often: the page declares the gate not responding
# when nothing arrived for a few of these (door.js ALIVE_TIMEOUT_MS), e.g. the agent hung or died.
HEARTBEAT_S = 0.5
PREVIEW_JPEG_QUALITY = 70


class Broadcaster:
    """Fans each published event out to every connected screen. Never blocks the publisher."""

    def __init__(self, keepalive_s: float = HEARTBEAT_S):
        self.keepalive_s = keepalive_s
        self._subscribers: set[queue.SimpleQueue] = set()
        self._lock = threading.Lock()
        self._closed = False

    def publish(self, event: str, payload: dict[str, Any]) -> None:
        message = f"event: {event}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"
        with self._lock:
            subscribers = list(self._subscribers)
        for q in subscribers:
            q.put(message)

    def close(self) -> None:
        """End every open stream (server shutdown)."""
        with self._lock:
            self._closed = True
            subscribers = list(self._subscribers)
        for q in subscribers:
            q.put(None)

    def stream(
        self, first: Callable[[], dict[str, Any]], alive: Callable[[], dict[str, Any]] | None = None
    ) -> Iterator[str]:
        """One client's event stream: the current state first, then every event, and while idle
        an ``alive`` event (what ``alive()`` returns: hub link, camera) every ``keepalive_s``."""
        q: queue.SimpleQueue = queue.SimpleQueue()
        with self._lock:
            if self._closed:
                return
            self._subscribers.add(q)
        try:
            yield "retry: 1000\n\n"
            yield f"event: state\ndata: {json.dumps(first(), ensure_ascii=False)}\n\n"
            while True:
                try:
                    message = q.get(timeout=self.keepalive_s)
                except queue.Empty:  # writing is also how a closed connection is noticed
                    yield (
                        f"event: alive\ndata: {json.dumps(alive(), ensure_ascii=False)}\n\n"
                        if alive
                        else ": keepalive\n\n"
                    )
                    continue
                if message is None:
                    return
                yield message
        finally:
            with self._lock:
                self._subscribers.discard(q)


class PreviewBuffer:
    """The latest camera frame. The scan loop only swaps a reference; JPEG
    encoding happens in the HTTP thread of whoever is watching."""

    def __init__(self) -> None:
        self._image = None
        self._version = 0
        self._cond = threading.Condition()
        self._closed = False

    def update(self, frame) -> None:
        if frame.image is None:
            return
        with self._cond:
            self._image = frame.image
            self._version += 1
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def latest_jpeg(self) -> bytes | None:
        with self._cond:
            image = self._image
        return _jpeg(image) if image is not None else None

    def mjpeg(self, max_fps: float = 10.0, idle_timeout_s: float = 15.0) -> Iterator[bytes]:
        """multipart/x-mixed-replace parts, one per new frame, at most ``max_fps``."""
        seen = -1
        interval = 1.0 / max_fps
        while True:
            with self._cond:
                self._cond.wait_for(lambda seen=seen: self._closed or self._version != seen, timeout=idle_timeout_s)
                if self._closed:
                    return
                image, version = self._image, self._version
            if image is None:
                continue
            seen = version  # an unchanged frame is re-sent after the idle timeout: notices closed clients
            data = _jpeg(image)
            yield b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(data), data)
            with self._cond:  # pace the preview; the scanner runs at full speed regardless
                self._cond.wait_for(lambda: self._closed, timeout=interval)


def _jpeg(image) -> bytes:
    height, width = image.shape[:2]
    if width > PREVIEW_MAX_WIDTH:
        image = cv2.resize(
            image, (PREVIEW_MAX_WIDTH, int(height * PREVIEW_MAX_WIDTH / width)), interpolation=cv2.INTER_AREA
        )
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, PREVIEW_JPEG_QUALITY])
    return data.tobytes() if ok else b""
