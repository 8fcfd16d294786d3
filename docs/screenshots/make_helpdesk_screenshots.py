"""Refresh docs/screenshots/door-{admit-type-name,search,override,undo}.png: ADMIT with the ticket type
and name, finding a guest, and the supervisor's let-in-anyway and undo on the door page (#15).

Run: .venv/bin/python docs/screenshots/make_helpdesk_screenshots.py
Uses a throw-away data folder with an attendee list, the real door app on a loopback port, and headless
Chromium driven like door staff would.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from common.pin import hash_pin  # noqa: E402
from common.signing import create_key, sign_ticket  # noqa: E402
from common.signing.shortcode import grouped, short_code  # noqa: E402
from gate_agent.config import EventConfig, GateConfig, TicketTypeConfig, write_config  # noqa: E402
from gate_agent.door import DoorServer, create_door_app  # noqa: E402
from gate_agent.pipeline import Gate  # noqa: E402

OUT = Path(__file__).resolve().parent
PIN = "2468"
GUESTS = [(2001, "Zoë Adler", 5101), (2002, "Max Adler", 5101), (2003, "Ana Lima", 5102)]


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
        event = EventConfig(
            7,
            "Winter Gala",
            now - 3600,
            now + 4 * 3600,
            show_names=True,
            supervisor_pin_hash=hash_pin(PIN),
            ticket_types={1: TicketTypeConfig(1, "Child (under 14)")},
        )
        write_config(data, GateConfig(gate_id="gate-b", gate_name="Gate B", events={7: event}))
        with Gate.open(data) as gate:
            codes = {}
            for ticket_id, name, order in GUESTS:
                codes[ticket_id] = sign_ticket(key, event_id=7, ticket_id=ticket_id, ticket_type=1)
                gate.store.add_attendees(
                    [
                        {
                            "ticket_id": ticket_id,
                            "event_id": 7,
                            "code": codes[ticket_id],
                            "ticket_type": 1,
                            "order": order,
                            "name": name,
                        }
                    ]
                )
            app = create_door_app(gate)
            server = DoorServer(app, port=0, threads=8).start()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(server.url)
                page.wait_for_selector("body[data-live='1']")

                def shot(label: str) -> None:
                    page.wait_for_timeout(200)
                    page.screenshot(path=str(OUT / f"door-{label}.png"))
                    print(f"wrote {OUT / f'door-{label}.png'}")

                page.fill("#code", grouped(short_code(2001)).lower())  # a short code typed from a damaged QR
                page.click("#manual button[type=submit]")
                page.wait_for_selector("#panel.green")
                shot("admit-type-name")

                page.click("#undo")
                page.fill("#supervisor-pin", PIN)
                shot("undo")
                page.click("#supervisor-ok")
                page.wait_for_selector("#panel[data-verdict='annulled']")

                page.fill("#search-q", "adler")
                page.click("#search button[type=submit]")
                page.wait_for_selector("#search-results li >> nth=1")
                shot("search")
                page.locator("#search-results li[data-ticket-id='2001'] button").click()
                page.wait_for_selector("#panel.green")

                gate.check(codes[2001], source="camera:0")
                page.wait_for_selector("#panel[data-verdict='already_admitted']")
                page.click("#force")
                page.fill("#supervisor-reason", "came back from the car park")
                page.fill("#supervisor-pin", PIN)
                page.click("#supervisor-ok")
                page.wait_for_selector("#panel.green")
                shot("override")
                browser.close()
            app.extensions["door"].detach()
            server.stop()


if __name__ == "__main__":
    main()
