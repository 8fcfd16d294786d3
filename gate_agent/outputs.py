"""Optional outputs on a Raspberry Pi: a green light or turnstile relay on ADMIT, a red light on STOP.

A pin is anything with ``on()`` and ``off()`` (gpiozero's DigitalOutputDevice is one); tests use
a fake pin through the same interface. :class:`VerdictSignal` is a gate listener, so it is called
only after the scan was committed: a turnstile never opens for a verdict that is not on disk.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class OutputPin(Protocol):
    def on(self) -> None: ...

    def off(self) -> None: ...


class VerdictSignal:
    """Pulses ``admit`` for a green verdict and ``stop`` for a red one, each for ``pulse_s``.
    A new verdict during a pulse restarts it (and ends the other pin's pulse)."""

    def __init__(self, admit: OutputPin | None = None, stop: OutputPin | None = None, pulse_s: float = 1.0):
        self.pins = {"green": admit, "red": stop}
        self.pulse_s = pulse_s
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def __call__(self, result) -> None:
        pin = self.pins.get(result.colour)
        with self._lock:
            self._end_pulse()
            if pin is None:
                return
            pin.on()
            self._timer = threading.Timer(self.pulse_s, self._off, args=(pin,))
            self._timer.daemon = True
            self._timer.start()

    def _off(self, pin: OutputPin) -> None:
        with self._lock:
            pin.off()

    def _end_pulse(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for pin in self.pins.values():
            if pin is not None:
                pin.off()

    def close(self) -> None:
        with self._lock:
            self._end_pulse()


def gpio_pin(number: int) -> OutputPin:
    """A Raspberry Pi GPIO output (BCM numbering) through gpiozero."""
    try:
        from gpiozero import DigitalOutputDevice
    except ImportError as exc:
        raise RuntimeError(
            "GPIO outputs need gpiozero: on Raspberry Pi OS `sudo apt install python3-gpiozero` "
            "and create the venv with --system-site-packages"
        ) from exc
    try:
        return DigitalOutputDevice(number, initial_value=False)
    except Exception as exc:  # gpiozero raises its own errors for a machine without GPIO or a busy pin
        raise RuntimeError(f"GPIO {number} cannot be used as an output: {exc}") from exc
