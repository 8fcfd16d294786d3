"""The scan pipeline: text -> verdict -> durable scan row -> published result.

:class:`Gate` owns the loaded data folder and the offline store. Listeners (the
door page's server-sent events, the headless printer) are called only after
the scan's transaction has committed, so a verdict anyone saw is on disk.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.protocol import OFFLINE_AFTER_S, format_scan_time  # total: an absurd stored time never costs a verdict

from .config import GateData, load_gate_data
from .messages import COLOURS, LABELS, colour, describe, seat_label
from .offline_store import NewScan, OfflineStore, ScanRecord
from .rules import Decision, Precheck, Verdict, decide, next_state, precheck
from .sync.clock import bounded_clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanResult:
    record: ScanRecord
    decision: Decision
    message: str
    colour: str
    seat_label: str | None
    gate_name: str

    @property
    def verdict(self) -> Verdict:
        return self.decision.verdict

    def to_json(self) -> dict[str, Any]:
        ticket = self.decision.ticket
        prev = self.decision.previous
        return {
            "scan_id": self.record.scan_id,
            "seq": self.record.seq,
            "verdict": self.verdict.value,
            "reason": self.record.reason,
            "detail": self.record.detail or None,
            "message": self.message,
            "colour": self.colour,
            "event_id": self.record.event_id,
            "ticket_id": self.record.ticket_id,
            "seat": ticket.seat if ticket else None,
            "seat_label": self.seat_label,
            "zones": sorted(ticket.zones) if ticket else [],
            "gate_id": self.record.gate_id,
            "gate_name": self.gate_name,
            "source": self.record.source,
            "wall_time": self.record.wall_time,
            "at": format_scan_time(self.record.wall_time),
            "previous_admission": (
                {"at": format_scan_time(prev.last_admitted_at), "gate": prev.last_admitted_gate}
                if prev is not None and prev.last_admitted_at is not None
                else None
            ),
        }


class Gate:
    """One gate: configuration, keys, revocations and the offline store."""

    def __init__(
        self,
        data: GateData,
        store: OfflineStore,
        *,
        wall_clock: Callable[[], float] = time.time,
        mono_clock: Callable[[], float] = time.monotonic,
    ):
        self.data = data
        self.store = store
        self.wall_clock = bounded_clock(wall_clock)  # never records a time the hub would refuse
        self.mono_clock = mono_clock
        self.offline_after_s = OFFLINE_AFTER_S  # GATE_OFFLINE_AFTER_S when run
        self._listeners: list[Callable[[ScanResult], None]] = []
        self._listeners_lock = threading.Lock()

    @classmethod
    def open(cls, data_dir: Path | str, **clocks) -> Gate:
        """Load the data folder (GateDataError) and open its store (StoreError)."""
        data = load_gate_data(data_dir)
        return cls(data, OfflineStore(data.db_path), **clocks)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def config(self):
        return self.data.config

    # --- listeners -----------------------------------------------------------
    def subscribe(self, listener: Callable[[ScanResult], None]) -> None:
        with self._listeners_lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[ScanResult], None]) -> None:
        with self._listeners_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _publish(self, result: ScanResult) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(result)
            except Exception:  # one broken screen must not stop the gate
                log.exception("verdict listener failed")

    # --- scanning ------------------------------------------------------------
    def check(self, text: str, *, source: str = "manual", mono: float | None = None) -> ScanResult:
        """Decide, record durably, then publish. Never raises for any text."""
        text = text.strip() if isinstance(text, str) else ""
        wall = self.wall_clock()
        mono = self.mono_clock() if mono is None else mono
        config = self.data.config
        pre = precheck(text, config, self.data.keyring, self.data.revocations, wall)
        if pre.needs_state and self.store.device_revoked():  # the hub locked this gate out
            pre = Precheck(Decision(Verdict.INVALID, pre.ticket, reason="device_revoked"), pre.ticket)
        ticket = pre.ticket

        def decider(state):
            if not pre.needs_state:
                return pre.refusal, None
            decision = decide(ticket, state, config)
            return decision, next_state(state, decision, wall, config.gate_name)

        scan = NewScan(
            gate_id=config.gate_id,
            gate_name=config.gate_name,
            wall_time=wall,
            mono=mono,
            code_digest=hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32],
            source=source,
            event_id=ticket.event_id if ticket else None,
            ticket_id=ticket.ticket_id if ticket else None,
        )
        record, decision = self.store.record_scan(scan, decider)
        result = ScanResult(
            record,
            decision,
            describe(config, decision, wall),
            colour(config, decision, wall),
            seat_label(config, decision),
            config.gate_name,
        )
        self._publish(result)
        return result

    def link(self) -> dict[str, Any]:
        """The hub link as of now: online, backlog, last_sync_at, device_revoked, enrolled."""
        return self.store.sync_summary(self.wall_clock(), self.offline_after_s)

    def snapshot(self, recent: int = 10) -> dict[str, Any]:
        """What the door screen shows besides the latest verdict."""
        config = self.data.config
        counts = self.store.verdict_counts(config.gate_id)
        return {
            "gate_id": config.gate_id,
            "gate_name": config.gate_name,
            "direction": config.direction,
            "reentry": config.reentry,
            "zones": sorted(config.zones),
            "events": sorted(config.events),
            **self.link(),
            "hub_configured": bool(config.hub_url),
            "admitted": counts.get(Verdict.ADMITTED.value, 0),
            "exits": counts.get(Verdict.EXIT_RECORDED.value, 0),
            "recent": [
                {
                    "seq": r.seq,
                    "verdict": r.verdict,
                    "colour": COLOURS[Verdict(r.verdict)],
                    "label": LABELS[Verdict(r.verdict)],
                    "ticket_id": r.ticket_id,
                    "event_id": r.event_id,
                    "at": format_scan_time(r.wall_time),
                }
                for r in self.store.recent_scans(recent)
            ],
        }


def codes_in_frame(frame, decoder) -> list[str]:
    """Text frames (keyboard wedge, stdin) carry their code; image frames are decoded."""
    if frame.text is not None:
        return [frame.text] if frame.text.strip() else []
    if frame.image is None or decoder is None:
        return []
    return decoder.decode(frame.image)


def accepted_codes(frame, decoder, debouncer=None) -> list[str]:
    """The codes in ``frame`` that count as new scans.

    The debouncer (camera cool-down on the monotonic clock) applies to image
    frames only: a typed or wedge code is always a deliberate scan.
    """
    codes = codes_in_frame(frame, decoder)
    if frame.text is not None or debouncer is None:
        return codes
    return [text for text in codes if debouncer.accept(text, frame.mono)]


def scan_frames(gate: Gate, frames: Iterable, decoder, debouncer=None) -> Iterable[ScanResult]:
    """Run frames through the gate; yield one result per accepted code."""
    for frame in frames:
        for text in accepted_codes(frame, decoder, debouncer):
            yield gate.check(text, source=frame.source, mono=frame.mono)
