"""QR decoders on real camera photos, real signed tickets (plain and dark mode) and noise."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate_agent.scanner import DecoderUnavailable, bytes_to_text, make_decoder
from tests.support import require

from .images import on_canvas, qr_gray, ticket_text

BACKENDS = ["zxing", "pyzbar"]
# Fewest qr-photos each backend must read (zxing-cpp 3.1.1 and libzbar 0.23 read at least these).
MIN_PHOTOS_READ = {"zxing": 51, "pyzbar": 41}


def decoder(name: str, **kwargs):
    try:
        return make_decoder(name, **kwargs)
    except DecoderUnavailable as exc:
        require(False, str(exc))


def same_text(decoded: str, expected: str) -> bool:
    # The fixture reads the .txt files with universal newlines and strips them.
    return decoded.replace("\r\n", "\n").replace("\r", "\n").strip() == expected


def other_codes_in(png_name: str, qr_photos) -> set[str]:
    """Texts a photo legitimately holds besides its .txt: 2-16 is a "double QR" with a
    second code nested inside; 2-13 is the picture of 2-12 whose .txt lost the final
    "y" of "photography" that the code itself (error-corrected) carries."""
    by_name = {png.name: text for png, text in qr_photos}
    return {
        "2-16.png": {"[内側QRコード]\n\n*ダブルQR*\nhttp://d-qr.net/ex/"},
        "2-13.png": {by_name.get("2-12.png", "")},
    }.get(png_name, set())


@pytest.mark.parametrize("name", BACKENDS)
def test_reads_real_photos_with_the_expected_text(name, qr_photos):
    import cv2

    dec = decoder(name)
    read, wrong = [], []
    for png, expected in qr_photos:
        codes = dec.decode(cv2.imread(str(png), cv2.IMREAD_COLOR))
        if any(same_text(code, expected) for code in codes):
            read.append(png.name)
        allowed = {expected} | other_codes_in(png.name, qr_photos)
        wrong += [(png.name, code) for code in codes if not any(same_text(code, a) for a in allowed)]
    assert not wrong, f"{name} returned texts that are not in the photo: {wrong}"
    assert len(read) >= MIN_PHOTOS_READ[name], f"{name} read {len(read)} of {len(qr_photos)}: {read}"


@pytest.mark.parametrize("name", BACKENDS)
def test_non_ascii_payloads_decode_to_the_right_text(name, qr_photos):
    """UTF-8 (Chinese) and Shift_JIS (half-width katakana) payloads come out as text, not mojibake."""
    import cv2

    photos = {png.name: (png, text) for png, text in qr_photos}
    wanted = [n for n in ("2-17.png", "2-20.png", "2-30.png") if n in photos]
    require(len(wanted) == 3, "qr-photos 2-17, 2-20 and 2-30 are missing")
    dec = decoder(name)
    for png_name in wanted:
        png, expected = photos[png_name]
        codes = dec.decode(cv2.imread(str(png), cv2.IMREAD_GRAYSCALE))
        assert [c.replace("\r\n", "\n").strip() for c in codes] == [expected], png_name


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("scale", [3, 6])
def test_reads_signed_tickets_in_gray_and_bgr(name, scale):
    text = ticket_text(ticket_id=scale)
    dec = decoder(name, extra_passes_budget_ms=0)
    gray = on_canvas(qr_gray(text, scale=scale), bgr=False)
    assert dec.decode(gray) == [text]
    assert dec.decode(np.dstack([gray] * 3)) == [text]
    assert dec.decode(np.dstack([gray] * 3 + [np.full_like(gray, 255)])) == [text]  # BGRA


@pytest.mark.parametrize("background", [30, 170])
def test_zxing_reads_dark_mode_tickets_in_its_plain_read(background):
    text = ticket_text(ticket_id=11)
    frame = on_canvas(qr_gray(text, inverted=True), background=background)
    assert decoder("zxing", extra_passes_budget_ms=0).decode(frame) == [text]


@pytest.mark.parametrize("background", [30, 170])
def test_pyzbar_reads_dark_mode_tickets_through_its_inverted_pass(background):
    """ZBar alone misses light-on-dark codes; the inverted extra pass finds them."""
    text = ticket_text(ticket_id=12)
    frame = on_canvas(qr_gray(text, inverted=True), background=background)
    assert decoder("pyzbar", extra_passes_budget_ms=0).decode(frame) == []
    assert decoder("pyzbar", extra_passes_budget_ms=1000).decode(frame) == [text]


@pytest.mark.parametrize("name", BACKENDS)
def test_two_tickets_in_one_frame_are_both_read(name):
    first, second = ticket_text(ticket_id=21), ticket_text(ticket_id=22)
    frame = np.full((480, 1000), 200, dtype=np.uint8)
    a, b = qr_gray(first, scale=4), qr_gray(second, scale=4)
    frame[40 : 40 + a.shape[0], 20 : 20 + a.shape[1]] = a
    frame[40 : 40 + b.shape[0], 520 : 520 + b.shape[1]] = b
    assert sorted(decoder(name, extra_passes_budget_ms=0).decode(frame)) == sorted([first, second])


def test_unknown_decoder_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown decoder 'zbarx'.*zxing, pyzbar"):
        make_decoder("zbarx")


@pytest.mark.parametrize(
    "image",
    [
        None,
        "not an image",
        [[0, 255]],
        np.zeros((0, 0), np.uint8),
        np.zeros((1, 1), np.uint8),
        np.zeros((40, 40, 2), np.uint8),
        np.zeros((4, 4, 4, 4), np.uint8),
        np.ones((50, 50), np.float64),
        np.full((60, 60), np.nan),
        np.zeros((64, 64), bool),
        np.zeros((64, 64, 3), np.uint16),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, np.ndarray) else f"{v.dtype}{v.shape}",
)
@pytest.mark.parametrize("name", BACKENDS)
def test_odd_inputs_give_no_codes_and_no_exception(name, image):
    assert decoder(name).decode(image) == []


@pytest.mark.parametrize("name", BACKENDS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    height=st.integers(1, 240),
    width=st.integers(1, 320),
    channels=st.sampled_from([None, 1, 3, 4]),
    smooth=st.booleans(),
)
def test_random_noise_never_reads_as_a_qr_code(name, seed, height, width, channels, smooth):
    import cv2

    rng = np.random.default_rng(seed)
    shape = (height, width) if channels is None else (height, width, channels)
    image = rng.integers(0, 256, size=shape, dtype=np.uint8)
    if smooth and min(height, width) > 3:  # blotchy noise looks more like a real scene than salt-and-pepper
        image = cv2.resize(image[::4, ::4], (width, height), interpolation=cv2.INTER_NEAREST)
    assert decoder(name).decode(image) == []


@given(st.binary(max_size=300))
def test_bytes_to_text_never_fails(data):
    text = bytes_to_text(data)
    assert isinstance(text, str)
    try:
        assert text == data.decode("utf-8")
    except UnicodeDecodeError:
        pass


def test_bytes_to_text_encodings():
    assert bytes_to_text("測試".encode()) == "測試"
    assert bytes_to_text("ﾃﾞｻﾞｲﾝQR".encode("shift_jis")) == "ﾃﾞｻﾞｲﾝQR"
    assert bytes_to_text(b"\xff\xfe caf\xe9") == "\xff\xfe caf\xe9"  # neither UTF-8 nor Shift_JIS: Latin-1


def blurred_ticket():
    """A defocused ticket that zxing-cpp's plain read misses and only the sharpen pass reads."""
    import cv2

    text = ticket_text(ticket_id=77)
    return text, cv2.GaussianBlur(on_canvas(qr_gray(text, scale=4), bgr=False), (0, 0), 2.5)


