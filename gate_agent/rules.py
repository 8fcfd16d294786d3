"""Verdict rules: pure functions, no I/O.

A scan is decided in two steps. :func:`precheck` needs only the text, the
keyring, the revocation list, the gate configuration and the wall time; it
refuses anything that is not a valid ticket for this gate. What passes is
decided by :func:`decide` from the ticket's stored state (admitted before?
exited?), which the offline store reads and updates in the same transaction
as it records the scan, so two scans of one ticket can never both be admitted.

Order of checks (the first that fails is the verdict):
not a ticket -> invalid (format reason) -> wrong event -> revoked ->
not yet valid / expired (the ticket's own window, else its type's, else the event's; bound by bound) ->
wrong zone -> ticket state (re-entry policy). An exit gate records the exit of any genuine
ticket of its events: nobody is held inside because a ticket expired.

A ticket's state changes by two rules, both here: :func:`next_state` after this
gate's own decision, :func:`fold_movement` for an admission, exit or annulment another
gate recorded (pulled from the hub, late and in any order).

A supervisor can override (docs/operations.md, "Undo and override"): :func:`force` turns a
refusal of a genuine ticket into an admission (reason ``forced``), :func:`annul` takes the
ticket's last admission back.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.protocol import (  # noqa: F401 (the gate's verdicts are the protocol's)
    FORCED_REASON,
    VERDICTS,
    MovementKind,
    Verdict,
)
from common.signing import Keyring, Reason, RevocationList, Ticket, looks_like_ticket, verify_ticket

from .config import GateConfig


@dataclass(frozen=True)
class TicketState:
    """What this gate's store knows about one ticket (one row of ticket_state)."""

    inside: bool
    admissions: int
    last_admitted_at: float | None = None
    last_admitted_gate: str | None = None  # display name of the gate
    last_exit_at: float | None = None


@dataclass(frozen=True)
class Movement:
    """An admission or exit recorded at another gate, in hub-corrected time (a pull's movement)."""

    scan_id: str
    event_id: int
    ticket_id: int
    kind: MovementKind
    at: float
    gate_name: str


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    ticket: Ticket | None = None
    reason: str | None = None  # invalid: the format's reason; windows: ticket_/type_/event_window; forced
    detail: str = ""
    window_start: int | None = None  # the bound that refused a not_yet_valid / expired ticket
    window_end: int | None = None
    previous: TicketState | None = None  # for already_admitted: when and where
    note: str = ""  # a forced admission: the supervisor's reason
    overrides: Decision | None = None  # a forced admission: the refusal it overrode


@dataclass(frozen=True)
class Precheck:
    """Result of :func:`precheck`: either a final refusal, or a ticket to decide with state."""

    refusal: Decision | None
    ticket: Ticket | None

    @property
    def needs_state(self) -> bool:
        return self.refusal is None


def precheck(
    text: object,
    config: GateConfig,
    keyring: Keyring,
    revocations: RevocationList,
    now_wall: float,
) -> Precheck:
    """Every check that needs no stored state. Never raises for any ``text``."""
    if not isinstance(text, str) or not looks_like_ticket(text):
        return Precheck(Decision(Verdict.NOT_A_TICKET), None)
    result = verify_ticket(text, keyring, int(now_wall))
    if result.reason in (Reason.NOT_YET_VALID, Reason.EXPIRED) or result.valid:
        ticket = result.ticket
    else:
        return Precheck(Decision(Verdict.INVALID, reason=result.reason.value, detail=result.detail), None)
    event = config.events.get(ticket.event_id)
    if event is None:
        return Precheck(Decision(Verdict.WRONG_EVENT, ticket), ticket)
    if config.direction == "exit":
        return Precheck(None, ticket)
    if revocations.is_revoked(ticket.event_id, ticket.ticket_id):
        return Precheck(Decision(Verdict.REVOKED, ticket), ticket)
    window = _window_refusal(ticket, event, now_wall)
    if window is not None:
        return Precheck(window, ticket)
    if config.zones and not ticket.admits_zone(config.zones):
        return Precheck(Decision(Verdict.WRONG_ZONE, ticket), ticket)
    return Precheck(None, ticket)


def decide(ticket: Ticket, state: TicketState | None, config: GateConfig) -> Decision:
    """The verdict for a ticket that passed :func:`precheck`, given its stored state."""
    if config.direction == "exit":
        return Decision(Verdict.EXIT_RECORDED, ticket)
    if state is None or config.reentry == "unlimited":
        return Decision(Verdict.ADMITTED, ticket)
    if config.reentry == "single" and state.admissions > 0:
        return Decision(Verdict.ALREADY_ADMITTED, ticket, reason="single", previous=state)
    if config.reentry == "reentry" and state.inside:
        return Decision(Verdict.ALREADY_ADMITTED, ticket, reason="reentry", previous=state)
    return Decision(Verdict.ADMITTED, ticket)


