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
from gate_agent.scanner import CameraHealth, Frame  # noqa: E402

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
        clock = [float(now)]  # the gate's clock: moved on between scans, so each shows what it should
        with Gate.open(data, wall_clock=lambda: clock[0]) as gate:
            gate.store.set_sync_meta(device_id=3, last_sync_ok_at=clock[0])  # as if enrolled and just synced
            camera = CameraHealth(stall_s=3600)  # the script feeds one picture, not a stream
            preview = PreviewBuffer()
            app = create_door_app(gate, preview=preview, has_camera=True, camera=camera)
            server = DoorServer(app, port=0, threads=8).start()
            picture = Frame(camera_frame(ticket), None, time.monotonic(), "camera:0")
            preview.update(picture)
            camera.frame(picture.image)
            for i in range(3):
                gate.check(sign_ticket(key, event_id=7, ticket_id=900 + i, ticket_type=1, zones=[1], seat=i))
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])

                def shoot(page, name):
                    page.wait_for_timeout(300)  # let the preview image settle for the picture
                    page.screenshot(path=str(OUT / f"{name}.png"))
                    print(f"wrote {OUT / f'{name}.png'}")

                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(server.url)
                page.wait_for_selector("body[data-live='1'] #badge[data-online='1']")
                shoot(page, "door-online")
                gate.store.set_sync_meta(last_sync_ok_at=clock[0] - 1200)  # the hub went quiet 20 min ago
                page.wait_for_selector("#badge:not([data-online='1'])")
                shoot(page, "door-offline")
                gate.store.set_sync_meta(last_sync_ok_at=clock[0])
                camera.ended()  # the camera was unplugged
                page.wait_for_selector("#panel[data-state='camera']")
                shoot(page, "door-camera-stopped")
                camera.reopened()
                camera.frame(picture.image)
                page.wait_for_selector("#panel[data-state='ready']")
                shots = [
                    ("door-admitted", ticket, "green", 0),
                    ("door-just-admitted", ticket, "amber", 3),  # the same phone again 3 s later
                    ("door-already-used", ticket, "red", 600),
                    ("door-wrong-zone", wrong_zone, "amber", 5),
                ]
                for name, text, colour, later in shots:
                    clock[0] += later
                    gate.store.set_sync_meta(last_sync_ok_at=clock[0])
                    gate.check(text, source="camera:0")
                    page.wait_for_selector(f"#panel.{colour}[data-verdict]")
                    shoot(page, name)
                pi = browser.new_page(viewport={"width": 800, "height": 480})
                pi.goto(server.url)
                pi.wait_for_selector("body[data-live='1']")
                clock[0] += 600
                gate.store.set_sync_meta(last_sync_ok_at=clock[0])
                gate.check(ticket, source="camera:0")
                pi.wait_for_selector("#panel.red")
                shoot(pi, "door-pi-already-used")
                phone = browser.new_page(viewport={"width": 390, "height": 844})
                phone.goto(server.url)
                phone.wait_for_selector("body[data-live='1']")
                gate.check(sign_ticket(key, event_id=7, ticket_id=950, ticket_type=1, zones=[1], seat=60))
                phone.wait_for_selector("#panel.green")
                shoot(phone, "door-phone-admitted")
                # the agent stops answering: every open screen says so within about 2 s
                app.extensions["door"].detach()
                server.stop()
                page.wait_for_selector("#panel[data-state='dead']")
                shoot(page, "door-gate-not-responding")
                browser.close()


if __name__ == "__main__":
    main()
