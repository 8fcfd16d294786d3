"""QR decoder backends behind one small interface.

``zxing`` (zxing-cpp, the default) is fast and reads inverted codes itself;
``pyzbar`` (the ``zbar`` extra, needs libzbar0) is slower and misses inverted
codes, so it tries the inverted image as its first extra pass.

Both are restricted to QR (model 1/2: no Micro QR, rMQR or 1-D barcodes) so
sensor noise is not read as a barcode, and both return text, never bytes.

When the plain read finds nothing, a decoder may spend up to
``extra_passes_budget_ms`` on cheap extra passes over prepared variants of the
frame (motion-deblurred, inverted, contrast-stretched, binarized, sharpened,
rescaled). The
budget is checked before each pass, so a pass that starts in time may finish a
little after it; a pass whose usual cost does not fit the time left is skipped,
and the next missed frame carries on with the passes this one had no time for.
Decoder objects keep that state and are not thread-safe: one per scanning thread.

With ``motion_fusion`` on, a decoder also keeps the previous frame. When the
plain read misses and part of the picture moved since that frame (a phone
sliding in), it deblurs the moving region of both frames together before the
extra passes: each frame's horizontal blur has a different length, so the
detail one blur wipes out the other keeps (see :func:`motion_deblurred`).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator

import cv2
import numpy as np

log = logging.getLogger(__name__)

# Per missed frame. Small on purpose: most camera frames hold no code, and the
# passes resume on the next frame (bench/bench_gate.py: 10 ms reads nearly what 100 ms does).
DEFAULT_EXTRA_PASSES_BUDGET_MS = 10.0
DECODER_NAMES = ("zxing", "pyzbar")


class DecoderUnavailable(RuntimeError):
    """The chosen backend cannot run here (library or shared object missing)."""


# -- image preparation ------------------------------------------------------


def to_gray(image: object) -> np.ndarray | None:
    """A 2-D uint8 view/copy of ``image``, or None when it is not a usable image.

    Grayscale uint8 input is returned as is (no copy); BGR/BGRA is converted
    once here so every pass works on the same gray frame.
    """
    if not isinstance(image, np.ndarray) or image.size == 0:
        return None
    img = image
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        return None
    if img.dtype != np.uint8:
        img = _to_uint8(img)
        if img is None:
            return None
    if img.ndim == 3:
        code = cv2.COLOR_BGR2GRAY if img.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        img = cv2.cvtColor(img, code)
    if not img.flags.c_contiguous:
        img = np.ascontiguousarray(img)
    return img


def _to_uint8(img: np.ndarray) -> np.ndarray | None:
    if img.dtype == np.bool_:
        return img.astype(np.uint8) * 255
    if img.dtype == np.uint16:
        return (img >> 8).astype(np.uint8)
    if np.issubdtype(img.dtype, np.floating):
        finite = np.nan_to_num(img.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        scale = 255.0 if float(finite.max(initial=0.0)) <= 1.0 else 1.0
        return np.clip(finite * scale, 0, 255).astype(np.uint8)
    if np.issubdtype(img.dtype, np.integer):
        return np.clip(img, 0, 255).astype(np.uint8)
    return None


def _invert(gray: np.ndarray) -> np.ndarray:
    return cv2.bitwise_not(gray)


def _stretch(gray: np.ndarray) -> np.ndarray:
    """Contrast-stretch between the 1st and 99th percentile (washed-out, dim frames)."""
    hist = cv2.calcHist([gray[::4, ::4]], [0], None, [256], [0, 256]).ravel().cumsum()
    lo, hi = np.searchsorted(hist, (0.01 * hist[-1], 0.99 * hist[-1]))
    if hi - lo < 8:
        return gray
    lut = np.clip((np.arange(256, dtype=np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    return cv2.LUT(gray, lut)


_CLAHE = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
_CLAHE_LOCK = threading.Lock()  # one OpenCV object shared by every decoder


def _clahe(gray: np.ndarray) -> np.ndarray:
    """Local histogram equalisation: lifts a code out of glare or a shadow."""
    with _CLAHE_LOCK:
        return _CLAHE.apply(gray)


def _adaptive_binarize(gray: np.ndarray) -> np.ndarray:
    block = max(15, (min(gray.shape) // 16) | 1)
    return cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 5)


def _otsu(gray: np.ndarray) -> np.ndarray:
    return cv2.threshold(cv2.GaussianBlur(gray, (3, 3), 0), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]


def _sharpen(gray: np.ndarray) -> np.ndarray:
    """A strong unsharp mask against motion/focus blur."""
    blurred = cv2.blur(gray, (11, 11))  # a box filter: about half the cost of a wide Gaussian, as good
    return cv2.addWeighted(gray, 3.0, blurred, -2.0, 0)


# Horizontal motion blur (a phone sliding in): estimate the blur length, then undo it.
MIN_BLUR_PX, MAX_BLUR_PX = 8, 64  # shorter blurs: the plain read and the sharpen pass manage
# The x-gradient's autocorrelation dips at least this far at the blur length when a
# strong blur is there; weaker dips are static frames or blur too mild to matter.
BLUR_DIP = -0.03


def motion_blur_length(gray: np.ndarray) -> int | None:
    """Length in pixels of a horizontal motion blur in ``gray``, or None.

    A box blur of length L makes the x-gradient the difference of two copies
    of the sharp edges L pixels apart, so the gradient's autocorrelation has
    its deepest negative dip at lag L. Every 8th row is enough (1-3 ms at 1280x720).
    Sharp edges a few pixels apart (a code's modules, printed text) dip too,
    at short lags: lags under MIN_BLUR_PX are not considered.
    """
    rows = gray[::8].astype(np.float32)
    if rows.shape[1] < 4 * MAX_BLUR_PX:
        return None
    grad = np.diff(rows, axis=1)
    grad -= grad.mean(axis=1, keepdims=True)
    width = cv2.getOptimalDFTSize(grad.shape[1] + MAX_BLUR_PX)  # zero padding: no wrap-around
    padded = np.zeros((grad.shape[0], width), np.float32)
    padded[:, : grad.shape[1]] = grad
    spectrum = cv2.dft(padded, flags=cv2.DFT_ROWS | cv2.DFT_COMPLEX_OUTPUT)
    power = cv2.mulSpectrums(spectrum, spectrum, cv2.DFT_ROWS, conjB=True).sum(axis=0, keepdims=True)
    autocorr = cv2.dft(power, flags=cv2.DFT_ROWS | cv2.DFT_INVERSE | cv2.DFT_REAL_OUTPUT)[0, : MAX_BLUR_PX + 1]
    if autocorr[0] <= 0:
        return None
    lag = int(np.argmin(autocorr[MIN_BLUR_PX:])) + MIN_BLUR_PX
    return lag if autocorr[lag] / autocorr[0] <= BLUR_DIP else None


@functools.lru_cache(maxsize=16)
def _wiener_filter(height: int, width: int, length: int) -> np.ndarray:
    """Per-row Wiener filter (DFT layout, read-only) undoing a centred 1 x ``length`` box blur."""
    kernel = np.zeros(width, np.float64)
    kernel[:length] = 1.0 / length
    response = np.fft.fft(np.roll(kernel, -(length // 2)))
    inverse = np.conj(response) / (np.abs(response) ** 2 + 0.01)  # 0.01: noise-to-signal guess
    row = np.stack([inverse.real, inverse.imag], axis=-1).astype(np.float32)[None]
    filt = np.ascontiguousarray(np.repeat(row, height, axis=0))
    filt.flags.writeable = False
    return filt


def _deblur_horizontal(gray: np.ndarray, length: int) -> np.ndarray:
    """Wiener deconvolution of a horizontal box blur, row by row (3 ms at 640x480, ~20 ms at 1280x720)."""
    height, width = gray.shape
    spectrum = cv2.dft(gray.astype(np.float32), flags=cv2.DFT_ROWS | cv2.DFT_COMPLEX_OUTPUT)
    restored = cv2.mulSpectrums(spectrum, _wiener_filter(height, width, length), cv2.DFT_ROWS)
    out = cv2.dft(restored, flags=cv2.DFT_ROWS | cv2.DFT_INVERSE | cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)
    return cv2.convertScaleAbs(out)


def _denoise(gray: np.ndarray) -> np.ndarray:
    """Median filter against sensor noise (cheap, keeps module edges)."""
    return cv2.medianBlur(gray, 3)


def _half(gray: np.ndarray) -> np.ndarray:
    return cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)


def _double(gray: np.ndarray) -> np.ndarray:
    """Upscale small frames (tiny codes whose modules are 1-2 px)."""
    if max(gray.shape) > 800:
        return gray
    return cv2.resize(gray, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)


# -- two frames: the moving region, deblurred together --------------------------

MOTION_CELL = 8  # px: frames are compared as 8x8-pixel block means (sensor noise averages out)
MOTION_THRESHOLD = 12  # grey levels a block mean must change by to count as moving
MOTION_MIN_CELLS = 16  # fewer moving blocks: nothing phone-sized moved
MOTION_PAD_X, MOTION_PAD_Y = 64, 64  # px around the moving blocks: blur tails, the phone's edges
MOTION_MAX_AREA = 0.5  # a larger moving region is the whole view changing (light, a bump), not a phone
MIN_SHIFT_RESPONSE = 0.1  # phase-correlation peak below this: no one shift explains the motion


def motion_region(previous: np.ndarray, current: np.ndarray) -> tuple[slice, slice] | None:
    """The part of ``current`` that moved since ``previous`` (same size, gray), padded; None when
    nothing phone-sized moved or nearly everything did. ~1 ms at 1280x720."""
    height, width = current.shape
    scale = 1.0 / MOTION_CELL
    before = cv2.resize(previous, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    after = cv2.resize(current, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    moved = cv2.absdiff(before, after) > MOTION_THRESHOLD
    if int(np.count_nonzero(moved)) < MOTION_MIN_CELLS:
        return None
    ys, xs = np.nonzero(moved)
    top, bottom = (
        max(0, int(ys.min()) * MOTION_CELL - MOTION_PAD_Y),
        min(height, (int(ys.max()) + 1) * MOTION_CELL + MOTION_PAD_Y),
    )
    left, right = (
        max(0, int(xs.min()) * MOTION_CELL - MOTION_PAD_X),
        min(width, (int(xs.max()) + 1) * MOTION_CELL + MOTION_PAD_X),
    )
    if (bottom - top) * (right - left) > MOTION_MAX_AREA * height * width or min(bottom - top, right - left) < 64:
        return None
    return slice(top, bottom), slice(left, right)


def _shift_between(previous: np.ndarray, current: np.ndarray) -> tuple[float, float] | None:
    """(dx, dy) moving ``previous`` onto ``current`` by phase correlation at half size, or None
    when no single shift stands out (the phone turned, or only the background changed)."""
    half = [
        cv2.resize(g, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA).astype(np.float32)
        for g in (previous, current)
    ]
    window = cv2.createHanningWindow(half[0].shape[::-1], cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(half[0], half[1], window)
    return (2.0 * dx, 2.0 * dy) if response >= MIN_SHIFT_RESPONSE else None


@functools.lru_cache(maxsize=64)
def _box_spectrum(width: int, length: int) -> np.ndarray:
    """Row spectrum (complex64, read-only) of a centred 1 x ``length`` box blur."""
    kernel = np.zeros(width, np.float64)
    kernel[:length] = 1.0 / length
    spectrum = np.fft.fft(np.roll(kernel, -(length // 2))).astype(np.complex64)
    spectrum.flags.writeable = False
    return spectrum


def motion_deblurred(previous: np.ndarray, current: np.ndarray) -> list[np.ndarray] | None:
    """The moving region of ``current`` with its horizontal motion blur undone: first with the help
    of ``previous``, then alone. None when nothing phone-sized moved.

    Two frames of a decelerating phone are blurred over different lengths L1, L2
    (measured in the region, where the background does not hide the blur as it does
    in the whole frame). A box blur erases the frequencies that are multiples of 1/L;
    one frame's Wiener filter can only guess them, but the other frame, aligned by
    phase correlation, still holds most of them:
    X = sum(conj(K_i) Y_i) / (sum |K_i|^2 + 0.01). The region alone gets the
    one-frame filter (the whole-frame deblur pass's job, on fewer pixels with a
    better blur length). ~15-30 ms of CPU for a 500x600 region on a loaded 2-core machine.
    """
    region = motion_region(previous, current)
    if region is None:
        return None
    crops = [np.ascontiguousarray(previous[region]), np.ascontiguousarray(current[region])]
    shift = _shift_between(*crops)
    height, width = crops[1].shape
    dft_width = cv2.getOptimalDFTSize(width + MAX_BLUR_PX)  # padding: the blur does not wrap around
    terms = []  # (conj(K) Y, |K|^2) of each frame, the current one last
    for crop, move in ((crops[0], shift), (crops[1], (0.0, 0.0))):
        if move is None:
            continue  # no shift explains the motion: the current frame alone
        length = motion_blur_length(crop)
        if not length:
            if crop is crops[1]:
                break  # nothing to undo in the current frame
            length = 1  # the previous frame was sharp: it still helps
        if move != (0.0, 0.0):
            matrix = np.float32([[1, 0, move[0]], [0, 1, move[1]]])
            crop = cv2.warpAffine(
                crop, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
        padded = cv2.copyMakeBorder(crop, 0, 0, 0, dft_width - width, cv2.BORDER_REPLICATE).astype(np.float32)
        spectrum = cv2.dft(padded, flags=cv2.DFT_ROWS | cv2.DFT_COMPLEX_OUTPUT).view(np.complex64)[..., 0]
        blur = _box_spectrum(dft_width, length)
        terms.append((spectrum * np.conj(blur), (blur.real**2 + blur.imag**2).astype(np.float32)))
    else:
        candidates = [terms] if len(terms) == 1 else [terms, terms[-1:]]
        return [_wiener_inverse(chosen, width) for chosen in candidates]
    return []


def _wiener_inverse(terms: list[tuple[np.ndarray, np.ndarray]], width: int) -> np.ndarray:
    numerator = terms[0][0] if len(terms) == 1 else terms[0][0] + terms[1][0]
    power = sum(t[1] for t in terms)
    numerator = numerator * (1.0 / (power + 0.01)).astype(np.float32)  # 0.01: noise-to-signal guess
    pairs = np.ascontiguousarray(numerator).view(np.float32).reshape(*numerator.shape, 2)
    out = cv2.dft(pairs, flags=cv2.DFT_ROWS | cv2.DFT_INVERSE | cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)
    return cv2.convertScaleAbs(out[:, :width])


# An extra pass: a name (for debug logs and the benchmark) and a read of the gray frame.
Pass = tuple[str, Callable[[np.ndarray], list[str]]]


# -- text --------------------------------------------------------------------


def bytes_to_text(data: bytes) -> str:
    """Text of a QR payload: UTF-8 first, then Shift_JIS (the QR standard's
    Japanese default, common in real codes), then Latin-1 (never fails)."""
    for encoding in ("utf-8", "shift_jis"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _unique(texts: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(t for t in texts if t))


# -- interface ---------------------------------------------------------------


class Decoder(ABC):
    """Reads QR codes from one frame. ``decode`` never raises on any image."""

    name: str = ""

    def __init__(
        self, *, extra_passes_budget_ms: float = DEFAULT_EXTRA_PASSES_BUDGET_MS, motion_fusion: bool = False
    ) -> None:
        self.extra_passes_budget_ms = max(0.0, float(extra_passes_budget_ms))
        self.motion_fusion = bool(motion_fusion)
        self._previous: np.ndarray | None = None  # the last frame, for motion fusion
        self._pass_cost: dict[str, float] = {}  # seconds, moving average per extra pass
        self._passes_cache: list[Pass] | None = None
        self._resume_at = 0  # where the next miss resumes the passes after the first

    def decode(self, image: object) -> list[str]:
        """Texts of the QR codes found in ``image`` (gray or BGR uint8), [] if none."""
        try:
            gray = to_gray(image)
            if gray is None or min(gray.shape) < 8:
                return []
            previous = self._previous
            if self.motion_fusion:  # a copy when the caller's buffer may be reused for the next frame
                self._previous = gray.copy() if gray is image else gray
            texts = self._read(gray)
            if texts:
                return texts
            moving = None
            if previous is not None and previous.shape == gray.shape:
                moving = motion_deblurred(previous, gray)
                for candidate in moving or ():
                    texts = self._read(candidate)
                    if texts:
                        log.debug("%s: motion fusion read %d code(s)", self.name, len(texts))
                        return texts
            if self.extra_passes_budget_ms <= 0:
                return []
            if moving:
                # The moving region's blur was undone and still not read: the phone is moving too fast.
                # The whole-frame deblur would repeat it, slower, and a full budget of other passes would
                # delay the next frame; one of them still runs (in turn), for a code held still elsewhere.
                return self._extra_passes(gray, skip=("deblur",), budget_ms=0.0)
            return self._extra_passes(gray)
        except Exception:  # a decoder must not take the scan loop down
            log.exception("%s decoder failed on a frame", self.name)
            return []

    @abstractmethod
    def _read(self, gray: np.ndarray) -> list[str]:
        """One plain read of a contiguous 2-D uint8 image."""

    def _passes(self) -> Iterator[Pass]:
        """Extra passes, most rescues per millisecond first (see bench/bench_gate.py)."""
        return iter(())

    def _deblur_read(self, gray: np.ndarray) -> list[str]:
        """Read the frame with its horizontal motion blur undone; [] at once when there is none."""
        length = motion_blur_length(gray)
        return self._read(_deblur_horizontal(gray, length)) if length else []

    def _on(self, prepare: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], list[str]]:
        """A pass that reads a prepared variant of the frame with this backend."""
        return lambda gray: self._read(prepare(gray))

    def _extra_passes(self, gray: np.ndarray, skip: tuple[str, ...] = (), budget_ms: float | None = None) -> list[str]:
        """Run the first pass, then the others in turn while the budget lasts.

        Every miss runs the first pass (the best rescue; ZBar's inverted read,
        zxing's motion deblur) and at least one of the others. When the budget
        runs out, the next missed frame resumes the others where this one
        stopped, so even a small budget tries every pass over a few camera
        frames of one ticket.
        A pass whose usual cost does not fit the time left is skipped, and so is
        a first pass named in ``skip``; ``budget_ms`` overrides the decoder's for this frame.
        """
        passes = self._pass_list()
        if not passes:
            return []
        budget_ms = self.extra_passes_budget_ms if budget_ms is None else budget_ms
        deadline = time.perf_counter() + budget_ms / 1000.0
        head, rest = passes[0], passes[1:]
        texts = self._run_pass(head, gray) if head[0] not in skip else []
        if texts or not rest:
            return texts
        first = self._resume_at % len(rest)
        self._resume_at = 0
        for step in range(len(rest)):
            index = (first + step) % len(rest)
            name = rest[index][0]
            now = time.perf_counter()
            if step and (now >= deadline or now + self._pass_cost.get(name, 0.0) > deadline):
                self._resume_at = self._resume_at or index
                if now >= deadline:
                    break
                continue  # a cheaper pass further on may still fit
            texts = self._run_pass(rest[index], gray)
            if texts:
                self._resume_at = 0
                return texts
        return []

    def _run_pass(self, extra_pass: Pass, gray: np.ndarray) -> list[str]:
        name, read = extra_pass
        started = time.perf_counter()
        texts = read(gray)
        took = time.perf_counter() - started
        # Moving average per pass: frames of one camera cost about the same.
        cost = self._pass_cost.get(name)
        self._pass_cost[name] = took if cost is None else 0.8 * cost + 0.2 * took
        if texts:
            log.debug("%s: extra pass %r read %d code(s)", self.name, name, len(texts))
        return texts

    def _pass_list(self) -> list[Pass]:
        if self._passes_cache is None:
            self._passes_cache = list(self._passes())
        return self._passes_cache

    def __repr__(self) -> str:
        fusion = " motion_fusion" if self.motion_fusion else ""
        return f"<{type(self).__name__} budget={self.extra_passes_budget_ms}ms{fusion}>"


class ZxingDecoder(Decoder):
    """zxing-cpp: QR model 1/2, inverted codes included, raw text (no HRI escapes)."""

    name = "zxing"

    def __init__(self, **kwargs: float | bool) -> None:
        super().__init__(**kwargs)
        try:
            import zxingcpp
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise DecoderUnavailable("zxing-cpp is not installed: pip install zxing-cpp") from exc
        self._zx = zxingcpp
        fmt = zxingcpp.BarcodeFormat
        # zxing-cpp 3 groups Micro QR and rMQR under QRCode; older versions lack the model names.
        if hasattr(fmt, "QRCodeModel2"):
            self._formats: object = [fmt.QRCodeModel1, fmt.QRCodeModel2]
        else:  # pragma: no cover - zxing-cpp 2.x
            self._formats = fmt.QRCode
        self._text_mode = zxingcpp.TextMode.Plain  # raw text: no "<SOH>"-style escapes

    def _passes(self) -> Iterator[Pass]:
        # No inverted pass: zxing-cpp's try_invert already reads light-on-dark codes.
        # First, so it runs on every miss: a phone sliding into view is blurred for
        # several frames, and deblurring each (1-3 ms to measure the blur; up to
        # ~20 ms more at 1280x720 when there is one) reads it 1-3 frames earlier
        # (bench/gate_latency.py).
        yield "deblur", self._deblur_read
        yield "adaptive", self._on(_adaptive_binarize)
        yield "sharpen", self._on(_sharpen)
        yield "clahe", self._on(_clahe)
        yield "stretch", self._on(_stretch)
        yield "half", self._on(_half)
        yield "denoise", self._on(_denoise)
        yield "double", self._on(_double)

    def _read(self, gray: np.ndarray) -> list[str]:
        results = self._zx.read_barcodes(gray, formats=self._formats, text_mode=self._text_mode, try_invert=True)
        return _unique(r.text for r in results if r.valid)


class PyzbarDecoder(Decoder):
    """ZBar through pyzbar, QR only, with raw bytes decoded by :func:`bytes_to_text`.

    ZBar guesses the text encoding itself and gets Shift_JIS and some UTF-8
    wrong, so its binary mode (libzbar >= 0.23) is switched on when available.
    """

    name = "pyzbar"

    def __init__(self, **kwargs: float | bool) -> None:
        super().__init__(**kwargs)
        try:
            from pyzbar import (
                pyzbar,  # noqa: F401  (loads libzbar, fails clearly without it)
                wrapper,
            )
        except ImportError as exc:
            raise DecoderUnavailable(
                "the pyzbar decoder needs the 'zbar' extra and libzbar0: "
                f"pip install 'ticketgate[zbar]' and apt install libzbar0 ({exc})"
            ) from exc
        self._zbar = wrapper
        # One scanner per decoder, reused for every frame (one thread per decoder).
        self._scanner = wrapper.zbar_image_scanner_create()
        if not self._scanner:
            raise DecoderUnavailable("libzbar could not create an image scanner")
        qr = wrapper.ZBarSymbol.QRCODE
        wrapper.zbar_image_scanner_set_config(self._scanner, 0, wrapper.ZBarConfig.CFG_ENABLE, 0)
        wrapper.zbar_image_scanner_set_config(self._scanner, qr, wrapper.ZBarConfig.CFG_ENABLE, 1)
        # ZBAR_CFG_BINARY: hand back the payload bytes unconverted (ignored by libzbar < 0.23).
        wrapper.zbar_image_scanner_set_config(self._scanner, qr, _ZBAR_CFG_BINARY, 1)
        self._qr_type = int(qr)
        self._y800 = _fourcc("Y800")

    def _read(self, gray: np.ndarray) -> list[str]:
        z = self._zbar
        height, width = gray.shape
        image = z.zbar_image_create()
        if not image:
            return []
        try:
            z.zbar_image_set_format(image, self._y800)
            z.zbar_image_set_size(image, width, height)
            # No copy: ZBar reads the contiguous numpy buffer, which `gray` keeps alive.
            z.zbar_image_set_data(image, ctypes.c_void_p(gray.ctypes.data), gray.size, None)
            if z.zbar_scan_image(self._scanner, image) <= 0:
                return []
            texts = []
            symbol = z.zbar_image_first_symbol(image)
            while symbol:
                if symbol.contents.type == self._qr_type:
                    data = ctypes.string_at(z.zbar_symbol_get_data(symbol), z.zbar_symbol_get_data_length(symbol))
                    texts.append(bytes_to_text(data))
                symbol = z.zbar_symbol_next(symbol)
            return _unique(texts)
        finally:
            z.zbar_image_destroy(image)

    def _passes(self) -> Iterator[Pass]:
        # ZBar has no inverted search of its own: dark-mode phones need this first.
        yield "invert", self._on(_invert)
        yield "half", self._on(_half)
        yield "denoise", self._on(_denoise)
        yield "stretch", self._on(_stretch)
        yield "clahe", self._on(_clahe)
        yield "adaptive", self._on(_adaptive_binarize)
        yield "sharpen", self._on(_sharpen)
        yield "otsu", self._on(_otsu)

    def __del__(self) -> None:
        scanner = getattr(self, "_scanner", None)
        if scanner:
            self._zbar.zbar_image_scanner_destroy(scanner)
            self._scanner = None


def _fourcc(code: str) -> int:
    a, b, c, d = (ord(ch) for ch in code)
    return a | (b << 8) | (c << 16) | (d << 24)


_ZBAR_CFG_BINARY = 4


_BACKENDS: dict[str, type[Decoder]] = {"zxing": ZxingDecoder, "pyzbar": PyzbarDecoder}


def make_decoder(
    name: str = "zxing",
    *,
    extra_passes_budget_ms: float = DEFAULT_EXTRA_PASSES_BUDGET_MS,
    motion_fusion: bool = False,
) -> Decoder:
    """A decoder by backend name: ``zxing`` (default) or ``pyzbar``; ``motion_fusion`` for camera streams.

    Raises ValueError for an unknown name and DecoderUnavailable when the
    backend's library is missing, with a message saying what to install.
    """
    try:
        backend = _BACKENDS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown decoder {name!r}: choose one of {', '.join(DECODER_NAMES)}") from None
    return backend(extra_passes_budget_ms=extra_passes_budget_ms, motion_fusion=motion_fusion)
