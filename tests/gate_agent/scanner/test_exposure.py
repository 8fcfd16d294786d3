"""Camera exposure: parsed from `--exposure` / GATE_EXPOSURE and set through the camera's own
controls. The camera is the only fake: an object with OpenCV VideoCapture's set/get."""

from __future__ import annotations

import logging

import cv2
import pytest

from gate_agent.config import parse_exposure, setting_from_env
from gate_agent.scanner.frames import apply_exposure, picamera_controls


class FakeCapture:
    """What cv2.VideoCapture on a V4L2 webcam answers; ``fixed``: a camera without manual exposure."""

    def __init__(self, backend: str = "V4L2", fixed: bool = False) -> None:
        self.backend, self.fixed = backend, fixed
        self.props: dict[int, float] = {}

    def getBackendName(self) -> str:  # noqa: N802 - OpenCV's name
        return self.backend

    def set(self, prop: int, value: float) -> bool:
        if self.fixed and prop in (cv2.CAP_PROP_AUTO_EXPOSURE, cv2.CAP_PROP_EXPOSURE):
            return False
        self.props[prop] = value
        return True

    def get(self, prop: int) -> float:
        return self.props.get(prop, 0.0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1/120", 1 / 120), ("8ms", 0.008), ("0.004", 0.004), ("0.01s", 0.01), ("auto", None), (" AUTO ", None)],
)
def test_exposure_text(text, seconds):
    assert parse_exposure(text) == pytest.approx(seconds) if seconds else parse_exposure(text) is None


@pytest.mark.parametrize("text", ["fast", "1/0", "0", "-1/120", "2", "nan", "1/x"])
def test_bad_exposure_text_is_refused_with_the_forms_it_takes(text):
    with pytest.raises(ValueError, match="1/120"):
        parse_exposure(text)


def test_the_documented_default_is_1_120_and_the_variable_overrides_it():
    assert setting_from_env("GATE_EXPOSURE", {}) == pytest.approx(1 / 120)
    assert setting_from_env("GATE_EXPOSURE", {"GATE_EXPOSURE": "auto"}) is None
    assert setting_from_env("GATE_EXPOSURE", {"GATE_EXPOSURE": "1/250"}) == pytest.approx(0.004)


def test_a_v4l2_camera_gets_manual_exposure_in_100_microsecond_steps(caplog):
    capture = FakeCapture()
    caplog.set_level(logging.INFO, logger="gate_agent.scanner.frames")
    assert apply_exposure(capture, 1 / 120, "camera:0") is True
    assert capture.props == {cv2.CAP_PROP_AUTO_EXPOSURE: 1, cv2.CAP_PROP_EXPOSURE: 83}  # 8.3 ms
    assert "camera:0: exposure 8.3 ms" in caplog.text


def test_auto_exposure_leaves_the_camera_alone():
    capture = FakeCapture()
    assert apply_exposure(capture, None, "camera:0") is False
    assert capture.props == {}


@pytest.mark.parametrize("capture", [FakeCapture(fixed=True), FakeCapture(backend="GSTREAMER")])
def test_a_camera_without_the_control_keeps_scanning_on_auto_with_a_warning(capture, caplog):
    assert apply_exposure(capture, 1 / 120, "camera:0") is False
    assert "left on automatic" in caplog.text


def test_the_pi_camera_gets_exposure_time_in_microseconds():
    assert picamera_controls(30, 1 / 120) == {"FrameRate": 30.0, "ExposureTime": 8333}
    assert picamera_controls(None, None) == {}


def test_run_refuses_an_unusable_exposure_before_opening_anything(tmp_path):
    from click.testing import CliRunner

    from gate_agent.cli import main

    result = CliRunner().invoke(main, ["run", "--data-dir", str(tmp_path), "--exposure", "fast", "--headless"])
    assert result.exit_code == 2
    assert "--exposure" in result.output and "1/120" in result.output
