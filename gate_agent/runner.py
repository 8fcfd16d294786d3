"""`gate-agent run`: the scanner thread, the door page server and the headless printer."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable

from .pipeline import Gate, ScanResult, accepted_codes

log = logging.getLogger(__name__)


REOPEN_FIRST_S = 1.0  # first wait before reopening a camera that stopped; doubles up to REOPEN_MAX_S
REOPEN_MAX_S = 30.0
WATCH_INTERVAL_S = 0.5  # how often the camera's health is checked for the log and the door page


class GateRunner:
    """Runs a frame source through a gate until stopped (or, headless, until the source ends).

    With ``health`` (scanner.health.CameraHealth) the camera's state is watched: a change is
    logged and reported to ``on_camera_change`` (the door page). With ``reopen`` (a function
    opening the same source again) a camera that stopped is reopened with backoff."""

    def __init__(
        self,
        gate: Gate,
        source=None,
        decoder=None,
        debouncer=None,
        *,
        preview=None,
        health=None,
        reopen: Callable[[], object] | None = None,
        on_camera_change: Callable[[], None] | None = None,
    ):
        self.gate = gate
        self.source = source
        self.decoder = decoder
        self.debouncer = debouncer
        self.preview = preview
        self.health = health
        self.reopen = reopen
        self.on_camera_change = on_camera_change
        self.stopped = threading.Event()
        self.source_done = threading.Event()
        self._thread: threading.Thread | None = None
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        if self.source is None:
            self.source_done.set()
            return
        self._thread = threading.Thread(target=self._scan_loop, name="scanner", daemon=True)
        self._thread.start()
        if self.health is not None:
            self._watcher = threading.Thread(target=self._watch_camera, name="camera-watch", daemon=True)
            self._watcher.start()

    def _scan_loop(self) -> None:
        try:
            delay = REOPEN_FIRST_S
            while not self.stopped.is_set():
                delivered = self._scan_source(self.source)
                if self.stopped.is_set():
                    break
                if self.health is not None:
                    self.health.ended()
                if self.reopen is None:
                    log.info("frame source %s ended", getattr(self.source, "name", "?"))
                    break
                delay = REOPEN_FIRST_S if delivered else min(REOPEN_MAX_S, delay * 2)
                log.error("camera %s stopped; reopening it in %.0f s", getattr(self.source, "name", "?"), delay)
                if not self._reopen(delay):
                    break
        finally:
            self.source_done.set()

    def _scan_source(self, source) -> bool:
        """Scan until ``source`` ends; True if it delivered any frame."""
        delivered = False
        try:
            for frame in source.frames():
                if self.stopped.is_set():
                    break
                delivered = True
                if self.health is not None:
                    self.health.frame(frame.image, frame.mono)
                if self.preview is not None:
                    self.preview.update(frame)
                try:
                    codes = accepted_codes(frame, self.decoder, self.debouncer)
                except Exception:
                    log.exception("decoding a frame from %s failed", frame.source)
                    continue
                for text in codes:
                    try:
                        self.gate.check(text, source=frame.source, mono=frame.mono)
                    except Exception:  # e.g. disk full (then nothing was recorded either)
                        log.exception("checking a scan failed; no verdict was shown")
        except Exception:
            log.exception("the frame source %s failed", getattr(source, "name", "?"))
        return delivered

    def _reopen(self, delay: float) -> bool:
        """Reopen the camera, waiting ``delay`` (doubled after each failure) between tries.
        False when the runner was stopped meanwhile."""
        from .scanner import SourceError

        while not self.stopped.wait(delay):
            self.source.close()
            try:
                source = self.reopen()
            except (SourceError, RuntimeError, OSError) as exc:
                delay = min(REOPEN_MAX_S, delay * 2)
                log.warning("camera still unavailable (%s); next try in %.0f s", exc, delay)
                continue
            self.source = source
            self.health.reopened()
            log.info("camera %s reopened", getattr(source, "name", "?"))
            return True
        return False

    def _watch_camera(self) -> None:
        last = None
        while not self.stopped.wait(WATCH_INTERVAL_S):
            status = self.health.status()
            if status.state == last:
                continue
            if status.ok:
                log.info("camera %s", status.state)
            else:
                log.warning("camera problem: %s", status.state)
            last = status.state
            if self.on_camera_change is not None:
                try:
                    self.on_camera_change()
                except Exception:
                    log.exception("could not tell the door page about the camera")

    def stop(self) -> None:
        self.stopped.set()
        if self.source is not None:
            self.source.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._watcher is not None:
            self._watcher.join(timeout=5)


def headless_printer(stream=None) -> Callable[[ScanResult], None]:
    """One JSON line per verdict, flushed at once (called after the scan committed)."""
    out = stream or sys.stdout
    lock = threading.Lock()

    def emit(result: ScanResult) -> None:
        line = json.dumps(result.to_json(), ensure_ascii=False)
        with lock:
            out.write(line + "\n")
            out.flush()

    return emit