def test_sharpen_pass_reads_a_blurred_ticket_the_plain_read_misses():
    text, frame = blurred_ticket()
    assert decoder("zxing", extra_passes_budget_ms=0).decode(frame) == []
    assert decoder("zxing", extra_passes_budget_ms=1000).decode(frame) == [text]


def test_a_tiny_budget_resumes_the_passes_on_the_next_frame():
    """With room for little per frame, consecutive frames of one ticket try the next pass.

    A tiny code (1.3 px per module) is read only by the last pass (upscaling);
    each miss runs the first pass plus one more, so the sixth frame gets there.
    """
    import cv2

    text = ticket_text(ticket_id=78)
    frame = on_canvas(cv2.resize(qr_gray(text, scale=1), None, fx=1.3, fy=1.3, interpolation=cv2.INTER_AREA), bgr=False)
    dec = decoder("zxing", extra_passes_budget_ms=1e-6)
    others = len(dec._pass_list()) - 1
    assert [dec.decode(frame) for _ in range(others)] == [[]] * (others - 1) + [[text]]
    assert dec.decode(frame) == []  # after a read the rotation starts over
    assert decoder("zxing", extra_passes_budget_ms=1000).decode(frame) == [text]
    assert decoder("zxing", extra_passes_budget_ms=0).decode(frame) == []


