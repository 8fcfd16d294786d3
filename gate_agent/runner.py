"""`gate-agent run`: the scanner thread, the door page server and the headless printer."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable

from .pipeline import Gate, ScanResult, accepted_codes

log = logging.getLogger(__name__)


class GateRunner:
    """Runs a frame source through a gate until stopped (or, headless, until the source ends)."""

    def __init__(self, gate: Gate, source=None, decoder=None, debouncer=None, *, preview=None):
        self.gate = gate
        self.source = source
        self.decoder = decoder
        self.debouncer = debouncer
        self.preview = preview
        self.stopped = threading.Event()
        self.source_done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.source is None:
            self.source_done.set()
            return
        self._thread = threading.Thread(target=self._scan_loop, name="scanner", daemon=True)
        self._thread.start()

    def _scan_loop(self) -> None:
        try:
            for frame in self.source.frames():
                if self.stopped.is_set():
                    break
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
            log.exception("the frame source %s failed", getattr(self.source, "name", "?"))
        finally:
            self.source_done.set()
            log.info("frame source ended")

    def stop(self) -> None:
        self.stopped.set()
        if self.source is not None:
            self.source.close()
        if self._thread is not None:
            self._thread.join(timeout=5)


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
