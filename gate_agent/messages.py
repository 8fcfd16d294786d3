"""Plain-language verdict messages and panel colours for door staff.

Colours are consistent everywhere: green = let in, red = refuse,
amber = needs a look (exit recorded, wrong entrance, too early, not a ticket).
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from common.protocol import INVALID_TIME, to_utc

from .config import GateConfig
from .rules import Decision, Verdict

UNKNOWN_SHORT_CODE = "unknown_short_code"  # a not_a_ticket reason: a well-formed short code of no ticket here

COLOURS = {
    Verdict.ADMITTED: "green",
    Verdict.EXIT_RECORDED: "amber",
    Verdict.ALREADY_ADMITTED: "red",
    Verdict.REVOKED: "red",
    Verdict.WRONG_EVENT: "red",
    Verdict.WRONG_ZONE: "amber",
    Verdict.NOT_YET_VALID: "amber",
    Verdict.EXPIRED: "red",
    Verdict.INVALID: "red",
    Verdict.NOT_A_TICKET: "amber",
    Verdict.ANNULLED: "amber",
}

# "Last scans" on the door page: a few words per verdict, as staff would say it
LABELS = {
    Verdict.ADMITTED: "Admitted",
    Verdict.EXIT_RECORDED: "Exit",
    Verdict.ALREADY_ADMITTED: "Already used",
    Verdict.REVOKED: "Cancelled",
    Verdict.WRONG_EVENT: "Wrong event",
    Verdict.WRONG_ZONE: "Wrong entrance",
    Verdict.NOT_YET_VALID: "Too early",
    Verdict.EXPIRED: "Expired",
    Verdict.INVALID: "Invalid",
    Verdict.NOT_A_TICKET: "Not a ticket",
    Verdict.ANNULLED: "Undone",
}

# A ticket shown again at the gate that admitted it this recently is the same guest still in front
# of the camera (or the phone shown twice): amber "Just admitted here", not a red STOP.
JUST_ADMITTED_S = 10.0

INVALID_REASONS = {
    "malformed": "the code is damaged or incomplete",
    "unknown_key": "it was signed by a key this gate does not know",
    "bad_signature": "it is forged or altered",
    "unsupported_version": "its format version is not supported",
}


def seat_label(config: GateConfig, decision: Decision) -> str | None:
    ticket = decision.ticket
    if ticket is None or ticket.seat is None:
        return None
    event = config.events.get(ticket.event_id)
    return event.seat_label(ticket.seat) if event else f"Seat {ticket.seat}"


def just_admitted_here(config: GateConfig, decision: Decision, now: float) -> float | None:
    """Seconds since this gate admitted the ticket of an already_admitted decision, when that
    was at most JUST_ADMITTED_S ago; else None."""
    prev = decision.previous
    if decision.verdict is not Verdict.ALREADY_ADMITTED or prev is None or prev.last_admitted_at is None:
        return None
    ago = now - prev.last_admitted_at
    if prev.last_admitted_gate != config.gate_name or not 0 <= ago <= JUST_ADMITTED_S:
        return None
    return ago


def colour(config: GateConfig, decision: Decision, now: float) -> str:
    """The panel colour: COLOURS, except amber for a ticket this gate has just admitted."""
    if just_admitted_here(config, decision, now) is not None:
        return "amber"
    return COLOURS[decision.verdict]


def recent_look(record, earlier) -> tuple[str, str]:
    """(colour, label) of a scan in "Last scans": as its verdict, except an already-used scan of a ticket the
    same gate admitted at most JUST_ADMITTED_S before, which is the amber "Just admitted here" it showed.
    `earlier`: the gate's scans before it (store.ScanRecord rows, any order)."""
    verdict = Verdict(record.verdict)
    if verdict is Verdict.ALREADY_ADMITTED and any(
        other.verdict == Verdict.ADMITTED.value
        and other.gate_id == record.gate_id
        and (other.event_id, other.ticket_id) == (record.event_id, record.ticket_id)
        and 0 <= record.wall_time - other.wall_time <= JUST_ADMITTED_S
        for other in earlier
    ):
        return "amber", "Just admitted here"
    return COLOURS[verdict], LABELS[verdict]


def event_of(config: GateConfig, decision: Decision):
    """The configuration of the decided ticket's event: one this gate serves, or one of the organizer's
    others it knows by title; None when neither."""
    ticket = decision.ticket
    if ticket is None:
        return None
    return config.events.get(ticket.event_id) or config.other_events.get(ticket.event_id)


def ticket_type_name(config: GateConfig, decision: Decision) -> str | None:
    event = event_of(config, decision)
    ttype = event.ticket_types.get(decision.ticket.ticket_type) if event else None
    return ttype.name if ttype and ttype.name else None