def hide_pyzbar(monkeypatch):
    """Make `import pyzbar` fail the way it does without the zbar extra installed."""
    for module in [m for m in sys.modules if m == "pyzbar" or m.startswith("pyzbar.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "pyzbar", None)


def test_pyzbar_missing_is_a_clear_error(monkeypatch):
    hide_pyzbar(monkeypatch)
    with pytest.raises(DecoderUnavailable, match="zbar' extra and libzbar0"):
        make_decoder("pyzbar")
    assert make_decoder("zxing").decode(on_canvas(qr_gray(ticket_text(ticket_id=9)))) == [ticket_text(ticket_id=9)]


@pytest.mark.parametrize("name", BACKENDS)
def test_array_views_are_read_without_the_caller_copying(name):
    """Crops, strided, transposed, Fortran-order and channel-reversed views of a frame."""
    text = ticket_text(ticket_id=3)
    frame = on_canvas(qr_gray(text, scale=6))
    dec = decoder(name, extra_passes_budget_ms=0)
    views = [
        frame[::2, ::2],
        np.asfortranarray(frame[:, :, 0]),
        frame[:, :, 0].T,
        frame[:, :, ::-1],
        frame[100:400, 150:500],
    ]
    assert [dec.decode(view) for view in views] == [[text]] * len(views)


def motion_blurred(image: np.ndarray, length: int) -> np.ndarray:
    """A horizontal box blur of ``length`` px: a phone moving sideways during the exposure."""
    import cv2

    return cv2.blur(image, (length, 1), borderType=cv2.BORDER_REPLICATE)


def test_horizontal_motion_blur_is_measured_and_undone():
    from gate_agent.scanner.decoders import _deblur_horizontal, motion_blur_length

    text = ticket_text(ticket_id=91)
    sharp = on_canvas(qr_gray(text, scale=6), (1280, 720), bgr=False)
    assert motion_blur_length(on_canvas(np.full((300, 300), 255, np.uint8), (1280, 720), bgr=False)) is None
    blurred = motion_blurred(sharp, 21)
    assert abs(motion_blur_length(blurred) - 21) <= 1
    plain = decoder("zxing", extra_passes_budget_ms=0)
    assert plain.decode(blurred) == []
    assert plain.decode(_deblur_horizontal(blurred, motion_blur_length(blurred))) == [text]
    # the default decoder tries it on the first missed frame, whatever else it has yet to try
    assert decoder("zxing", extra_passes_budget_ms=1e-6).decode(blurred) == [text]


# -- motion fusion: two consecutive frames of a phone sliding in --------------------------------


def sliding_phone(seed: int = 7) -> tuple[str, list[np.ndarray]]:
    """Frames of the benchmark's synthetic presentation: a phone decelerating into view at 30 fps,
    shutter open half a frame (1/60 s), blurred by the distance it moves while open."""
    from bench.gate_latency import bench_key, presentation, tickets

    text = tickets(bench_key(), 1, 20_000)[0]
    frames, _visible = presentation(np.random.default_rng(seed), text, 0.5)
    return text, frames


def test_motion_fusion_reads_a_moving_phone_that_no_single_frame_pass_reads():
    text, frames = sliding_phone()
    every_pass = decoder("zxing", extra_passes_budget_ms=10_000)
    fusion = decoder("zxing", extra_passes_budget_ms=0, motion_fusion=True)
    read_by_fusion = None
    for index, frame in enumerate(frames):
        if fusion.decode(frame) == [text]:
            read_by_fusion = index
            break
    assert read_by_fusion is not None
    single = [index for index, frame in enumerate(frames) if text in every_pass.decode(frame)]
    assert single and read_by_fusion < single[0], (read_by_fusion, single[:3])
    # the previous frame is what helps: the same frame alone is not read
    alone = decoder("zxing", extra_passes_budget_ms=0, motion_fusion=True)
    assert alone.decode(frames[read_by_fusion]) == []
    # and without the setting the decoder keeps no frame
    assert decoder("zxing", extra_passes_budget_ms=0)._previous is None


def test_motion_region_is_the_moving_phone_and_nothing_when_the_view_is_still():
    from gate_agent.scanner.decoders import motion_deblurred, motion_region

    _text, frames = sliding_phone()
    rng = np.random.default_rng(1)
    still = np.clip(frames[-1] + rng.normal(0, 3.0, frames[-1].shape), 0, 255).astype(np.uint8)
    assert motion_region(frames[-1], still) is None  # sensor noise only
    assert motion_deblurred(frames[-1], still) is None  # costs ~1 ms on the frames that hold no phone
    rows, cols = motion_region(frames[3], frames[4])
    # the phone (about 400x380 px here) moved ~90 px to the left: the region holds both positions, padded
    assert 350 <= rows.stop - rows.start <= 560 and 400 <= cols.stop - cols.start <= 800
    assert cols.stop > 640 and rows.start < 360 < rows.stop
    # the whole view changing (a light switched on) is not a phone: nothing to fuse
    assert motion_region(frames[4], brighter(frames[4])) is None


def brighter(image: np.ndarray) -> np.ndarray:
    return np.clip(image.astype(np.int16) + 60, 0, 255).astype(np.uint8)


def test_motion_fusion_reads_the_real_photos_at_least_as_well(qr_photos):
    """Unrelated consecutive frames (a folder of photos) give the fusion nothing to read wrongly,
    and every photo the decoder reads without it is still read."""
    import cv2

    def reads(dec) -> tuple[set[str], list]:
        read, wrong = set(), []
        for png, expected in qr_photos:
            codes = dec.decode(cv2.imread(str(png), cv2.IMREAD_COLOR))
            if any(same_text(code, expected) for code in codes):
                read.add(png.name)
            allowed = {expected} | other_codes_in(png.name, qr_photos)
            wrong += [(png.name, code) for code in codes if not any(same_text(code, a) for a in allowed)]
        return read, wrong

    # every extra pass on every photo: which photo a 10 ms budget reaches depends on the machine's load
    with_fusion, wrong = reads(decoder("zxing", motion_fusion=True, extra_passes_budget_ms=10_000))
    assert not wrong
    without, _ = reads(decoder("zxing", extra_passes_budget_ms=10_000))
    assert with_fusion >= without and len(with_fusion) >= MIN_PHOTOS_READ["zxing"], without - with_fusion


def test_a_moving_frame_skips_the_whole_frame_deblur_it_already_had():
    """The region's deblur replaces the whole-frame pass (slower, and its blur length is read
    through the background): that is what keeps motion fusion within a frame period."""
    text, frames = sliding_phone()
    dec = decoder("zxing", motion_fusion=True)
    assert dec.decode(frames[2]) == []  # no previous frame: the usual passes, deblur first
    assert "deblur" in dec._pass_cost
    dec._pass_cost.clear()
    assert dec.decode(frames[3]) == []  # the phone moved: its region was deblurred instead
    assert "deblur" not in dec._pass_cost and dec._pass_cost  # the other passes still ran


def test_motion_fusion_setting_is_on_by_default_and_a_bad_value_is_refused(tmp_path):
    from click.testing import CliRunner

    from gate_agent.cli import main
    from gate_agent.config import setting_from_env

    assert setting_from_env("GATE_MOTION_FUSION", {}) is True
    assert setting_from_env("GATE_MOTION_FUSION", {"GATE_MOTION_FUSION": "off"}) is False
    result = CliRunner().invoke(
        main, ["run", "--data-dir", str(tmp_path), "--headless"], env={"GATE_MOTION_FUSION": "maybe"}
    )
    assert result.exit_code == 1
    assert "GATE_MOTION_FUSION must be on or off" in result.output
