"""Frame sources, with the camera faked by files fed through the same interface."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from gate_agent.scanner import (
    Frame,
    FrameSource,
    KeystrokeText,
    ScanDebouncer,
    SourceError,
    WedgeStreamSource,
    make_decoder,
    open_source,
)
from tests.support import REPO, free_port, require

from .images import blank_frame, on_canvas, qr_gray, ticket_text


def write_video(path, frames, fps=15.0):
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    require(writer.isOpened(), "OpenCV cannot write MJPG video here")
    for frame in frames:
        writer.write(frame)
    writer.release()


def scans_from(source: FrameSource, cooldown_s: float = 2.0) -> list[str]:
    """What the gate would scan: decode every frame, keep only new scans."""
    decoder, debouncer = make_decoder("zxing"), ScanDebouncer(cooldown_s)
    scans = []
    with source:
        for frame in source.frames():
            texts = [frame.text] if frame.text is not None else decoder.decode(frame.image)
            scans += [t for t in texts if debouncer.accept(t, frame.mono)]
    return scans


def test_video_of_three_tickets_gives_three_scans(tmp_path):
    """A phone held up for many frames is one scan; the next ticket right after is scanned at once."""
    tickets = [ticket_text(ticket_id=i) for i in (101, 102, 103)]
    frames = [blank_frame()] * 3
    for text in tickets:
        frames += [on_canvas(qr_gray(text, scale=4))] * 8
    frames += [on_canvas(qr_gray(tickets[1], inverted=True, scale=4), background=40)] * 4  # back again, dark mode
    path = tmp_path / "gate.avi"
    write_video(path, frames)

    source = open_source(str(path))
    assert source.name == "gate.avi"
    seen = []
    with source:
        for frame in source.frames():
            assert frame.text is None and frame.image.shape == (480, 640, 3) and frame.image.dtype == np.uint8
            seen.append(frame)
    assert len(seen) == len(frames)
    assert [f.source for f in seen[:2]] == ["gate.avi#0", "gate.avi#1"]
    assert all(a.mono <= b.mono for a, b in itertools.pairwise(seen))
    # Within the cool-down the returning ticket 102 is still the same scan...
    assert scans_from(open_source(str(path)), cooldown_s=60) == tickets
    # ...and with no cool-down every frame with a code would count.
    assert len(scans_from(open_source(str(path)), cooldown_s=0)) == len(frames) - 3


def test_looping_video_starts_over(tmp_path):
    path = tmp_path / "short.avi"
    write_video(path, [blank_frame(), on_canvas(qr_gray(ticket_text(5), scale=4))])
    with open_source(str(path), loop=True) as source:
        names = [f.source for f in itertools.islice(source.frames(), 5)]
    assert names == ["short.avi#0", "short.avi#1", "short.avi#0", "short.avi#1", "short.avi#0"]


def test_paced_video_is_delivered_like_a_camera(tmp_path):
    path = tmp_path / "paced.avi"
    write_video(path, [blank_frame()] * 4)
    with open_source(str(path), fps=50) as source:
        monos = [f.mono for f in source.frames()]
    assert monos[-1] - monos[0] >= 3 / 50 * 0.9  # three intervals of 20 ms between four frames


def test_folder_frames_come_in_natural_order_and_skip_non_images(tmp_path):
    texts = {n: ticket_text(ticket_id=n) for n in (1, 2, 10)}
    for n, text in texts.items():
        cv2.imwrite(str(tmp_path / f"frame-{n}.png"), on_canvas(qr_gray(text, scale=4), bgr=False))
    (tmp_path / "notes.txt").write_text("not a frame")
    (tmp_path / "frame-5.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with open_source(str(tmp_path)) as source:
        frames = list(source.frames())
    assert [f.source for f in frames] == ["frame-1.png", "frame-2.png", "frame-10.png"]
    decoder = make_decoder()
    assert [decoder.decode(f.image) for f in frames] == [[texts[1]], [texts[2]], [texts[10]]]


def test_single_image_file(tmp_path):
    path = tmp_path / "ticket.jpg"
    text = ticket_text(ticket_id=3)
    cv2.imwrite(str(path), on_canvas(qr_gray(text, inverted=True)))
    with open_source(str(path)) as source:
        (frame,) = list(source.frames())
    assert frame.source == "ticket.jpg" and frame.image.ndim == 3
    assert make_decoder().decode(frame.image) == [text]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("camera:63", "camera 63 could not be opened"),
        ("camera:front", "camera index must be a number"),
        ("picamera:x", "camera index must be a number"),
        ("", "empty source"),
        ("/nonexistent/ticket.png", "no such file, folder or camera"),
        ("wedge:/nonexistent/scanner", "cannot open scanner stream /nonexistent/scanner"),
    ],
)
def test_bad_specs_are_clear_errors(spec, message):
    with pytest.raises(SourceError, match=message):
        open_source(spec)


def test_files_that_are_not_images_or_videos_are_clear_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 64)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="not an image OpenCV can read"):
        open_source(str(tmp_path / "notes.txt"))
    with pytest.raises(SourceError, match="not a video OpenCV can read"):
        open_source(str(tmp_path / "broken.mp4"))
    with pytest.raises(SourceError, match="no image files in this folder"):
        open_source(str(tmp_path / "empty"))


def test_picamera_without_picamera2_is_a_clear_error():
    require(importlib.util.find_spec("picamera2") is None, "picamera2 is installed (a real Pi)")
    with pytest.raises(SourceError, match="needs picamera2.*python3-picamera2"):
        open_source("picamera")


def test_input_device_without_evdev_is_a_clear_error():
    require(importlib.util.find_spec("evdev") is None, "python-evdev is installed")
    with pytest.raises(SourceError, match="needs python-evdev.*wedge:stdin"):
        open_source("wedge:/dev/input/event0")


# -- keyboard wedge -------------------------------------------------------------------


def collect_in_background(source: FrameSource) -> queue.Queue:
    """Frames land in a queue (None at the end) so a broken source fails the test instead of hanging it."""
    out: queue.Queue = queue.Queue()

    def run():
        try:
            for frame in source.frames():
                out.put(frame)
        finally:
            out.put(None)

    threading.Thread(target=run, daemon=True).start()
    return out


def test_wedge_pipe_lines_with_and_without_enter():
    read_fd, write_fd = os.pipe()
    source = WedgeStreamSource(os.fdopen(read_fd, "rb", buffering=0), name="pipe", idle_s=0.05, close_stream=True)
    frames = collect_in_background(source)
    try:
        os.write(write_fd, b"TG1:AAA\nTG1:BBB\r\n\n  \r\n")
        assert [frames.get(timeout=5).text for _ in range(2)] == ["TG1:AAA", "TG1:BBB"]
        os.write(write_fd, b"TG1:CC")  # a scanner without Enter: the code ends when typing pauses
        os.write(write_fd, b"C")
        frame = frames.get(timeout=5)
        assert (frame.text, frame.image, frame.source) == ("TG1:CCC", None, "pipe")
        os.write(write_fd, b"TG1:DDD")  # and at the end of the stream
    finally:
        os.close(write_fd)
    assert frames.get(timeout=5).text == "TG1:DDD"
    assert frames.get(timeout=5) is None
    source.close()


def test_wedge_close_from_another_thread_ends_frames():
    read_fd, write_fd = os.pipe()
    try:
        source = WedgeStreamSource(read_fd, name="pipe")
        frames = collect_in_background(source)
        source.close()
        assert frames.get(timeout=5) is None
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_wedge_on_a_terminal_needs_no_enter():
    """A scanner that is a serial tty (or the console) is read in cbreak mode: no Enter needed."""
    import termios

    master, slave = os.openpty()
    try:
        source = open_source(f"wedge:{os.ttyname(slave)}")
        frames = collect_in_background(source)
        os.write(master, b"TG1:PTY1\r")
        assert frames.get(timeout=5).text == "TG1:PTY1"
        os.write(master, b"TG1:PTY2")
        assert frames.get(timeout=5).text == "TG1:PTY2"
        lflag = termios.tcgetattr(slave)[3]
        assert not lflag & termios.ICANON  # cbreak while open...
        source.close()
        assert frames.get(timeout=5) is None
        assert termios.tcgetattr(slave)[3] & termios.ICANON  # ...and restored on close
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("spec", ["stdin", "wedge:stdin", "-"])
def test_wedge_from_stdin(spec):
    script = (
        "import json, sys\n"
        "from gate_agent.scanner import open_source\n"
        f"with open_source({spec!r}) as source:\n"
        "    for frame in source.frames():\n"
        "        print(json.dumps([frame.text, frame.source, frame.image is None]), flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=b"TG1:ONE\nTG1:TWO\r\nTG1:THREE",
        capture_output=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert lines == [["TG1:ONE", "stdin", True], ["TG1:TWO", "stdin", True], ["TG1:THREE", "stdin", True]]


def test_keystrokes_of_an_input_device_become_text():
    """Linux key events (code, 1=down/0=up) as an evdev scanner sends them, US layout."""
    shift, enter, tab = 42, 28, 15
    keys = KeystrokeText()

    def type_text(events):
        out = []
        for code, value in events:
            text = keys.feed(code, value)
            if text is not None:
                out.append(text)
        return out

    def press(code, shifted=False):
        return ([(shift, 1)] if shifted else []) + [(code, 1), (code, 0)] + ([(shift, 0)] if shifted else [])

    # "TG1:a$ %" then Enter: T=20, G=34, 1=2, ':'=shift+39, a=30, '$'=shift+5, space=57, '%'=shift+6
    events = press(20, True) + press(34, True) + press(2) + press(39, True) + press(30) + press(5, True)
    events += press(57) + press(6, True) + press(enter)
    assert type_text(events) == ["TG1:a$ %"]
    assert type_text(press(30) + [(30, 2)] + press(44)) == []  # key repeat is ignored
    assert keys.flush() == "az"  # a pause ends a code without Enter
    assert keys.flush() is None
    assert type_text(press(58) + press(30) + press(30, True) + press(tab)) == ["Aa"]  # caps lock


def test_frame_is_a_frozen_value():
    frame = Frame(None, "TG1:X", 1.0, "stdin")
    with pytest.raises(AttributeError):
        frame.text = "other"  # type: ignore[misc]
    assert frame == Frame(None, "TG1:X", 1.0, "stdin")


class MjpegHandler(BaseHTTPRequestHandler):
    """An IP camera: an MJPEG stream over HTTP (multipart/x-mixed-replace), as many webcams serve."""

    jpeg = b""
    count = 0

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(self.jpeg)
        try:
            for _ in range(self.count):
                self.wfile.write(part + self.jpeg + b"\r\n")
        except OSError:  # the reader went away
            pass

    def log_message(self, *args):
        pass


def test_camera_stream_url_through_opencv():
    text = ticket_text(ticket_id=55)
    handler = type(
        "Handler",
        (MjpegHandler,),
        {
            "jpeg": cv2.imencode(".jpg", on_canvas(qr_gray(text, scale=4)))[1].tobytes(),
            "count": 12,
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://gate:s3cret@127.0.0.1:{server.server_address[1]}/video.mjpg"
        with open_source(url) as source:
            assert "s3cret" not in source.name and source.name.startswith("http://gate:***@127.0.0.1:")
            frames = list(itertools.islice(source.frames(), 12))
        assert len(frames) == 12
        decoder = make_decoder()
        assert all(decoder.decode(f.image) == [text] for f in frames)
        assert scans_from(open_source(url)) == [text]
    finally:
        server.shutdown()
        server.server_close()


def test_unreachable_stream_is_a_clear_error():
    with pytest.raises(SourceError, match="could not be opened .unreachable, wrong URL"):
        open_source(f"http://127.0.0.1:{free_port()}/video.mjpg")


def test_closing_a_source_while_another_thread_reads_it(tmp_path):
    """The door loop reads in one thread and close() comes from another (shutdown)."""
    path = tmp_path / "loop.avi"
    write_video(path, [blank_frame(), on_canvas(qr_gray(ticket_text(6), scale=4))])
    source = open_source(str(path), loop=True, fps=200)
    frames = collect_in_background(source)
    assert frames.get(timeout=5).source == "loop.avi#0"
    source.close()
    while (frame := frames.get(timeout=5)) is not None:  # drains, then ends: no hang, no crash
        assert frame.image is not None
    assert list(source.frames()) == []  # closed for good
    source.close()  # twice is harmless