def describe(config: GateConfig, decision: Decision, now: float) -> str:
    """One sentence for the door screen, e.g. "Already used at Gate B, 19:42". Times are the
    event's local time when the hub set its zone, else the gate's."""
    verdict, ticket = decision.verdict, decision.ticket
    event = event_of(config, decision)
    tz = event.tz if event is not None and event.timezone else config.tz
    if verdict is Verdict.ADMITTED:
        seat = seat_label(config, decision)
        welcome = f"Welcome — {seat}" if seat else "Welcome"
        if decision.reason == "forced":
            return (
                f"{welcome} (forced in by supervisor: {decision.note})" if decision.note else f"{welcome} (forced in)"
            )
        return welcome
    if verdict is Verdict.ANNULLED:
        return "Admission annulled: this ticket may enter again"
    if verdict is Verdict.EXIT_RECORDED:
        return "Exit recorded: re-entry allowed" if config.reentry != "single" else "Exit recorded"
    if verdict is Verdict.ALREADY_ADMITTED:
        prev = decision.previous
        if (ago := just_admitted_here(config, decision, now)) is not None:
            return f"Just admitted here {ago:.0f} s ago"
        if prev is None or prev.last_admitted_at is None:
            return "Already used"
        return f"Already used at {prev.last_admitted_gate}, {format_time(prev.last_admitted_at, tz, now)}"
    if verdict is Verdict.REVOKED:
        return "Ticket cancelled"
    if verdict is Verdict.WRONG_EVENT:
        if ticket is None:
            return "Wrong event"
        if event is None or not event.name:
            return f"Wrong event: this ticket is for another event (no. {ticket.event_id})"
        if event.starts_at is None:
            return f"Wrong event: this ticket is for {event.name}"
        return f"Wrong event: this ticket is for {event.name}, {format_day(event.starts_at, tz)}"
    if verdict is Verdict.WRONG_ZONE:
        zones = ", ".join(str(z) for z in sorted(ticket.zones)) if ticket else "?"
        plural = "s" if ticket and len(ticket.zones) > 1 else ""
        return f"Wrong entrance: this ticket is for zone{plural} {zones}"
    if verdict is Verdict.NOT_YET_VALID:
        when = format_time(decision.window_start, tz, now) if decision.window_start else "later"
        if decision.reason == "event_window":
            return f"Too early: doors open {when}"
        if decision.reason == "type_window":
            return f"Too early: {ticket_type_name(config, decision) or 'this ticket type'} valid from {when}"
        return f"Too early: ticket valid from {when}"
    if verdict is Verdict.EXPIRED:
        when = format_time(decision.window_end, tz, now) if decision.window_end else "earlier"
        if decision.reason == "event_window":
            return f"Too late: the event ended {when}"
        if decision.reason == "type_window":
            return f"Too late: {ticket_type_name(config, decision) or 'this ticket type'} was valid until {when}"
        return f"Ticket expired {when}"
    if verdict is Verdict.INVALID and decision.reason == "device_revoked":
        return "Device revoked: this gate no longer admits anyone"
    if verdict is Verdict.INVALID:
        return f"Invalid ticket: {INVALID_REASONS.get(decision.reason or '', 'it cannot be read')}"
    if decision.reason == UNKNOWN_SHORT_CODE:
        return f"Code {decision.detail} is not on this gate's ticket list"
    return "Not a ticket"


def format_day(epoch: float, tz: tzinfo | None) -> str:
    """ "12 Dec" in ``tz``: the day of an event, as door staff say it."""
    moment = _local(epoch, tz)
    return INVALID_TIME if moment is None else f"{moment.day} {moment:%b}"


def format_time(epoch: float, tz: tzinfo | None, now: float) -> str:
    """ "19:42" today, "21 Nov 19:42" on another day, in the gate's time zone (the machine's
    when None). Total: a time no calendar can show (e.g. a pulled admission stamped by a
    broken clock) is INVALID_TIME, so the verdict is still shown."""
    moment = _local(epoch, tz)
    if moment is None:
        return INVALID_TIME
    today = _local(now, tz)
    if today is not None and moment.date() == today.date():
        return f"{moment:%H:%M}"
    return f"{moment.day} {moment:%b %H:%M}"


def _local(epoch: float, tz: tzinfo | None) -> datetime | None:
    moment = to_utc(epoch)
    if moment is None:
        return None
    try:
        return moment.astimezone(tz)  # None: the machine's zone
    except (OverflowError, OSError, ValueError):  # a zone shift past year 1 or 9999
        return None
