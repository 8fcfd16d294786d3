"""Refresh docs/screenshots/dashboard-*.png and report-*.png in headless Chromium.

Run: .venv/bin/python docs/screenshots/make_dashboard_screenshots.py
Starts a throw-away hub (SQLite in a temporary folder, waitress on loopback),
sells tickets through the services, enrols two real gates (gate_agent pipeline
and sync client) that admit them over the last forty minutes, opens the live
dashboard, then lets gate B push a duplicate while the page is open.
"""

from __future__ import annotations

import random
import re
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from gate_agent.pipeline import Gate  # noqa: E402
from gate_agent.sync.client import SyncClient  # noqa: E402
from gate_agent.sync.enroll import enroll  # noqa: E402
from hub import create_app  # noqa: E402
from hub.db import upgrade  # noqa: E402
from hub.services import devices, holds, orders, users  # noqa: E402
from hub.services.clock import iso  # noqa: E402
from hub.services.events import create_event  # noqa: E402
from hub.services.live import notifier_for  # noqa: E402

OUT = Path(__file__).resolve().parent
PASSWORD = "correct horse"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1200, "height": 1000}}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(app) -> tuple[dict, list[str]]:
    now = datetime.now(UTC)
    signer = app.extensions["tickethub.keys"].ensure()
    codes = []
    with app.extensions["tickethub.engine"].connect() as conn:
        organizer = users.create_user(conn, "organizer@example.org", PASSWORD, "organizer")
        event = create_event(
            conn,
            {
                "title": "Open Air am Fluss",
                "artist": "Various",
                "category": "festival",
                "location": "Leipzig",
                "starts_at": iso(now + timedelta(minutes=20)),
                "ticket_release_at": iso(now - timedelta(days=1)),
                "service_fee": 150,
                "ticket_types": [{"name": "Standing", "kind": "ga", "price": 2400, "capacity": 300}],
            },
            organizer_id=organizer["id"],
        )
        type_id = event["ticket_types"][0]["id"]
        rng = random.Random(3)
        for i in range(60):
            hold = holds.hold_ga(conn, event["id"], type_id, rng.choice([1, 2, 2, 3, 4]))
            order = orders.purchase(
                conn,
                hold["hold_id"],
                hold["hold_token"],
                {"name": f"Guest {i}", "email": f"guest{i}@example.org"},
                "box_office",
                signer,
            )
            order = orders.confirm_payment(conn, order["id"], signer)
            if i == 7:
                orders.refund(conn, order["id"])
                continue
            codes.extend(t["code"] for t in order["tickets"])
    return event, codes


def gate(app, base_url: str, event_id: int, name: str, folder: Path, clock) -> tuple[Gate, SyncClient]:
    with app.extensions["tickethub.engine"].connect() as conn:
        _device, token = devices.create_device(conn, {"name": name, "event_id": event_id})
    enroll(folder, base_url, token)
    opened = Gate.open(folder, wall_clock=clock)
    return opened, SyncClient(folder, opened.store, opened)


def main() -> None:
    from playwright.sync_api import expect, sync_playwright
    from waitress.server import create_server

    work = Path(tempfile.mkdtemp(prefix="dashboard-shots-"))
    app = create_app(
        {"INSTANCE_PATH": str(work / "instance"), "SWEEP_INTERVAL_SECONDS": 0, "DASHBOARD_TICK_SECONDS": 2}
    )
    upgrade(app.extensions["tickethub.engine"])
    event, codes = seed(app)
    port = free_port()
    server = create_server(app, host="127.0.0.1", port=port, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    clock = {"t": time.time()}
    gate_a, client_a = gate(app, base, event["id"], "Main entrance", work / "a", lambda: clock["t"])
    gate_b, client_b = gate(app, base, event["id"], "Side gate", work / "b", lambda: clock["t"])
    try:
        # arrivals over the last forty minutes, busier towards now; a few forged and re-used tickets
        rng = random.Random(5)
        start = time.time() - 40 * 60
        admitted = sorted(rng.betavariate(3, 1.4) * 40 * 60 for _ in range(int(len(codes) * 0.8)))
        at_a = []
        for offset, code in zip(admitted, codes):
            clock["t"] = start + offset
            if rng.random() < 0.65:
                gate_a.check(code)
                at_a.append(code)
            else:
                gate_b.check(code)
        for _ in range(3):
            clock["t"] = start + rng.uniform(600, 2300)
            gate_a.check(codes[0][:-4] + "AAAA")  # forged
        clock["t"] = start + 38 * 60
        gate_b.check(codes[len(admitted)])  # not yet admitted anywhere; keeps B busy
        client_a.push_once()
        client_b.push_once()

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=shutil.which("chromium"), headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            for name, options in (("dashboard-desktop", DESKTOP), ("dashboard-phone", PHONE)):
                context = browser.new_context(**options)
                page = context.new_page()
                page.goto(f"{base}/account/login")
                page.fill("#email", "organizer@example.org")
                page.fill("#password", PASSWORD)
                page.click("#login-form button[type=submit]")
                page.wait_for_url(re.compile(r"/manage"))
                page.goto(f"{base}/dashboard/events/{event['id']}")
                page.wait_for_selector("body[data-live='1']")
                if name == "dashboard-desktop":
                    # gate B (offline until now) admits a ticket gate A let in: the duplicate appears live
                    clock["t"] = time.time() - 5
                    gate_b.check(at_a[-1])
                    client_b.push_once()
                    expect(page.locator("#duplicates tr[data-ticket-id]")).to_have_count(1)
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                if name == "dashboard-desktop":
                    page.goto(f"{base}/manage/events/{event['id']}/report")
                    page.screenshot(path=str(OUT / "report-desktop.png"), full_page=True)
                context.close()
            browser.close()
        print("wrote", ", ".join(f"{n}.png" for n in ("dashboard-desktop", "dashboard-phone", "report-desktop")))
    finally:
        notifier_for(app).close()
        client_a.close()
        client_b.close()
        gate_a.close()
        gate_b.close()
        server.close()
        server.task_dispatcher.shutdown()
        app.extensions["tickethub.engine"].dispose()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
