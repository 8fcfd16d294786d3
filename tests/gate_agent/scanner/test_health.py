"""Camera health: a stopped, silent, black or frozen camera is a state, and a stopped camera is reopened.

The camera is the only faked part: a FrameSource whose frames the test hands over, through
the same interface the OpenCV and Pi cameras implement.
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
import pytest

from gate_agent.pipeline import Gate
from gate_agent.runner import GateRunner
from gate_agent.scanner import CameraHealth, Frame, FrameSource, SourceError
from tests.gate_agent.helpers import make_gate_folder
from tests.support import wait_for

STALL_S = 3.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def noisy(seed: int, level: int = 120) -> np.ndarray:
    """A live sensor's picture: the same scene, never twice the same bits."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(level, 4, (120, 160)), 0, 255).astype(np.uint8)


@pytest.fixture
def clock():
    return Clock()


def test_a_live_camera_is_ok_while_it_delivers_changing_pictures(clock):
    health = CameraHealth(STALL_S, clock=clock)
    assert health.status().state == "starting" and health.status().ok
    for i in range(10):
        clock.now += 1
        health.frame(noisy(i))
    assert health.status().state == "ok"


def test_no_frame_for_the_stall_time_is_no_frames(clock):
    health = CameraHealth(STALL_S, clock=clock)
    health.frame(noisy(1))
    clock.now += STALL_S
    assert health.status().state == "ok"
    clock.now += 0.1
    status = health.status()
    assert status.state == "no_frames" and not status.ok
    assert status.to_json(clock.now)["message"].startswith("The camera sends no pictures")


def test_a_camera_that_never_delivers_is_no_frames(clock):
    health = CameraHealth(STALL_S, clock=clock)
    clock.now += STALL_S + 0.1
    assert health.status().state == "no_frames"


def test_a_covered_lens_is_dark_after_the_stall_time(clock):
    health = CameraHealth(STALL_S, clock=clock)
    health.frame(noisy(0))
    for i in range(1, 8):
        clock.now += 0.5
        health.frame(noisy(i, level=3))  # black, with sensor noise
    assert health.status().state == "dark"  # 3.5 s of black
    clock.now += 0.5
    health.frame(noisy(99))
    assert health.status().state == "ok"


def test_a_repeated_frame_is_frozen_but_a_still_scene_with_noise_is_not(clock):
    health = CameraHealth(STALL_S, clock=clock)
    for i in range(8):
        clock.now += 0.5
        health.frame(noisy(i))  # nobody at the door: same scene, different noise
    assert health.status().state == "ok"
    stuck = noisy(42)
    for _ in range(8):
        clock.now += 0.5
        health.frame(stuck.copy())  # a frozen driver hands out the same picture
    assert health.status().state == "frozen"


def test_files_are_not_judged_on_their_picture(clock):
    health = CameraHealth(STALL_S, live=False, clock=clock)
    stuck = noisy(1, level=0)
    for _ in range(10):
        clock.now += 1
        health.frame(stuck)
    assert health.status().state == "ok"


def test_an_ended_source_is_stopped_until_reopened(clock):
    health = CameraHealth(STALL_S, clock=clock)
    health.frame(noisy(1))
    health.ended()
    assert health.status().state == "stopped"
    health.reopened()
    assert health.status().state == "starting"


class FakeCamera(FrameSource):
    """A camera that delivers the frames put in its queue and ends ("unplugged") on None."""

    live = True

    def __init__(self, frames: queue.Queue) -> None:
        super().__init__()
        self.name = "camera:fake"
        self._frames = frames

    def _read_frames(self):
        while not self.closed:
            try:
                image = self._frames.get(timeout=0.05)
            except queue.Empty:
                continue
            if image is None:
                return
            yield Frame(image, None, time.monotonic(), self.name)


def test_a_camera_that_stops_is_reported_and_reopened(tmp_path):
    folder = make_gate_folder(tmp_path)
    frames: queue.Queue = queue.Queue()
    opened: list[FakeCamera] = []
    attempts = []
    changes = threading.Event()

    def reopen():
        attempts.append(1)
        if len(attempts) == 1:
            raise SourceError("camera 0 could not be opened")  # still unplugged: try again later
        opened.append(FakeCamera(frames))
        return opened[-1]

    health = CameraHealth(STALL_S)
    with Gate.open(folder.path) as gate:
        runner = GateRunner(gate, FakeCamera(frames), None, health=health, reopen=reopen, on_camera_change=changes.set)
        runner.start()
        try:
            frames.put(noisy(1))
            wait_for(lambda: health.status().state == "ok", what="the first frame")
            changes.clear()
            frames.put(None)  # unplugged
            wait_for(lambda: health.status().state == "stopped", what="the camera to count as stopped")
            wait_for(changes.is_set, what="the door page to be told")
            # first try fails, the second (after a doubled wait) opens the camera again
            wait_for(lambda: opened, what="the camera to be reopened")
            assert len(attempts) == 2
            frames.put(noisy(2))
            wait_for(lambda: health.status().state == "ok", what="frames from the reopened camera")
            assert runner.source is opened[0]
        finally:
            runner.stop()
