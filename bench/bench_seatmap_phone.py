"""Seat map on a phone (issue #14): time to interactive of a 10,000-seat event's page in real Chromium.

A hub (waitress on loopback, SQLite) serves three events; headless Chromium with a 390x844 phone viewport
(2x pixels, touch) opens each event page in a fresh browser context (nothing cached) `--repeat` times:

- "10,000 seats in 10 sections": the map is drawn a part at a time (hub/web/static/seatmap.js,
  SECTION_FIRST_SEATS), here a section: 1,000 seat buttons are drawn;
- "10,000 seats in one section": a part is as many rows as stay under PART_SEATS (1,000): 20 rows of 50;
- "228 seats" (the issue's small hall: 12 rows of 19): the floor.

Time to interactive: from the navigation's start to the moment the map says it is drawn and current
(#seatmap aria-busy turns false, observed in the page), beside the page's DOMContentLoaded (HTML, CSS and the
deferred scripts: what every page costs before the map's own fetches and drawing), the seat buttons then drawn, and the time a tap
on a seat takes until the cart bar shows it (one animation frame included). Not a timed test: the figures
go to bench/results/bench_seatmap_phone.json and docs/performance.md.

Run: .venv/bin/python -m bench.bench_seatmap_phone [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

RESULTS = Path(__file__).with_name("results") / "bench_seatmap_phone.json"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
# Records when the map turns interactive, from the page's own clock (ms since the navigation started).
WATCH = """
new MutationObserver((_, observer) => {
  const map = document.getElementById("seatmap");
  if (map && map.getAttribute("aria-busy") === "false" && window.__interactive === undefined) {
    window.__interactive = performance.now();
    observer.disconnect();
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["aria-busy"]});
"""


def _events(conn, organizer_id: int) -> dict[str, int]:
    from hub.services.clock import iso
    from hub.services.events import create_event
    from hub.services.venues import create_venue

    halls = {
        "10,000 seats in 10 sections": [
            {"name": f"Block {n}", "rows": [{"name": str(r), "seats": 25} for r in range(1, 41)]} for n in range(1, 11)
        ],
        "10,000 seats in one section": [
            {"name": "Arena", "rows": [{"name": str(r), "seats": 50} for r in range(1, 201)]}
        ],
        "228 seats": [{"name": "Hall", "rows": [{"name": str(r), "seats": 19} for r in range(1, 13)]}],
    }
    now = datetime.now(UTC)
    out = {}
    for name, sections in halls.items():
        venue = create_venue(conn, {"name": name, "sections": sections}, owner_id=organizer_id)
        event = create_event(
            conn,
            {
                "title": name,
                "venue_id": venue["id"],
                "starts_at": iso(now + timedelta(days=3)),
                "ticket_release_at": iso(now - timedelta(hours=1)),
                "ticket_types": [{"name": "Seat", "kind": "seated", "price": 3000}],
            },
            organizer_id=organizer_id,
        )
        out[name] = event["id"]
    return out


def _measure(browser, url: str, repeat: int) -> dict:
    interactive, loaded, drawn, taps = [], [], [], []
    for _ in range(repeat):
        context = browser.new_context(**PHONE)
        context.add_init_script(WATCH)
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("#seatmap[aria-busy=false]", timeout=60_000)
        interactive.append(page.evaluate("window.__interactive"))
        loaded.append(page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"))
        drawn.append(page.locator("button.seat").count())
        taps.append(
            page.evaluate(
                """() => new Promise((done) => {
                  const seat = document.querySelector("button.seat.available");
                  const start = performance.now();
                  seat.click();
                  requestAnimationFrame(() => done(performance.now() - start));
                })"""
            )
        )
        assert page.text_content("#picked-count") == "1"
        context.close()
    return {
        "time_to_interactive_ms_median": round(statistics.median(interactive), 1),
        "time_to_interactive_ms_max": round(max(interactive), 1),
        "dom_content_loaded_ms_median": round(statistics.median(loaded), 1),  # the page before the map's work
        "seat_buttons_drawn": drawn[0],
        "tap_to_cart_bar_ms_median": round(statistics.median(taps), 1),
        "samples": len(interactive),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright
    from waitress.server import create_server

    from hub import create_app
    from hub.db import upgrade
    from hub.services import users

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "INSTANCE_PATH": str(Path(tmp) / "i"),
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'h.db'}",
                "SWEEP_INTERVAL_SECONDS": 0,
            }
        )
        upgrade(app.extensions["tickethub.engine"])
        app.extensions["tickethub.keys"].ensure()
        with app.extensions["tickethub.engine"].connect() as conn:
            organizer = users.create_user(conn, "o@example.org", "correct horse", "organizer")
            events = _events(conn, organizer["id"])
        sock = socket.create_server(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        server = create_server(app, host="127.0.0.1", port=port, threads=4)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        rows = []
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=os.environ.get("TICKETGATE_CHROMIUM", "/usr/bin/chromium"),
                    headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
                )
                for name, event_id in events.items():
                    url = f"http://127.0.0.1:{port}/events/{event_id}"
                    _measure(browser, url, 1)  # warm the hub's seat-map cache: the figures are the browser's
                    rows.append({"event": name, **_measure(browser, url, args.repeat)})
                    print(json.dumps(rows[-1]))
                browser.close()
        finally:
            server.close()
            thread.join(timeout=10)
            app.extensions["tickethub.engine"].dispose()
    RESULTS.write_text(
        json.dumps(
            {
                "bench": "bench_seatmap_phone",
                "repeat": args.repeat,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "load_average": os.getloadavg(),
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
