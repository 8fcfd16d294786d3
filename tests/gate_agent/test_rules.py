"""The pure verdict rules: every refusal, each re-entry policy, exit gates, windows."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.protocol import MovementKind
from common.signing import Keyring, Revocation, RevocationList, SigningKey, sign_ticket
from gate_agent.config import EventConfig, GateConfig
from gate_agent.rules import Movement, TicketState, Verdict, decide, fold_movement, next_state, precheck

KEY = SigningKey.from_seed(bytes(range(32)))
OTHER_KEY = SigningKey.from_seed(bytes(32))
KEYRING = Keyring([KEY.public_entry()])
NOW = 1_800_000_000
CONFIG = GateConfig(gate_id="g", gate_name="Gate A", events={1: EventConfig(1)}, zones=frozenset({1, 2}))
NOTHING_REVOKED = RevocationList()


def ticket(key=KEY, **fields):
    fields.setdefault("event_id", 1)
    fields.setdefault("ticket_id", 7)
    fields.setdefault("ticket_type", 1)
    return sign_ticket(key, **fields)


def verdict_of(text, config=CONFIG, revocations=NOTHING_REVOKED, now=NOW, state=None):
    pre = precheck(text, config, KEYRING, revocations, now)
    if not pre.needs_state:
        return pre.refusal
    return decide(pre.ticket, state, config)


@pytest.mark.parametrize("text", ["hello", "https://example.org/x", "", "TG", "1234567890"])
def test_other_qr_content_is_not_a_ticket(text):
    assert verdict_of(text).verdict is Verdict.NOT_A_TICKET


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("TG1:!!!!", "malformed"),
        ("TG2:ABCDEF", "unsupported_version"),
        (ticket(OTHER_KEY), "unknown_key"),
        (ticket()[:-2] + ("00" if not ticket().endswith("00") else "11"), None),  # altered: bad sig or malformed
    ],
)
def test_damaged_or_forged_codes_are_invalid_with_the_format_reason(text, reason):
    decision = verdict_of(text)
    assert decision.verdict is Verdict.INVALID
    assert decision.reason in ((reason,) if reason else ("bad_signature", "malformed"))


def test_a_signature_over_other_bytes_is_a_bad_signature():
    good = ticket(ticket_id=1)
    forged = good[:10] + ("A" if good[10] != "A" else "B") + good[11:]
    decision = verdict_of(forged)
    assert decision.verdict is Verdict.INVALID
    assert decision.reason in ("bad_signature", "malformed")


def test_valid_ticket_is_admitted_then_already_admitted_with_where_and_when():
    first = verdict_of(ticket())
    assert first.verdict is Verdict.ADMITTED
    state = next_state(None, first, NOW, "Gate A")
    second = verdict_of(ticket(), state=state)
    assert second.verdict is Verdict.ALREADY_ADMITTED
    assert second.previous.last_admitted_gate == "Gate A"
    assert second.previous.last_admitted_at == NOW


def test_event_not_configured_is_wrong_event():
    assert verdict_of(ticket(event_id=9)).verdict is Verdict.WRONG_EVENT


def test_zone_not_admitted_here_is_wrong_zone_and_unzoned_tickets_pass():
    assert verdict_of(ticket(zones=[3])).verdict is Verdict.WRONG_ZONE
    assert verdict_of(ticket(zones=[2, 3])).verdict is Verdict.ADMITTED
    assert verdict_of(ticket(zones=[])).verdict is Verdict.ADMITTED
    every_zone_gate = replace(CONFIG, zones=frozenset())
    assert verdict_of(ticket(zones=[5]), config=every_zone_gate).verdict is Verdict.ADMITTED


def test_revoked_ticket_is_refused():
    revoked = RevocationList.of([Revocation(1, 7, 1)])
    assert verdict_of(ticket(ticket_id=7), revocations=revoked).verdict is Verdict.REVOKED
    assert verdict_of(ticket(ticket_id=8), revocations=revoked).verdict is Verdict.ADMITTED


def test_ticket_window_is_checked():
    early = verdict_of(ticket(not_before=NOW + 60))
    assert early.verdict is Verdict.NOT_YET_VALID and early.reason == "ticket_window"
    late = verdict_of(ticket(not_after=NOW - 60))
    assert late.verdict is Verdict.EXPIRED and late.reason == "ticket_window"


def test_event_window_applies_when_the_ticket_has_none():
    config = replace(CONFIG, events={1: EventConfig(1, doors_open=NOW + 3600, ends=NOW + 7200)})
    early = verdict_of(ticket(), config=config)
    assert early.verdict is Verdict.NOT_YET_VALID
    assert (early.reason, early.window_start) == ("event_window", NOW + 3600)
    assert verdict_of(ticket(), config=config, now=NOW + 3601).verdict is Verdict.ADMITTED
    late = verdict_of(ticket(), config=config, now=NOW + 7201)
    assert (late.verdict, late.reason) == (Verdict.EXPIRED, "event_window")
    # the ticket's own window wins over the event's
    assert verdict_of(ticket(not_before=NOW - 10), config=config).verdict is Verdict.ADMITTED


def _run(policy, actions):
    """Apply entry/exit scans to one ticket; return the verdicts."""
    state, verdicts = None, []
    for step, direction in enumerate(actions):
        config = replace(CONFIG, reentry=policy, direction=direction)
        decision = verdict_of(ticket(), config=config, state=state)
        verdicts.append(decision.verdict.value)
        state = next_state(state, decision, NOW + step, config.gate_name) or state
    return verdicts


def test_single_entry_refuses_after_exit():
    assert _run("single", ["entry", "exit", "entry"]) == ["admitted", "exit_recorded", "already_admitted"]


def test_reentry_after_exit():
    assert _run("reentry", ["entry", "entry", "exit", "entry", "entry"]) == [
        "admitted",
        "already_admitted",
        "exit_recorded",
        "admitted",
        "already_admitted",
    ]


def test_unlimited_admits_every_time():
    assert _run("unlimited", ["entry", "entry", "entry"]) == ["admitted"] * 3


def test_exit_gate_records_exits_even_for_expired_tickets_but_not_foreign_ones():
    exit_gate = replace(CONFIG, direction="exit")
    assert verdict_of(ticket(not_after=NOW - 5), config=exit_gate).verdict is Verdict.EXIT_RECORDED
    assert verdict_of(ticket(zones=[9]), config=exit_gate).verdict is Verdict.EXIT_RECORDED
    assert verdict_of(ticket(event_id=4), config=exit_gate).verdict is Verdict.WRONG_EVENT
    assert verdict_of("hello", config=exit_gate).verdict is Verdict.NOT_A_TICKET


def test_state_after_exit_keeps_the_admission_history():
    admitted = TicketState(True, 2, 100.0, "Gate A", None)
    exit_decision = verdict_of(ticket(), config=replace(CONFIG, direction="exit"), state=admitted)
    after = next_state(admitted, exit_decision, 200.0, "Gate X")
    assert after == TicketState(False, 2, 100.0, "Gate A", 200.0)


# --- movements pulled from other gates ----------------------------------------------------------

ENTRY, EXIT = MovementKind.ENTRY, MovementKind.EXIT


def moved(kind: MovementKind, at: float, gate: str = "Gate B") -> Movement:
    return Movement(f"{int(at):032x}", 1, 7, kind, at, gate)


def fold_all(movements, state=None):
    for movement in movements:
        state = fold_movement(state, movement)
    return state


def test_an_admission_elsewhere_puts_a_ticket_inside_and_counts():
    assert fold_movement(None, moved(ENTRY, 100.0)) == TicketState(True, 1, 100.0, "Gate B", None)
    local = TicketState(True, 1, 100.0, "Gate A", None)  # this gate admitted it, then hears of another
    assert fold_movement(local, moved(ENTRY, 150.0)) == TicketState(True, 2, 150.0, "Gate B", None)


def test_an_admission_that_arrives_late_counts_but_is_not_the_last_one():
    state = TicketState(True, 1, 100.0, "Gate A", None)
    assert fold_movement(state, moved(ENTRY, 50.0)) == TicketState(True, 2, 100.0, "Gate A", None)


def test_an_exit_lets_a_ticket_out_only_if_after_its_last_admission():
    inside = TicketState(True, 1, 100.0, "Gate A", None)
    assert fold_movement(inside, moved(EXIT, 90.0)) == TicketState(True, 1, 100.0, "Gate A", 90.0)
    assert fold_movement(inside, moved(EXIT, 110.0)) == TicketState(False, 1, 100.0, "Gate A", 110.0)
    out = TicketState(False, 1, 100.0, "Gate A", 200.0)
    assert fold_movement(out, moved(EXIT, 150.0)) == out  # an older exit changes nothing
    assert fold_movement(None, moved(EXIT, 10.0)) == TicketState(False, 0, None, None, 10.0)


def test_an_admission_before_a_later_exit_leaves_the_ticket_outside():
    out = TicketState(False, 1, 100.0, "Gate A", 200.0)
    assert fold_movement(out, moved(ENTRY, 150.0)) == TicketState(False, 2, 150.0, "Gate B", 200.0)
    assert fold_movement(out, moved(ENTRY, 250.0)).inside


def test_a_movement_of_another_kind_is_not_folded():
    with pytest.raises(ValueError, match="not a movement kind"):
        fold_movement(None, Movement("a" * 32, 1, 7, "teleport", 1.0, "Gate B"))


@given(
    st.lists(st.tuples(st.sampled_from([ENTRY, EXIT]), st.sampled_from(["Gate B", "Gate C"])), max_size=8),
    st.randoms(use_true_random=False),
)
def test_movements_fold_to_the_same_state_in_any_order(steps, rng):
    """Pulls deliver movements late and out of order: with distinct times, the state is the same
    for every order, and says what the movements say (inside iff the latest is an admission)."""
    movements = [moved(kind, 1000.0 + i, gate) for i, (kind, gate) in enumerate(steps)]
    shuffled = rng.sample(movements, len(movements))
    assert fold_all(shuffled) == fold_all(movements)
    entries = [m for m in movements if m.kind is ENTRY]
    exits = [m for m in movements if m.kind is EXIT]
    if movements:
        assert fold_all(shuffled) == TicketState(
            movements[-1].kind is ENTRY,
            len(entries),
            entries[-1].at if entries else None,
            entries[-1].gate_name if entries else None,
            exits[-1].at if exits else None,
        )
