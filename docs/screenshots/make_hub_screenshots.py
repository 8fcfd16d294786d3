"""Refresh docs/screenshots/hub-*.png: the hub's pages in headless Chromium.

Run: .venv/bin/python docs/screenshots/make_hub_screenshots.py
Starts a throw-away hub (SQLite in a temporary folder) on a loopback port with
waitress, fills it with a few events through the services, then drives the
pages like a customer and an organizer would.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from hub import create_app  # noqa: E402
from hub.db import upgrade  # noqa: E402
from hub.services import holds, orders, promos, seatmap, users  # noqa: E402
from hub.services.clock import iso  # noqa: E402
from hub.services.events import create_event  # noqa: E402
from hub.services.venues import create_venue  # noqa: E402

OUT = Path(__file__).resolve().parent
PASSWORD = "correct horse"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1200, "height": 900}}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(app) -> dict:
    """A venue with three sections, a handful of events, some seats sold and held."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    signer = app.extensions["tickethub.keys"].ensure()
    with app.extensions["tickethub.engine"].connect() as conn:
        organizer = users.create_user(conn, "organizer@example.org", PASSWORD, "organizer")
        venue = create_venue(
            conn,
            {
                "name": "Stadthalle",
                "sections": [
                    {"name": "Parkett", "rows": [{"name": str(r), "seats": 14} for r in range(1, 7)]},
                    {"name": "Rang", "rows": [{"name": str(r), "seats": 10} for r in range(1, 4)]},
                ],
            },
            owner_id=organizer["id"],
        )
        shows = [
            ("Brass & Beyond", "concert", "Leipzig", 3),
            ("Winterreise", "classical", "Dresden", 6),
            ("Late Night Comedy", "comedy", "Leipzig", 9),
            ("Jazz im Hof", "jazz", "Halle", 12),
            ("Kammerorchester", "classical", "Leipzig", 16),
            ("Indie Nights", "concert", "Dresden", 21),
        ]
        events = []
        for title, category, location, days in shows:
            events.append(
                create_event(
                    conn,
                    {
                        "title": title,
                        "artist": "Ensemble Nord",
                        "category": category,
                        "location": location,
                        "description": "An evening of music in the Stadthalle. Doors open one hour before the show.",
                        "starts_at": iso(now + timedelta(days=days, hours=19 - now.hour)),
                        "venue_id": venue["id"],
                        "ticket_release_at": iso(now - timedelta(days=1)),
                        "service_fee": 150,
                        "ticket_types": [
                            {"name": "Parkett", "kind": "seated", "price": 3900, "sections": ["Parkett"], "zones": [1]},
                            {
                                "name": "Parkett concession",
                                "kind": "seated",
                                "price": 2400,
                                "sections": ["Parkett"],
                                "zones": [1],
                            },
                            {"name": "Rang", "kind": "seated", "price": 2900, "sections": ["Rang"], "zones": [2]},
                            {"name": "Standing", "kind": "ga", "price": 1900, "capacity": 200, "zones": [3]},
                        ],
                    },
                    organizer_id=organizer["id"],
                )
            )
        main = events[0]
        promos.create_promo(conn, main["id"], "FRIENDS10", "percent", 10, max_uses=50)
        for row, seats in (("1", range(5, 11)), ("2", range(3, 7)), ("3", range(8, 14))):
            held = holds.hold_seats(conn, main["id"], [("Parkett", row, str(s)) for s in seats], ttl_seconds=3600)
            order = orders.purchase(
                conn,
                held["hold_id"],
                held["hold_token"],
                {"name": "Box Office", "email": "box@example.org"},
                "box_office",
                signer,
            )
            orders.confirm_payment(conn, order["id"], signer)
        holds.hold_seats(conn, main["id"], [("Parkett", "4", str(s)) for s in (6, 7, 8)], ttl_seconds=3600)
    return {"event": main}


