"""Gate benchmarks. Decoding: success per distortion and per-frame time for each
QR backend alone and with the extra passes, on identical synthetic camera
frames of real signed tickets (segno, then perspective, blur, noise, glare,
JPEG, dark mode) at 640x480 and 1280x720.

Goal: the combined decoder (zxing-cpp plus its extra passes, the default) decodes more frames
than every single backend alone. Time floor: converting the BGR frame to gray,
the one step every decode needs, measured in the same run.

Run: .venv/bin/python -m bench.bench_gate [--frames 20] [--seed 7] [--budget-ms 10]
Writes bench/results/bench_gate.json (each section under its own key).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from bench.stats import percentile_ms
from common.signing import SigningKey, sign_ticket
from common.signing.qr import make_qr
from gate_agent.scanner import DEFAULT_EXTRA_PASSES_BUDGET_MS, DecoderUnavailable, make_decoder

RESULTS = Path(__file__).with_name("results") / "bench_gate.json"
RESOLUTIONS = ((640, 480), (1280, 720))


# -- synthetic camera frames -----------------------------------------------------


def ticket_texts(count: int) -> list[str]:
    key = SigningKey.from_seed(bytes(range(32)), created_at=0)
    return [
        sign_ticket(key, event_id=4242, ticket_id=100_000 + i, ticket_type=1 + i % 3, zones=[1 + i % 4], seat=i * 7)
        for i in range(count)
    ]


def code_pixels(text: str, module_px: int, inverted: bool) -> np.ndarray:
    """The QR with its 4-module quiet zone, ``module_px`` pixels per module."""
    dark = np.array(list(make_qr(text).matrix_iter(scale=module_px, border=4)), dtype=bool)
    return np.where(dark ^ inverted, 0, 255).astype(np.uint8)


def scene(rng: np.random.Generator, size: tuple[int, int], dark: bool) -> np.ndarray:
    """A cluttered background: blotches at several scales plus a few hard edges."""
    width, height = size
    img = np.zeros((height, width, 3), np.float32)
    for cells, weight in ((4, 0.5), (16, 0.3), (64, 0.2)):
        small = rng.random((cells * height // width + 1, cells, 3)).astype(np.float32)
        img += weight * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(6):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.rectangle(img, p1, p2, tuple(float(v) for v in rng.random(3)), int(rng.integers(1, 4)))
    low, high = (10, 90) if dark else (60, 220)
    return np.clip(low + img * (high - low), 0, 255).astype(np.uint8)


def place(rng, frame, code, module_px: int, tilt: float) -> float:
    """Warp the code onto the frame: random angle and size, corners jittered by
    ``tilt``. Returns the module size in the frame, in pixels."""
    height, width = frame.shape[:2]
    side = code.shape[0]
    target = rng.uniform(0.35, 0.6) * min(width, height)
    angle = rng.uniform(0, 2 * np.pi)
    centre = np.array([rng.uniform(0.4, 0.6) * width, rng.uniform(0.4, 0.6) * height])
    square = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) * target / 2
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = square @ rot.T + centre + rng.uniform(-tilt, tilt, (4, 2)) * target
    src = np.array([[0, 0], [side, 0], [side, side], [0, side]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    warped = cv2.warpPerspective(code, matrix, (width, height), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full_like(code, 255), matrix, (width, height)) > 127
    frame[mask] = warped[mask][:, None]
    return target * module_px / side


def sensor_noise(rng, frame, sigma: float) -> np.ndarray:
    noisy = frame.astype(np.float32) + rng.normal(0, sigma, frame.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def motion_or_focus_blur(rng, frame, module_px: float) -> np.ndarray:
    if rng.random() < 0.5:
        return cv2.GaussianBlur(frame, (0, 0), rng.uniform(0.45, 0.75) * module_px)
    length = max(3, int(rng.uniform(1.0, 1.6) * module_px))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    return cv2.filter2D(frame, -1, kernel / max(kernel.sum(), 1e-6))


def glare(rng, frame) -> np.ndarray:
    """A bright reflection (phone screen, laminated paper) washing out part of the code."""
    height, width = frame.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0.35, 0.65) * width, rng.uniform(0.35, 0.65) * height
    radius = rng.uniform(0.08, 0.16) * min(width, height)
    spot = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2)) * rng.uniform(170, 240)
    return np.clip(frame.astype(np.float32) + spot[..., None], 0, 255).astype(np.uint8)


def jpeg(rng, frame) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(5, 14))])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def make_frame(rng, text: str, size: tuple[int, int], distortion: str) -> np.ndarray:
    """One BGR camera frame of ``text`` under ``distortion`` (always with mild sensor noise)."""
    inverted = distortion == "inverted"
    frame = scene(rng, size, dark=inverted)
    module_px = 4
    code = code_pixels(text, module_px, inverted)
    contrast = rng.uniform(0.55, 0.85)  # paper/screen never gives pure black and white
    code = (128 + (code.astype(np.float32) - 128) * contrast).astype(np.uint8)
    apparent_module = place(rng, frame, code, module_px, tilt=0.16 if distortion == "perspective" else 0.03)
    if distortion == "blur":
        frame = motion_or_focus_blur(rng, frame, apparent_module)
    elif distortion == "inverted":
        frame = cv2.GaussianBlur(frame, (0, 0), 0.3 * apparent_module)
    elif distortion == "glare":
        frame = glare(rng, frame)
    frame = sensor_noise(rng, frame, rng.uniform(28, 40) if distortion == "noise" else 3.0)
    if distortion == "jpeg":
        frame = jpeg(rng, frame)
    return frame


DISTORTIONS = ("clean", "perspective", "blur", "noise", "glare", "jpeg", "inverted")


def make_frames(count: int, seed: int) -> list[dict]:
    """``count`` frames per distortion and resolution, identical for every decoder."""
    rng = np.random.default_rng(seed)
    texts = ticket_texts(count)
    frames = []
    for size in RESOLUTIONS:
        for distortion in DISTORTIONS:
            for text in texts:
                frames.append(
                    {
                        "size": size,
                        "distortion": distortion,
                        "text": text,
                        "image": make_frame(rng, text, size, distortion),
                    }
                )
    return frames


# -- decoding section ---------------------------------------------------------------


def without_deblur(budget_ms: float):
    """The default decoder minus its motion-deblur pass: what that pass adds, in the same run."""
    from gate_agent.scanner.decoders import ZxingDecoder

    class NoDeblur(ZxingDecoder):
        def _passes(self):
            return ((name, read) for name, read in super()._passes() if name != "deblur")

    return NoDeblur(extra_passes_budget_ms=budget_ms)


def decoders_to_compare(budget_ms: float) -> dict[str, object]:
    """Each backend alone (one plain read), each with its extra passes, in that order."""
    out: dict[str, object] = {}
    for backend in ("zxing", "pyzbar"):
        try:
            out[backend] = make_decoder(backend, extra_passes_budget_ms=0)
            out[f"{backend}+passes"] = make_decoder(backend, extra_passes_budget_ms=budget_ms)
            if backend == "zxing":  # a generous budget (the decode command's) for comparison
                out["zxing+passes@100ms"] = make_decoder(backend, extra_passes_budget_ms=100)
                out["zxing+passes-deblur"] = without_deblur(budget_ms)
        except DecoderUnavailable as exc:
            print(f"skipping {backend}: {exc}", file=sys.stderr)
    return out


def empty_scenes(count: int, seed: int) -> list[dict]:
    """Frames with no ticket at all: what a gate camera sees most of the time."""
    rng = np.random.default_rng(seed + 1)
    return [
        {"size": size, "image": sensor_noise(rng, scene(rng, size, dark=bool(i % 2)), 3.0)}
        for size in RESOLUTIONS
        for i in range(count)
    ]


def measure_empty(decoders: dict[str, object], scenes: list[dict]) -> list[dict]:
    """Per decoder and resolution: time spent on frames without a code, and any (false) codes."""
    rows = []
    for name, decoder in decoders.items():
        for size in RESOLUTIONS:
            times, found = [], 0
            for f in (f for f in scenes if f["size"] == size):
                start = time.perf_counter()
                found += len(decoder.decode(f["image"]))
                times.append(time.perf_counter() - start)
            rows.append(
                {
                    "decoder": name,
                    "resolution": f"{size[0]}x{size[1]}",
                    "frames": len(times),
                    "codes_found": found,
                    "p50_ms": percentile_ms(times, 50, 3),
                    "p99_ms": percentile_ms(times, 99, 3),
                }
            )
    return rows


def time_floor(frames: list[dict]) -> dict[str, float]:
    """p50 ms of BGR->gray per resolution: the least work any decode of a frame does."""
    floor = {}
    for size in RESOLUTIONS:
        times = []
        for f in (f for f in frames if f["size"] == size):
            start = time.perf_counter()
            cv2.cvtColor(f["image"], cv2.COLOR_BGR2GRAY)
            times.append(time.perf_counter() - start)
        floor[f"{size[0]}x{size[1]}"] = percentile_ms(times, 50, 3)
    return floor


def run_decoding(count: int, seed: int, budget_ms: float, progress: Callable[[str], None]) -> dict:
    progress(f"rendering {count} frames x {len(DISTORTIONS)} distortions x {len(RESOLUTIONS)} resolutions...")
    frames = make_frames(count, seed)
    floor = time_floor(frames)
    rows = []
    decoders = decoders_to_compare(budget_ms)
    for name, decoder in decoders.items():
        progress(f"decoding with {name}...")
        for size in RESOLUTIONS:
            res = f"{size[0]}x{size[1]}"
            times, per_distortion = [], {}
            wrong = 0
            for f in (f for f in frames if f["size"] == size):
                start = time.perf_counter()
                codes = decoder.decode(f["image"])
                times.append(time.perf_counter() - start)
                ok = f["text"] in codes
                wrong += any(c != f["text"] for c in codes)
                per_distortion.setdefault(f["distortion"], []).append(ok)
            total = sum(sum(v) for v in per_distortion.values())
            n = sum(len(v) for v in per_distortion.values())
            rows.append(
                {
                    "decoder": name,
                    "resolution": res,
                    "frames": n,
                    "success": round(total / n, 4),
                    "by_distortion": {d: round(sum(v) / len(v), 4) for d, v in per_distortion.items()},
                    "wrong_texts": wrong,
                    "p50_ms": percentile_ms(times, 50, 3),
                    "p99_ms": percentile_ms(times, 99, 3),
                    "floor_gray_p50_ms": floor[res],
                    "p50_over_floor": round(percentile_ms(times, 50, 3) / floor[res], 1) if floor[res] else None,
                }
            )
    progress("decoding frames without a ticket...")
    empty = measure_empty(decoders, empty_scenes(max(4, count // 2), seed))
    overall = {}
    for row in rows:
        agg = overall.setdefault(row["decoder"], [0, 0])
        agg[0] += row["success"] * row["frames"]
        agg[1] += row["frames"]
    overall_rate = {name: round(ok / n, 4) for name, (ok, n) in overall.items()}
    singles = {k: overall_rate[k] for k in ("zxing", "pyzbar") if k in overall_rate}
    best_single = max(singles.values(), default=0.0)
    with_passes = {k: v for k, v in overall_rate.items() if k not in singles}
    return {
        "frames_per_distortion": count,
        "seed": seed,
        "extra_passes_budget_ms": budget_ms,
        "distortions": list(DISTORTIONS),
        "results": rows,
        "empty_frames": empty,
        "overall_success": overall_rate,
        "goal": "zxing+passes (the default decoder) > every single backend alone",
        "over_best_single": {k: round(v / best_single, 3) if best_single else None for k, v in with_passes.items()},
        "goal_met": all(v > best_single for k, v in with_passes.items() if k == "zxing+passes"),
    }


def print_decoding(report: dict) -> None:
    dists = report["distortions"]
    header = (
        f"{'decoder':<15}{'res':>10}"
        + "".join(f"{d[:8]:>9}" for d in dists)
        + f"{'all':>7}{'p50ms':>8}{'p99ms':>8}{'xfloor':>8}"
    )
    print(header)
    for row in report["results"]:
        cells = "".join(f"{row['by_distortion'][d] * 100:>8.0f}%" for d in dists)
        print(
            f"{row['decoder']:<15}{row['resolution']:>10}{cells}{row['success'] * 100:>6.1f}%"
            f"{row['p50_ms']:>8.2f}{row['p99_ms']:>8.2f}{row['p50_over_floor']:>8}"
        )
    print(f"\nframes without a ticket:\n{'decoder':<15}{'res':>10}{'codes':>7}{'p50ms':>8}{'p99ms':>8}")
    for row in report["empty_frames"]:
        print(
            f"{row['decoder']:<15}{row['resolution']:>10}{row['codes_found']:>7}{row['p50_ms']:>8.2f}{row['p99_ms']:>8.2f}"
        )
    overall = ", ".join(f"{k} {v * 100:.1f}%" for k, v in report["overall_success"].items())
    print(f"overall: {overall}")
    ratios = ", ".join(f"{k} {v}" for k, v in report["over_best_single"].items())
    print(f"success over the best single backend: {ratios} (goal met: {report['goal_met']})")


# -- report ----------------------------------------------------------------------------


def write_section(name: str, section: dict) -> None:
    """Merge one section into bench_gate.json, keeping the other sections."""
    RESULTS.parent.mkdir(exist_ok=True)
    try:
        report = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        report = {}
    report["machine"] = {"python": platform.python_version(), "platform": platform.platform()}
    report[name] = section
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20, help="frames per distortion and resolution")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--budget-ms",
        type=float,
        default=DEFAULT_EXTRA_PASSES_BUDGET_MS,
        help="extra-pass budget of the +passes decoders",
    )
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    decoding = run_decoding(args.frames, args.seed, args.budget_ms, progress)
    print_decoding(decoding)
    write_section("decoding", decoding)
    # latency section: frame -> durable verdict (imported here: gate_latency imports this module)
    from bench.gate_latency import print_latency, run_latency

    latency = run_latency(max(60, args.frames), 20, args.seed, progress)
    print_latency(latency)
    write_section("latency", latency)
    print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
