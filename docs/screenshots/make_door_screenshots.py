"""Refresh docs/screenshots/door-*.png: the door page in headless Chromium.

Run: .venv/bin/python docs/screenshots/make_door_screenshots.py
Uses a throw-away data folder, the real door app on a loopback port, and a
synthetic camera frame for the preview.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from common.signing import create_key, sign_ticket  # noqa: E402
from common.signing.qr import make_qr  # noqa: E402
from gate_agent.config import EventConfig, GateConfig, write_config  # noqa: E402
from gate_agent.door import DoorServer, PreviewBuffer, create_door_app  # noqa: E402
from gate_agent.pipeline import Gate  # noqa: E402
from gate_agent.scanner import Frame  # noqa: E402

OUT = Path(__file__).resolve().parent
LABELS = [f"Section A · Row {row} · Seat {seat}" for row in range(1, 11) for seat in range(1, 21)]


def camera_frame(text: str) -> np.ndarray:
    """A grey 'camera' picture with a phone showing the ticket QR."""
    frame = np.full((480, 640, 3), (70, 80, 90), np.uint8)
    cv2.rectangle(frame, (200, 60), (440, 440), (25, 25, 25), -1)
    code = np.array(list(make_qr(text).matrix_iter(scale=4, border=3)), dtype=bool)
    tile = np.where(code, 0, 250).astype(np.uint8)
    tile = cv2.resize(tile, (200, 200), interpolation=cv2.INTER_NEAREST)
    frame[150:350, 220:420] = tile[..., None]
    return frame


def main() -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        key = create_key(root / "keys")
        data = root / "gate"
        data.mkdir()
        shutil.copy(root / "keys" / "keyring.json", data / "keyring.json")
        now = int(time.time())
        write_config(
            data,
            GateConfig(
                gate_id="gate-b",
                gate_name="Gate B",
                zones=frozenset({1}),
                events={7: EventConfig(7, "Concert", now - 3600, now + 3600 * 4, tuple(LABELS))},
            ),
        )
        ticket = sign_ticket(key, event_id=7, ticket_id=1001, ticket_type=1, zones=[1], seat=51)
        wrong_zone = sign_ticket(key, event_id=7, ticket_id=1002, ticket_type=1, zones=[2], seat=52)
        with Gate.open(data) as gate:
            preview = PreviewBuffer()
            app = create_door_app(gate, preview=preview, has_camera=True)
            server = DoorServer(app, port=0, threads=8).start()
            preview.update(Frame(camera_frame(ticket), None, time.monotonic(), "camera:0"))
            for i in range(3):
                gate.check(sign_ticket(key, event_id=7, ticket_id=900 + i, ticket_type=1, zones=[1], seat=i))
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
                for name, size in (("", {"width": 1280, "height": 800}), ("-pi", {"width": 800, "height": 480})):
                    page = browser.new_page(viewport=size)
                    page.goto(server.url)
                    page.wait_for_selector("body[data-live='1']")
                    shots = [
                        ("admitted", ticket, "green"),
                        ("already-used", ticket, "red"),
                        ("wrong-zone", wrong_zone, "amber"),
                    ]
                    for label, text, colour in shots:
                        if name and label != "already-used":
                            continue
                        gate.check(text, source="camera:0")
                        page.wait_for_selector(f"#panel.{colour}")
                        page.wait_for_timeout(300)  # let the preview image settle for the picture
                        page.screenshot(path=str(OUT / f"door{name}-{label}.png"))
                        print(f"wrote {OUT / f'door{name}-{label}.png'}")
                    page.close()
                browser.close()
            app.extensions["door"].detach()
            server.stop()


if __name__ == "__main__":
    main()
