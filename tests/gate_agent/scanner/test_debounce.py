"""One scan per presentation: the debouncer on explicit monotonic times."""

from __future__ import annotations

import pytest

from gate_agent.scanner import ScanDebouncer

FRAME = 1 / 30  # a 30 fps camera


def sightings(debouncer, text, start, seconds):
    """Feed one sighting per frame for ``seconds``; return how many were accepted."""
    frames = round(seconds / FRAME)
    return sum(debouncer.accept(text, start + i * FRAME) for i in range(frames))


def test_a_phone_held_up_is_scanned_once():
    debouncer = ScanDebouncer(cooldown_s=2.0)
    assert sightings(debouncer, "TG1:A", 100.0, 10.0) == 1  # 300 frames, longer than the cool-down


def test_the_same_ticket_again_after_the_cooldown_is_a_new_scan():
    debouncer = ScanDebouncer(cooldown_s=2.0)
    assert debouncer.accept("TG1:A", 10.0)
    assert not debouncer.accept("TG1:A", 11.9)
    assert not debouncer.accept("TG1:A", 13.8)  # each sighting restarts the cool-down
    assert debouncer.accept("TG1:A", 15.8)


def test_a_different_ticket_right_after_is_scanned_at_once():
    debouncer = ScanDebouncer(cooldown_s=2.0)
    assert debouncer.accept("TG1:A", 10.0)
    assert debouncer.accept("TG1:B", 10.0 + FRAME)
    assert not debouncer.accept("TG1:A", 10.0 + 2 * FRAME)  # A was only just seen


def test_two_phones_in_one_frame_are_two_scans_not_a_flood():
    debouncer = ScanDebouncer(cooldown_s=1.0)
    accepted = [text for i in range(90) for text in ("TG1:A", "TG1:B") if debouncer.accept(text, i * FRAME)]
    assert accepted == ["TG1:A", "TG1:B"]


def test_zero_cooldown_accepts_every_sighting_and_negative_is_refused():
    debouncer = ScanDebouncer(cooldown_s=0)
    assert sightings(debouncer, "TG1:A", 0.0, 0.5) == 15
    with pytest.raises(ValueError):
        ScanDebouncer(cooldown_s=-1)


def test_many_codes_are_forgotten_once_their_cooldown_is_over():
    debouncer = ScanDebouncer(cooldown_s=1.0)
    for i in range(500):
        assert debouncer.accept(f"TG1:{i}", i * 0.1)
    assert len(debouncer._last_seen) < 100  # old codes pruned; memory stays small at a busy gate
    assert not debouncer.accept("TG1:499", 49.95)
    debouncer.reset()
    assert debouncer.accept("TG1:499", 49.96)


def test_default_time_is_the_monotonic_clock():
    debouncer = ScanDebouncer(cooldown_s=60)
    assert debouncer.accept("TG1:A")
    assert not debouncer.accept("TG1:A")