# Refusals a supervisor may override: the ticket is genuine and for this gate's events, only the
# door's rules say no. A forged, unreadable or another event's ticket is never forced in.
FORCIBLE = frozenset(
    {Verdict.ALREADY_ADMITTED, Verdict.REVOKED, Verdict.WRONG_ZONE, Verdict.NOT_YET_VALID, Verdict.EXPIRED}
)


def force(decision: Decision, note: str) -> Decision | None:
    """A supervisor's forced admission in place of ``decision``; None when it cannot be forced
    (not a refusal of a genuine ticket of this gate's events, see FORCIBLE). An admission stays as it is."""
    if decision.verdict is Verdict.ADMITTED:
        return decision
    if decision.verdict not in FORCIBLE or decision.reason == "device_revoked":
        return None
    return Decision(Verdict.ADMITTED, decision.ticket, reason=FORCED_REASON, note=note, overrides=decision)


def annul(ticket: Ticket, state: TicketState | None, admission_scan_id: str) -> Decision | None:
    """Take back the ticket's last admission (its scan id is the annulment's reason); None when the
    ticket has no admission to take back."""
    if state is None or state.admissions < 1:
        return None
    return Decision(Verdict.ANNULLED, ticket, reason=admission_scan_id, previous=state)


def next_state(state: TicketState | None, decision: Decision, wall: float, gate_name: str) -> TicketState | None:
    """The ticket's state after ``decision``; None when the decision changes nothing."""
    if decision.verdict is Verdict.ADMITTED:
        admissions = state.admissions if state else 0
        last_exit = state.last_exit_at if state else None
        return TicketState(True, admissions + 1, wall, gate_name, last_exit)
    if decision.verdict is Verdict.EXIT_RECORDED:
        if state is None:
            return TicketState(False, 0, None, None, wall)
        return TicketState(False, state.admissions, state.last_admitted_at, state.last_admitted_gate, wall)
    if decision.verdict is Verdict.ANNULLED and state is not None:
        return _annulled(state)
    return None


def _annulled(state: TicketState) -> TicketState:
    """An admission taken back: one fewer, and the ticket is not inside (it may come in again)."""
    admissions = max(state.admissions - 1, 0)
    return TicketState(
        False,
        admissions,
        state.last_admitted_at if admissions else None,
        state.last_admitted_gate if admissions else None,
        state.last_exit_at,
    )


def fold_movement(state: TicketState | None, movement: Movement) -> TicketState:
    """The ticket's state after another gate's admission or exit. Movements arrive late and in
    any order, so a time only ever moves forward: an admission always counts, but is the last
    admission only if later than it; the ticket is inside or out by the later of its last
    admission and its last exit (at the same moment, by the one folded last)."""
    state = state or TicketState(False, 0)
    at = movement.at
    admitted_later = state.last_admitted_at is None or at >= state.last_admitted_at
    exited_later = state.last_exit_at is None or at >= state.last_exit_at
    if movement.kind == MovementKind.ENTRY:
        return TicketState(
            state.inside or exited_later,
            state.admissions + 1,
            at if admitted_later else state.last_admitted_at,
            movement.gate_name if admitted_later else state.last_admitted_gate,
            state.last_exit_at,
        )
    if movement.kind == MovementKind.EXIT:
        return TicketState(
            state.inside and not admitted_later,
            state.admissions,
            state.last_admitted_at,
            state.last_admitted_gate,
            at if exited_later else state.last_exit_at,
        )
    if movement.kind == MovementKind.ANNUL:
        return _annulled(state)
    raise ValueError(f"not a movement kind: {movement.kind!r}")  # a pull's unknown kinds never get here


def _window_refusal(ticket: Ticket, event, now: float) -> Decision | None:
    """Bound by bound, the ticket's own window wins, then its type's (a festival day ticket, a late
    entry), then the event's doors-open .. end."""
    ttype = event.ticket_types.get(ticket.ticket_type)
    start, start_src = _bound(
        (ticket.not_before, "ticket_window"),
        (ttype.valid_from if ttype else None, "type_window"),
        (event.doors_open, "event_window"),
    )
    end, end_src = _bound(
        (ticket.not_after, "ticket_window"),
        (ttype.valid_until if ttype else None, "type_window"),
        (event.ends, "event_window"),
    )
    if start is not None and now < start:
        return Decision(Verdict.NOT_YET_VALID, ticket, reason=start_src, window_start=start, window_end=end)
    if end is not None and now > end:
        return Decision(Verdict.EXPIRED, ticket, reason=end_src, window_start=start, window_end=end)
    return None


def _bound(*candidates: tuple[int | None, str]) -> tuple[int | None, str | None]:
    return next(((value, source) for value, source in candidates if value is not None), (None, None))