def main() -> None:
    from playwright.sync_api import sync_playwright
    from waitress.server import create_server

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "INSTANCE_PATH": str(Path(tmp) / "instance"),
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'hub.sqlite3'}",
                "SWEEP_INTERVAL_SECONDS": 0,
            }
        )
        upgrade(app.extensions["tickethub.engine"])
        data = seed(app)
        event_id = data["event"]["id"]
        server = create_server(app, host="127.0.0.1", port=free_port(), threads=4)
        base = f"http://127.0.0.1:{server.effective_port}"
        threading.Thread(target=server.run, daemon=True).start()
        shots = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])

            def save(page, name: str, full_page: bool = True) -> None:
                path = OUT / f"hub-{name}.png"
                size = page.viewport_size
                if full_page:  # a window as tall as the page: what is pinned to the bottom shows at the bottom
                    page.set_viewport_size({**size, "height": page.evaluate("document.documentElement.scrollHeight")})
                page.screenshot(path=str(path), full_page=full_page)
                page.set_viewport_size(size)
                shots.append(path.name)

            desktop = browser.new_context(**DESKTOP)
            page = desktop.new_page()
            page.goto(base + "/")
            save(page, "storefront")
            page.goto(base + "/calendar")
            save(page, "calendar")

            desktop_map = desktop.new_page()
            desktop_map.goto(f"{base}/events/{event_id}")
            desktop_map.wait_for_selector("#seatmap[aria-busy=false]")
            desktop_map.click('button.seat[data-index="33"]')
            save(desktop_map, "seat-map-desktop")

            # a lost race: the map has not heard yet (its clock stands still) that someone took seat 64
            racer = browser.new_context(**PHONE).new_page()
            racer.clock.install()
            racer.clock.pause_at(datetime.now(UTC) + timedelta(seconds=1))
            racer.goto(f"{base}/events/{event_id}")
            racer.wait_for_selector("#seatmap[aria-busy=false]")
            racer.click('button.seat[data-index="63"]')
            racer.click('button.seat[data-index="64"]')
            with app.extensions["tickethub.engine"].connect() as conn:
                rival = holds.hold_seats(conn, event_id, [("Parkett", "5", "9")], ttl_seconds=3600)
            seatmap.changed(event_id, app, hold_id=rival["hold_id"])
            racer.click("#hold-picked")
            racer.wait_for_url(re.compile(r"/events/\d+$"))
            racer.clock.resume()
            racer.wait_for_selector('button.seat.held[data-index="64"]')
            save(racer, "seat-map-race")

            phone = browser.new_context(**PHONE)
            mobile = phone.new_page()
            mobile.goto(f"{base}/events/{event_id}")
            mobile.wait_for_selector("#seatmap[aria-busy=false]")
            mobile.click('button.seat[data-index="61"]')
            mobile.click('button.seat[data-index="62"]')
            mobile.locator("select.seat-type").first.select_option(label="Parkett EUR 39.00")
            save(mobile, "seat-map")
            mobile.click("#hold-picked")
            mobile.wait_for_url(re.compile(r"/checkout/"))
            mobile.go_back()  # Back from checkout: the cart's seats are the buyer's, to change
            mobile.wait_for_selector("#seatmap[aria-busy=false]")
            save(mobile, "seat-map-back")
            mobile.click("#hold-picked")
            mobile.wait_for_url(re.compile(r"/checkout/"))
            mobile.fill("#name", "Ada Lovelace")
            mobile.fill("#email", "ada@example.org")
            mobile.fill("#promo_code", "FRIENDS10")
            mobile.click("button[value=apply]")
            save(mobile, "checkout")
            mobile.click("#buy")
            mobile.wait_for_url(re.compile(r"/orders/\d+/"))
            order_url = mobile.url

            staff = desktop.new_page()
            staff.goto(base + "/account/login")
            staff.fill("#email", "organizer@example.org")
            staff.fill("#password", PASSWORD)
            staff.click("#login-form button[type=submit]")
            staff.wait_for_url(re.compile(r"/manage"))
            save(staff, "organizer-dashboard")
            staff.goto(f"{base}/manage/events/{event_id}")
            save(staff, "organizer-event")
            staff.goto(f"{base}/manage/events/{event_id}/orders")
            staff.click("text=Mark paid")
            staff.wait_for_selector("text=marked paid")
            save(staff, "organizer-orders")
            staff.goto(f"{base}/manage/events/new")
            save(staff, "organizer-new-event")
            staff.goto(f"{base}/manage/staff")
            staff.fill("#invite-email", "door@example.org")
            staff.click("#invite-form button[type=submit]")
            staff.wait_for_selector("text=Invitation sent")
            save(staff, "organizer-staff")

            organizer_phone = browser.new_context(**PHONE)
            organizer_phone.add_cookies(desktop.cookies())  # the organizer's session, on a phone
            organizer_phone = organizer_phone.new_page()
            organizer_phone.goto(f"{base}/manage")
            save(organizer_phone, "organizer-dashboard-phone")

            mobile.goto(order_url)
            save(mobile, "order")
            mobile.click("text=Show ticket >> nth=0")
            mobile.wait_for_selector(".qr-card svg")
            save(mobile, "ticket-phone", full_page=False)
            dark = browser.new_context(**PHONE, color_scheme="dark")
            dark_page = dark.new_page()
            dark_page.goto(mobile.url)
            save(dark_page, "ticket-phone-dark", full_page=False)
            browser.close()
        server.close()
    print("wrote " + ", ".join(shots))


if __name__ == "__main__":
    main()
