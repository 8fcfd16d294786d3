"""Frame sources: where the gate's pictures (or scanned texts) come from.

One small interface hides the hardware, the way OctoPrint hides its webcam:
an OpenCV camera (device index or stream URL), the Raspberry Pi camera
(picamera2), image files or a folder, video files, and keyboard-wedge USB
scanners that "type" each code as a line of text. Tests and benchmarks feed
files through the same interface instead of a camera.

Pick one with :func:`open_source`; use it as a context manager and iterate
``frames()``, which ends when the source is exhausted or closed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm", ".pnm", ".jp2", ".gif"}
)
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".mjpeg", ".mjpg", ".wmv", ".flv", ".ts", ".ogv"}
)
STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")
# A keyboard-wedge code without a trailing Enter ends when the typing pauses this long.
DEFAULT_WEDGE_IDLE_S = 0.2
# A camera that fails this many reads in a row is considered gone.
MAX_CONSECUTIVE_READ_FAILURES = 30
V4L2_EXPOSURE_UNIT_S = 100e-6  # V4L2 exposure_time_absolute counts 100 µs steps
V4L2_MANUAL_EXPOSURE = 1  # OpenCV's V4L2 backend: CAP_PROP_AUTO_EXPOSURE 1 = manual, 3 = auto


def apply_exposure(capture, exposure: float | None, name: str) -> bool:
    """Fix an OpenCV V4L2 camera's exposure to ``exposure`` seconds (auto exposure off; gain stays
    automatic where the camera has it). True when the camera took it; a camera that does not allow
    it keeps its automatic exposure and a warning says so."""
    if exposure is None:
        return False
    if capture.getBackendName() != "V4L2":  # other backends use other units: leave them alone
        log.warning("%s: exposure can only be set on V4L2 cameras; left on automatic", name)
        return False
    took = capture.set(cv2.CAP_PROP_AUTO_EXPOSURE, V4L2_MANUAL_EXPOSURE) and capture.set(
        cv2.CAP_PROP_EXPOSURE, max(1, round(exposure / V4L2_EXPOSURE_UNIT_S))
    )
    if not took:
        log.warning("%s: the camera does not allow setting the exposure; left on automatic", name)
        return False
    log.info("%s: exposure %.1f ms", name, capture.get(cv2.CAP_PROP_EXPOSURE) * V4L2_EXPOSURE_UNIT_S * 1000)
    return True


class SourceError(RuntimeError):
    """A frame source cannot be opened or read; the message says why and what to do."""


@dataclass(frozen=True)
class Frame:
    """One item from a source: a picture, or the text a keyboard wedge typed."""

    image: np.ndarray | None  # grayscale or BGR uint8; None for text sources
    text: str | None  # set by text sources (keyboard wedge); None for images
    mono: float  # time.monotonic() when captured
    source: str = ""  # e.g. the file name or "camera:0"


class FrameSource(ABC):
    """Yields frames until exhausted or closed.

    ``close()`` is safe from another thread while ``frames()`` runs: it stops
    the reader, and the device is given back only after the reader has left it
    (releasing an OpenCV capture or closing a descriptor under a running read
    would be a race). One reader at a time: a second ``frames()`` yields nothing.
    """

    name: str = ""
    live: bool = False  # a camera or stream: may stall or freeze, is reopened when it ends

    def __init__(self) -> None:
        self._closed = threading.Event()
        self._state_lock = threading.Lock()
        self._reading = False
        self._released = False

    def frames(self) -> Iterator[Frame]:
        """Frames in capture order; ends when the source is exhausted or closed."""
        with self._reading_session() as reading:
            if reading:
                yield from self._read_frames()

    @abstractmethod
    def _read_frames(self) -> Iterator[Frame]:
        """The source's own reading loop; runs inside one reading session."""

    def close(self) -> None:
        with self._state_lock:
            if self._closed.is_set():
                return
            self._closed.set()
            reading = self._reading
        self._interrupt()
        if not reading:
            self._release_once()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @contextlib.contextmanager
    def _reading_session(self) -> Iterator[bool]:
        """Wraps the body of frames(); yields False if closed or already being read."""
        with self._state_lock:
            allowed = not self._closed.is_set() and not self._reading
            if allowed:
                self._reading = True
        try:
            yield allowed
        finally:
            if allowed:
                with self._state_lock:
                    self._reading = False
                    release = self._closed.is_set()
                if release:
                    self._release_once()

    def _interrupt(self) -> None:  # noqa: B027 - optional hook: most sources have nothing to wake
        """Wake a reader blocked waiting for the device (nothing to do for most sources)."""

    def _release(self) -> None:  # noqa: B027 - optional hook: sources without a device keep nothing
        """Give the device or stream back; runs once, after close(), with no reader inside."""

    def _release_once(self) -> None:
        with self._state_lock:
            if self._released:
                return
            self._released = True
        self._release()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class _WakePipe:
    """Lets close() in one thread wake a select() in another."""

    def __init__(self) -> None:
        self.read_fd, self._write_fd = os.pipe()

    def wake(self) -> None:
        try:
            os.write(self._write_fd, b"x")
        except OSError:  # already closed
            pass

    def __del__(self) -> None:
        for fd in (self.read_fd, self._write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


class _Pacer:
    """Spaces frames 1/fps apart (file sources replayed like a camera); no-op without fps."""

    def __init__(self, fps: float | None, closed: threading.Event) -> None:
        self._interval = 1.0 / fps if fps and fps > 0 else 0.0
        self._closed = closed
        self._next: float | None = None  # when the next frame is due; the first is due at once

    def wait(self) -> None:
        if not self._interval:
            return
        if self._next is not None and (delay := self._next - time.monotonic()) > 0:
            self._closed.wait(delay)
        # A slow consumer delays the schedule rather than getting a burst of catch-up frames.
        self._next = max(self._next or 0.0, time.monotonic()) + self._interval


# -- cameras -------------------------------------------------------------------


class OpenCVCameraSource(FrameSource):
    """A camera through OpenCV: a device index (V4L2, USB webcams) or a stream URL."""

    live = True

    def __init__(
        self,
        target: int | str,
        *,
        resolution: tuple[int, int] | None = None,
        fps: float | None = None,
        exposure: float | None = None,
    ) -> None:
        super().__init__()
        self.name = f"camera:{target}" if isinstance(target, int) else _redact_url(target)
        self._capture = cv2.VideoCapture(target)
        if not self._capture.isOpened():
            self._capture.release()
            if isinstance(target, int):
                raise SourceError(f"camera {target} could not be opened (no such device, no permission, or it is busy)")
            raise SourceError(f"stream {self.name} could not be opened (unreachable, wrong URL, or not a video stream)")
        if resolution:
            width, height = resolution
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            got = (int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
            if got != (width, height):
                log.warning("%s: asked for %dx%d, the camera delivers %dx%d", self.name, width, height, *got)
        if fps:
            self._capture.set(cv2.CAP_PROP_FPS, fps)
        # Keep at most one frame queued so a slow decode never works on stale pictures.
        self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if isinstance(target, int):  # a stream's exposure is the sender's business
            apply_exposure(self._capture, exposure, self.name)

    def _read_frames(self) -> Iterator[Frame]:
        failures = 0
        while not self.closed:
            ok, image = self._capture.read()
            if not ok or image is None:
                failures += 1
                if failures >= MAX_CONSECUTIVE_READ_FAILURES:
                    log.error("%s: %d reads failed in a row, giving up", self.name, failures)
                    return
                continue
            failures = 0
            yield Frame(image, None, time.monotonic(), self.name)

    def _release(self) -> None:
        self._capture.release()


class PicameraSource(FrameSource):
    """The Raspberry Pi camera through picamera2, delivering the gray (Y) plane.

    The Y plane of YUV420 is exactly what the decoders want, so no colour
    conversion runs on the Pi's small CPU.
    """

    live = True

    def __init__(
        self,
        index: int = 0,
        *,
        resolution: tuple[int, int] | None = None,
        fps: float | None = None,
        exposure: float | None = None,
    ) -> None:
        super().__init__()
        self.name = f"picamera:{index}"
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise SourceError(
                "the Raspberry Pi camera needs picamera2, which is not installed: on Raspberry Pi OS "
                "`sudo apt install python3-picamera2` and create the venv with --system-site-packages"
            ) from exc
        width, height = resolution or (1280, 720)
        try:
            self._camera = Picamera2(index)
            controls = picamera_controls(fps, exposure)
            config = self._camera.create_video_configuration(
                main={"size": (width, height), "format": "YUV420"}, controls=controls
            )
            self._camera.configure(config)
            self._camera.start()
        except Exception as exc:  # picamera2 raises assorted errors for a missing/busy camera
            raise SourceError(f"Raspberry Pi camera {index} could not be started: {exc}") from exc
        self._width, self._height = config["main"]["size"]

    def _read_frames(self) -> Iterator[Frame]:
        while not self.closed:
            yuv = self._camera.capture_array("main")
            # The Y plane: the first `height` rows (cropped in case rows are padded to a stride).
            yield Frame(yuv[: self._height, : self._width], None, time.monotonic(), self.name)

    def _release(self) -> None:
        try:
            self._camera.stop()
            self._camera.close()
        except Exception:  # closing twice or after a failed start
            log.debug("picamera close failed", exc_info=True)


def picamera_controls(fps: float | None, exposure: float | None) -> dict:
    """libcamera controls: a fixed ExposureTime (µs) keeps automatic gain for the brightness."""
    controls: dict = {}
    if fps:
        controls["FrameRate"] = float(fps)
    if exposure is not None:
        controls["ExposureTime"] = max(1, round(exposure * 1_000_000))
    return controls


# -- files -----------------------------------------------------------------------


def read_image(path: Path | str) -> np.ndarray | None:
    """An image file as gray or BGR uint8 (alpha dropped), or None when unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_ANYCOLOR)
    if image is None or image.size == 0:
        return None
    return image


def natural_key(path: Path) -> list[object]:
    """Sort key that puts frame-2.png before frame-10.png."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


class ImageFilesSource(FrameSource):
    """Image files in the given order; unreadable ones are logged and skipped."""

    def __init__(self, paths: Sequence[Path], *, name: str = "", loop: bool = False, fps: float | None = None) -> None:
        super().__init__()
        self.paths = list(paths)
        self.name = name or (str(self.paths[0]) if len(self.paths) == 1 else f"{len(self.paths)} images")
        self.loop = loop
        self._fps = fps

    @classmethod
    def from_folder(cls, folder: Path, **kwargs: object) -> ImageFilesSource:
        paths = sorted(
            (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()), key=natural_key
        )
        if not paths:
            raise SourceError(f"{folder}: no image files in this folder ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return cls(paths, name=str(folder), **kwargs)  # type: ignore[arg-type]

    def _read_frames(self) -> Iterator[Frame]:
        pacer = _Pacer(self._fps, self._closed)
        while not self.closed:
            yielded = False
            for path in self.paths:
                if self.closed:
                    return
                image = read_image(path)
                if image is None:
                    log.warning("%s: not a readable image, skipped", path)
                    continue
                pacer.wait()
                yielded = True
                yield Frame(image, None, time.monotonic(), path.name)
            if not (self.loop and yielded):
                return


class VideoFileSource(FrameSource):
    """A video file decoded by OpenCV (FFmpeg), frame by frame."""

    def __init__(self, path: Path, *, loop: bool = False, fps: float | None = None) -> None:
        super().__init__()
        self.path = path
        self.name = path.name
        self.loop = loop
        self._fps = fps
        self._capture = cv2.VideoCapture(str(path))
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(f"{path}: not a video OpenCV can read")

    def _read_frames(self) -> Iterator[Frame]:
        pacer = _Pacer(self._fps, self._closed)
        index = 0
        while not self.closed:
            ok, image = self._capture.read()
            if not ok or image is None:
                if self.loop and index > 0 and not self.closed:
                    self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    index = 0
                    continue
                return
            pacer.wait()
            yield Frame(image, None, time.monotonic(), f"{self.name}#{index}")
            index += 1

    def _release(self) -> None:
        self._capture.release()


# -- keyboard-wedge scanners ---------------------------------------------------------


def _clean_scan(raw: bytes | str) -> str:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text.strip()


class _SelectingSource(FrameSource):
    """A source whose reader waits in select(): close() wakes it through a pipe."""

    def __init__(self) -> None:
        super().__init__()
        self._wake = _WakePipe()

    def _interrupt(self) -> None:
        self._wake.wake()


class WedgeStreamSource(_SelectingSource):
    """A keyboard-wedge scanner typing into a stream (stdin, a pipe, a FIFO, a serial tty).

    Each scan is one line. Scanners configured without a trailing Enter are
    supported too: a code also ends when the typing pauses for ``idle_s``, or
    at the end of the stream. A terminal is put into cbreak mode meanwhile so
    codes arrive without waiting for Enter.
    """

    def __init__(
        self,
        stream: BinaryIO | int,
        *,
        name: str = "stdin",
        idle_s: float = DEFAULT_WEDGE_IDLE_S,
        close_stream: bool = False,
    ) -> None:
        super().__init__()
        self.name = name
        self.idle_s = idle_s
        self._stream = stream
        self._fd = stream if isinstance(stream, int) else stream.fileno()
        self._close_stream = close_stream
        self._tty_state = None
        if os.isatty(self._fd):
            import termios
            import tty

            self._tty_state = termios.tcgetattr(self._fd)
            tty.setcbreak(self._fd)

    def _read_frames(self) -> Iterator[Frame]:
        pending = bytearray()
        last_byte = 0.0
        while not self.closed:
            timeout = max(0.0, last_byte + self.idle_s - time.monotonic()) if pending else None
            ready, _, _ = select.select([self._fd, self._wake.read_fd], [], [], timeout)
            if self._wake.read_fd in ready or self.closed:
                return
            if not ready:  # the typing paused: a code without trailing Enter is complete
                yield from self._emit(bytes(pending))
                pending.clear()
                continue
            try:
                chunk = os.read(self._fd, 4096)
            except OSError as exc:  # EIO: the other end of a tty hung up
                log.info("%s: %s", self.name, exc)
                chunk = b""
            if not chunk:  # end of stream: the last code may lack its Enter
                yield from self._emit(bytes(pending))
                return
            last_byte = time.monotonic()
            pending += chunk
            *lines, rest = re.split(rb"[\r\n]", bytes(pending))
            pending[:] = rest
            for line in lines:
                yield from self._emit(line)

    def _emit(self, raw: bytes) -> Iterator[Frame]:
        text = _clean_scan(raw)
        if text:
            yield Frame(None, text, time.monotonic(), self.name)

    def _release(self) -> None:
        if self._tty_state is not None:
            import termios

            try:
                termios.tcsetattr(self._fd, termios.TCSADRAIN, self._tty_state)
            except termios.error:  # the tty is already gone
                pass
        if self._close_stream and not isinstance(self._stream, int):
            self._stream.close()


# Linux input event key codes (linux/input-event-codes.h, a stable ABI) -> (plain, shifted), US layout.
_KEYMAP: dict[int, tuple[str, str]] = {
    **{code: (d, s) for code, d, s in zip(range(2, 12), "1234567890", "!@#$%^&*()")},
    12: ("-", "_"),
    13: ("=", "+"),
    26: ("[", "{"),
    27: ("]", "}"),
    39: (";", ":"),
    40: ("'", '"'),
    41: ("`", "~"),
    43: ("\\", "|"),
    51: (",", "<"),
    52: (".", ">"),
    53: ("/", "?"),
    57: (" ", " "),
    **{code: (c, c.upper()) for code, c in zip(range(16, 26), "qwertyuiop")},
    **{code: (c, c.upper()) for code, c in zip(range(30, 39), "asdfghjkl")},
    **{code: (c, c.upper()) for code, c in zip(range(44, 51), "zxcvbnm")},
    55: ("*", "*"),
    74: ("-", "-"),
    78: ("+", "+"),
    83: (".", "."),
    98: ("/", "/"),
    **{code: (d, d) for code, d in zip((82, 79, 80, 81, 75, 76, 77, 71, 72, 73), "0123456789")},
}
_KEY_ENTER, _KEY_KPENTER, _KEY_TAB = 28, 96, 15
_KEY_SHIFTS = frozenset({42, 54})  # left, right shift
_KEY_CAPSLOCK = 58


class KeystrokeText:
    """Turns key events (code, value: 1 down, 0 up, 2 repeat) into scanned texts."""

    def __init__(self) -> None:
        self._chars: list[str] = []
        self._shift = 0
        self._caps = False

    def feed(self, code: int, value: int) -> str | None:
        """Feed one key event; returns a finished code on Enter/Tab, else None."""
        if code in _KEY_SHIFTS:
            self._shift = max(0, self._shift + (1 if value == 1 else -1 if value == 0 else 0))
            return None
        if value != 1:
            return None
        if code == _KEY_CAPSLOCK:
            self._caps = not self._caps
        elif code in (_KEY_ENTER, _KEY_KPENTER, _KEY_TAB):
            return self.flush()
        elif code in _KEYMAP:
            plain, shifted = _KEYMAP[code]
            upper = bool(self._shift) != (self._caps and plain.isalpha())
            self._chars.append(shifted if upper else plain)
        return None

    def flush(self) -> str | None:
        """The code typed so far (when the typing paused), or None if nothing was typed."""
        text = _clean_scan("".join(self._chars))
        self._chars.clear()
        return text or None


class EvdevWedgeSource(_SelectingSource):
    """A keyboard-wedge scanner read straight from its Linux input device (python-evdev).

    The device is grabbed, so scanned codes do not also land in the console.
    """

    def __init__(self, path: str, *, idle_s: float = DEFAULT_WEDGE_IDLE_S, grab: bool = True) -> None:
        super().__init__()
        self.name = f"wedge:{path}"
        self.idle_s = idle_s
        try:
            import evdev
        except ImportError as exc:
            raise SourceError(
                f"reading the scanner at {path} needs python-evdev, which is not installed: "
                "`pip install 'ticketgate[wedge]'` (python-evdev), or let the scanner type into the terminal and use 'wedge:stdin'"
            ) from exc
        self._ecodes = evdev.ecodes
        try:
            self._device = evdev.InputDevice(path)
        except OSError as exc:
            raise SourceError(
                f"cannot open input device {path}: {exc.strerror or exc} (is the user in the 'input' group?)"
            ) from exc
        if grab:
            try:
                self._device.grab()
            except OSError as exc:
                log.warning("%s: could not grab the device (%s); codes also reach the console", path, exc)

    def _read_frames(self) -> Iterator[Frame]:
        keys = KeystrokeText()
        last_key = None
        fd = self._device.fd
        while not self.closed:
            timeout = max(0.0, last_key + self.idle_s - time.monotonic()) if last_key is not None else None
            try:
                ready, _, _ = select.select([fd, self._wake.read_fd], [], [], timeout)
            except (OSError, ValueError):
                return
            if self._wake.read_fd in ready or self.closed:
                return
            if not ready:
                last_key = None
                text = keys.flush()
                if text:
                    yield Frame(None, text, time.monotonic(), self.name)
                continue
            try:
                events = list(self._device.read())
            except OSError as exc:  # unplugged
                log.error("%s: %s", self.name, exc)
                return
            for event in events:
                if event.type != self._ecodes.EV_KEY:
                    continue
                last_key = time.monotonic()
                text = keys.feed(event.code, event.value)
                if text:
                    last_key = None
                    yield Frame(None, text, time.monotonic(), self.name)

    def _release(self) -> None:
        try:
            self._device.ungrab()
        except OSError:
            pass
        self._device.close()


# -- choosing a source -------------------------------------------------------------


def _redact_url(url: str) -> str:
    """A stream URL without its password, for names and log lines."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def open_source(
    spec: str,
    *,
    resolution: tuple[int, int] | None = None,
    fps: float | None = None,
    loop: bool = False,
    exposure: float | None = None,
) -> FrameSource:
    """Open a frame source described by ``spec``. ``exposure`` (seconds, None: automatic) is set
    on cameras that allow it: V4L2 devices through OpenCV, the Pi camera through picamera2.

    - ``camera:0`` or ``0``: an OpenCV camera by device index; ``rtsp://…``,
      ``http(s)://…``: an OpenCV stream. ``resolution``/``fps`` are requested.
    - ``picamera`` or ``picamera:1``: the Raspberry Pi camera (picamera2).
    - an image file, a folder of images (natural sort order), a video file.
      ``fps`` paces them like a camera (default: as fast as they decode);
      ``loop`` starts over at the end.
    - ``stdin``, ``-``, ``wedge:stdin``: a keyboard-wedge scanner typing into
      stdin; ``wedge:/dev/input/eventN``: its input device (python-evdev);
      ``wedge:PATH``: any other stream, e.g. a FIFO or a serial tty.

    Raises SourceError with a clear message when the source cannot be opened.
    """
    spec = spec.strip()
    if not spec:
        raise SourceError("empty source: give a camera index, URL, file, folder, 'picamera' or 'stdin'")
    lowered = spec.lower()
    if lowered in ("stdin", "-", "wedge:stdin", "wedge:-"):
        if sys.stdin is None or not hasattr(sys.stdin, "buffer"):
            raise SourceError("stdin is not available to read scanned codes from")
        return WedgeStreamSource(sys.stdin.buffer, name="stdin")
    if lowered.startswith("wedge:"):
        path = spec[len("wedge:") :]
        if path.startswith("/dev/input/"):
            return EvdevWedgeSource(path)
        try:
            stream = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by the source
        except OSError as exc:
            raise SourceError(f"cannot open scanner stream {path}: {exc.strerror or exc}") from exc
        return WedgeStreamSource(stream, name=spec, close_stream=True)
    if lowered == "picamera" or lowered.startswith("picamera:"):
        index = _parse_index(spec.partition(":")[2] or "0", spec)
        return PicameraSource(index, resolution=resolution, fps=fps, exposure=exposure)
    if lowered.startswith("camera:"):
        target = spec[len("camera:") :]
        if target.lower().startswith(STREAM_SCHEMES):
            return OpenCVCameraSource(target, resolution=resolution, fps=fps)
        return OpenCVCameraSource(_parse_index(target, spec), resolution=resolution, fps=fps, exposure=exposure)
    if spec.isdigit():
        return OpenCVCameraSource(int(spec), resolution=resolution, fps=fps, exposure=exposure)
    if lowered.startswith(STREAM_SCHEMES):
        return OpenCVCameraSource(spec, resolution=resolution, fps=fps)
    return _open_path(Path(spec), fps=fps, loop=loop)


def _parse_index(text: str, spec: str) -> int:
    if not text.isdigit():
        raise SourceError(f"{spec!r}: the camera index must be a number, e.g. camera:0")
    return int(text)


def _open_path(path: Path, *, fps: float | None, loop: bool) -> FrameSource:
    if path.is_dir():
        return ImageFilesSource.from_folder(path, fps=fps, loop=loop)
    if not path.exists():
        raise SourceError(f"{path}: no such file, folder or camera")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return VideoFileSource(path, fps=fps, loop=loop)
    if read_image(path) is None:
        raise SourceError(f"{path}: not an image OpenCV can read (nor a known video suffix)")
    return ImageFilesSource([path], loop=loop, fps=fps)
