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

from common.pin import check_pin
from common.protocol import OFFLINE_AFTER_S, format_scan_time  # total: an absurd stored time never costs a verdict
from common.signing import TEXT_PREFIX
from common.signing.shortcode import MAX_TICKET_ID, grouped, parse_short_code, short_code

from .config import GateData, load_gate_data
from .messages import UNKNOWN_SHORT_CODE, colour, describe, event_of, recent_look, seat_label, ticket_type_name
from .offline_store import NewScan, OfflineStore, ScanRecord
from .rules import Decision, Precheck, Verdict, annul, decide, force, next_state, precheck
from .sync.clock import bounded_clock

log = logging.getLogger(__name__)


# Guessing the PIN at the door: after PIN_TRIES wrong PINs within PIN_LOCKOUT_S, none is checked until
# the oldest of them is that old.
PIN_TRIES = 5
PIN_LOCKOUT_S = 60.0
RECENT_LOOKBACK = 20  # scans read beyond the "Last scans" shown, to find the admission a re-show follows


class SupervisorError(Exception):
    """A supervisor action that is not allowed: no PIN set for the event, a wrong PIN, nothing to annul,
    a ticket that cannot be forced in. ``code`` names which (the door page's JSON error)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class ScanResult:
    record: ScanRecord
    decision: Decision
    message: str
    colour: str
    seat_label: str | None
    gate_name: str
    event_name: str | None = None
    ticket_type_name: str | None = None
    attendee_name: str | None = None  # only when the organizer asked for names at the door
    event: Any = None  # the EventConfig of the ticket's event when this gate serves it
    several_events: bool = False  # the gate serves more than one event: the screen names the ticket's

    @property
    def verdict(self) -> Verdict:
        return self.decision.verdict

    def to_json(self) -> dict[str, Any]:
        ticket = self.decision.ticket
        prev = self.decision.previous
        event = self.event
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
            "event_name": self.event_name,
            "several_events": self.several_events,
            "ticket_type_name": self.ticket_type_name,
            "attendee_name": self.attendee_name,
            "short_code": grouped(short_code(ticket.ticket_id))
            if ticket and ticket.ticket_id <= MAX_TICKET_ID
            else None,
            "note": self.record.note,
            "forced_over": self.decision.overrides.verdict.value if self.decision.overrides else None,
            "supervisor": bool(event is not None and event.supervisor_pin_hash) if ticket else False,
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
        self._wrong_pins: list[float] = []  # monotonic times of recent wrong supervisor PINs
        self._pin_lock = threading.Lock()

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
    def resolve(self, text: str) -> tuple[str, Decision | None]:
        """What a typed or scanned text stands for: a ``TG1:`` text in any case (base45 has no lower
        case), a short code (common.signing.shortcode) of a ticket on the pulled attendee list (its
        signed text, checked as if scanned), or the text as it is. A well-formed short code of no
        ticket here is a not_a_ticket refusal that says so."""
        text = text.strip() if isinstance(text, str) else ""
        if text[: len(TEXT_PREFIX)].upper() == TEXT_PREFIX:
            return text.upper(), None
        ticket_id = parse_short_code(text) if len(text) <= 40 else None
        if ticket_id is None:
            return text, None
        attendee = self.store.attendee(ticket_id)
        if attendee is None:
            return text, Decision(
                Verdict.NOT_A_TICKET, reason=UNKNOWN_SHORT_CODE, detail=grouped(short_code(ticket_id))
            )
        return attendee.code, None

    def check(self, text: str, *, source: str = "manual", mono: float | None = None) -> ScanResult:
        """Decide, record durably, then publish. Never raises for any text."""
        text, unknown = self.resolve(text)
        return self._record(text, source, mono, lambda pre, state, wall: unknown or self._decide(pre, state, wall))

    def _decide(self, pre: Precheck, state, wall: float) -> Decision:
        return pre.refusal if not pre.needs_state else decide(pre.ticket, state, self.data.config)

    def _record(self, text: str, source: str, mono: float | None, decide_with, *, annulling: bool = False):
        """Precheck ``text``, then in the store's transaction decide with ``decide_with(pre, state,
        wall)`` (None: SupervisorError, nothing recorded), record, publish."""
        wall = self.wall_clock()
        mono = self.mono_clock() if mono is None else mono
        config = self.data.config
        pre = precheck(text, config, self.data.keyring, self.data.revocations, wall)
        if pre.needs_state and self.store.device_revoked():  # the hub locked this gate out
            pre = Precheck(Decision(Verdict.INVALID, pre.ticket, reason="device_revoked"), pre.ticket)
        ticket = pre.ticket

        def decider(state, last_admission=None):
            decision = decide_with(pre, state, last_admission) if annulling else decide_with(pre, state, wall)
            if decision is None:
                raise _NothingToRecord()
            changes = decision.verdict in (Verdict.ADMITTED, Verdict.EXIT_RECORDED, Verdict.ANNULLED)
            return decision, next_state(state, decision, wall, config.gate_name) if changes else None

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
        try:
            record, decision = self.store.record_scan(scan, decider, with_last_admission=annulling)
        except _NothingToRecord:
            return None
        event = event_of(config, decision)
        attendee = self.store.attendee(ticket.ticket_id) if ticket is not None and event is not None else None
        result = ScanResult(
            record,
            decision,
            describe(config, decision, wall),
            colour(config, decision, wall),
            seat_label(config, decision),
            config.gate_name,
            event.name if event is not None and event.name else None,
            ticket_type_name(config, decision),
            attendee.name
            if attendee is not None and event.show_names and decision.verdict is Verdict.ADMITTED
            else None,
            event if ticket is not None and ticket.event_id in config.events else None,
            len(config.events) > 1,
        )
        self._publish(result)
        return result

    def link(self) -> dict[str, Any]:
        """The hub link as of now: online, backlog, last_sync_at, device_revoked, enrolled."""
        return self.store.sync_summary(self.wall_clock(), self.offline_after_s)

    # --- search and supervisor actions (docs/operations.md, "A way out of every mistake") ---------
    def search(self, query: str) -> list[dict[str, Any]]:
        """Tickets on the pulled attendee list by holder's name, order number or ticket number (or a
        short code), with whether each is inside at this gate's knowledge. Offline."""
        found = []
        ticket_id = parse_short_code(query or "")
        if ticket_id is not None and (attendee := self.store.attendee(ticket_id)) is not None:
            found.append((attendee, self.store.ticket_state(attendee.event_id, attendee.ticket_id)))
        found += [hit for hit in self.store.search_attendees(query) if hit[0].ticket_id != ticket_id]
        config = self.data.config
        out = []
        for attendee, state in found:
            event = config.events.get(attendee.event_id)
            ttype = event.ticket_types.get(attendee.ticket_type) if event else None
            out.append(
                {
                    "ticket_id": attendee.ticket_id,
                    "short_code": grouped(short_code(attendee.ticket_id)),
                    "order": attendee.order_id,
                    "name": attendee.name,
                    "event_name": event.name if event else None,
                    "ticket_type_name": ttype.name if ttype else None,
                    "admitted": bool(state and state.admissions),
                    "inside": bool(state and state.inside),
                }
            )
        return out

    def check_in(self, ticket_id: int) -> ScanResult:
        """Check in a ticket found by search: its signed text, decided like a scan (source "search")."""
        attendee = self.store.attendee(ticket_id)
        if attendee is None:
            raise SupervisorError("unknown_ticket", f"ticket {ticket_id} is not on this gate's list")
        return self.check(attendee.code, source="search")

    def force_admit(self, text: str, pin: str, note: str) -> ScanResult:
        """Admit a genuine ticket the door's rules refuse (already used, cancelled, wrong zone, outside its
        window), with the supervisor's PIN and reason. Recorded as an ``admitted`` scan with reason
        ``forced`` and the note; the hub still flags an admission of an already-used ticket as a duplicate."""
        note = " ".join((note or "").split())
        if not note:
            raise SupervisorError("missing_reason", "say why the ticket is let in")
        text, unknown = self.resolve(text)
        if unknown is not None:
            raise SupervisorError("unknown_ticket", describe(self.data.config, unknown, self.wall_clock()))
        self._check_pin(text, pin)
        result = self._record(
            text, "supervisor", None, lambda pre, state, wall: force(self._decide(pre, state, wall), note)
        )
        if result is None:
            raise SupervisorError("cannot_force", "only a genuine ticket of this gate's events can be forced in")
        return result

    def annul(self, ticket_id: int, pin: str) -> ScanResult:
        """Take back the last admission of a ticket ("scanned the wrong phone"), with the supervisor's PIN:
        an ``annulled`` scan naming that admission; the ticket may enter again."""
        attendee = self.store.attendee(ticket_id)
        if attendee is None:
            raise SupervisorError("unknown_ticket", f"ticket {ticket_id} is not on this gate's list")
        self._check_pin(attendee.code, pin)

        def decide_annul(pre, state, last_admission):
            if pre.ticket is None or last_admission is None:
                return None
            return annul(pre.ticket, state, last_admission)

        result = self._record(attendee.code, "supervisor", None, decide_annul, annulling=True)
        if result is None:
            raise SupervisorError("nothing_to_annul", f"ticket {ticket_id} has no admission to annul")
        return result

    def _check_pin(self, text: str, pin: str) -> None:
        pre = precheck(text, self.data.config, self.data.keyring, self.data.revocations, self.wall_clock())
        event = self.data.config.events.get(pre.ticket.event_id) if pre.ticket else None
        if event is None:
            raise SupervisorError("cannot_force", "only a genuine ticket of this gate's events can be overridden")
        if not event.supervisor_pin_hash:
            raise SupervisorError("no_supervisor_pin", "the organizer has not set a supervisor PIN for this event")
        now = self.mono_clock()
        with self._pin_lock:
            self._wrong_pins = [t for t in self._wrong_pins if now - t < PIN_LOCKOUT_S]
            if len(self._wrong_pins) >= PIN_TRIES:
                raise SupervisorError("pin_locked", f"too many wrong PINs: try again in {PIN_LOCKOUT_S:.0f} s")
        if not check_pin(pin, event.supervisor_pin_hash):
            log.warning("a wrong supervisor PIN was typed for event %s", event.event_id)
            with self._pin_lock:
                self._wrong_pins.append(now)
            raise SupervisorError("wrong_pin", "wrong supervisor PIN")

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
            # an admission a supervisor annulled no longer counts
            "admitted": counts.get(Verdict.ADMITTED.value, 0) - counts.get(Verdict.ANNULLED.value, 0),
            "exits": counts.get(Verdict.EXIT_RECORDED.value, 0),
            "recent": self._recent(recent),
        }

    def _recent(self, count: int) -> list[dict[str, Any]]:
        # a few more than are shown: the admission a just-admitted re-show points back to
        rows = self.store.recent_scans(count + RECENT_LOOKBACK)
        out = []
        for i, r in enumerate(rows[:count]):
            look, label = recent_look(r, rows[i + 1 :])
            out.append(
                {
                    "seq": r.seq,
                    "verdict": r.verdict,
                    "colour": look,
                    "label": label,
                    "ticket_id": r.ticket_id,
                    "event_id": r.event_id,
                    "at": format_scan_time(r.wall_time),
                }
            )
        return out


class _NothingToRecord(Exception):
    """A supervisor action the rules do not allow: the store's transaction is rolled back."""


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
