"""GPIO outputs for a light or turnstile, driven by verdicts; the pin is the only fake."""

from __future__ import annotations

import threading

import pytest

from gate_agent.outputs import VerdictSignal
from gate_agent.pipeline import Gate
from tests.gate_agent.helpers import make_gate_folder
from tests.support import wait_for


class FakePin:
    """Records what a gpiozero DigitalOutputDevice would have been told."""

    def __init__(self) -> None:
        self.lit = False
        self.log: list[str] = []
        self._lock = threading.Lock()

    def on(self) -> None:
        with self._lock:
            self.lit = True
            self.log.append("on")

    def off(self) -> None:
        with self._lock:
            if self.lit:
                self.log.append("off")
            self.lit = False


@pytest.fixture
def folder(tmp_path):
    return make_gate_folder(tmp_path)


def test_admit_pulses_the_admit_pin_and_a_refusal_the_stop_pin(folder):
    admit, stop = FakePin(), FakePin()
    signal = VerdictSignal(admit, stop, pulse_s=0.05)
    text = folder.ticket()
    with Gate.open(folder.path, wall_clock=lambda: 1_777_636_800.0) as gate:
        gate.subscribe(signal)
        assert gate.check(text).colour == "green"
        assert admit.log == ["on"] and stop.log == []
        wait_for(lambda: not admit.lit, what="the admit pulse to end")
        assert gate.check("TG1:forged").colour == "red"
        assert stop.lit and admit.log == ["on", "off"]
        wait_for(lambda: not stop.lit, what="the stop pulse to end")
        gate.check("https://example.org")  # amber: neither pin
        assert admit.log == ["on", "off"] and stop.log == ["on", "off"]
        signal.close()


def test_a_new_verdict_ends_the_previous_pulse_at_once(folder):
    admit, stop = FakePin(), FakePin()
    signal = VerdictSignal(admit, stop, pulse_s=30)  # a long pulse: only the next verdict ends it
    with Gate.open(folder.path) as gate:
        gate.subscribe(signal)
        gate.check(folder.ticket())
        assert admit.lit
        gate.check("TG1:forged")  # the turnstile must not stay open for the next person
        assert not admit.lit and stop.lit
        signal.close()
        assert not stop.lit


def test_a_gpio_pin_on_a_machine_without_gpio_is_a_clear_error(folder, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from common.signing.qr import save_qr
    from gate_agent.cli import main

    save_qr(folder.ticket(), tmp_path / "frame.png")
    monkeypatch.setenv("GATE_GPIO_ADMIT_PIN", "17")
    result = CliRunner().invoke(
        main, ["run", "--data-dir", str(folder.path), "--headless", "--source", str(tmp_path / "frame.png")]
    )
    assert result.exit_code == 1
    assert "GPIO" in result.output and "Traceback" not in result.output
