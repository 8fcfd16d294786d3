"""Hub web delivery benchmarks: ticket PDF, QR images, phone ticket page.

Each figure stands beside a floor measured in the same run:
- PDF per ticket (10-ticket order; Latin-1 text uses a core font, other scripts
  embed a DejaVu subset) vs. fpdf2 writing the same text without the QR.
- QR as inline SVG (phone page) and as PNG (download) vs. segno encoding the
  same text without rendering.
- Phone ticket page reloads (HTML with the inline QR, kept from the first view) through the full Flask stack
  (session, CSRF, security headers, DB reads) vs. the seat JSON of a small event
  (same stack and database, no QR, no templates).

Run: .venv/bin/python -m bench.bench_hub_web [--repeat 30]
Writes bench/results/bench_hub_web.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fpdf import FPDF

from common.signing import SigningKey, sign_ticket
from common.signing.qr import make_qr
from hub.delivery import TicketCard
from hub.delivery.images import qr_png, qr_svg
from hub.delivery.pdf import tickets_pdf

RESULTS = Path(__file__).with_name("results") / "bench_hub_web.json"


def per_call_ms(fn, repeat: int) -> float:
    """Median wall time of one call, in milliseconds (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def cards(count: int, buyer: str) -> list[TicketCard]:
    key = SigningKey.from_seed(bytes(range(32)), created_at=0)
    when = datetime(2026, 12, 5, 19, 30, tzinfo=UTC)
    return [
        TicketCard(
            ticket_id=1000 + i,
            text=sign_ticket(key, event_id=7, ticket_id=1000 + i, ticket_type=1, zones=[1], seat=i),
            event_title="Brass & Beyond",
            starts_at=when,
            venue_name="Stadthalle",
            ticket_type_name="Parkett",
            buyer_name=buyer,
            section="Parkett",
            row="5",
            seat=str(i + 1),
            zone_name="1",
        )
        for i in range(count)
    ]


def text_only_pdf(items: list[TicketCard]) -> bytes:
    pdf = FPDF(unit="mm", format="A4")
    for card in items:
        pdf.add_page()
        pdf.set_font("helvetica", "B", 22)
        pdf.cell(0, 10, card.event_title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", "", 12)
        for line in (
            card.when_label,
            card.venue_name,
            card.seat_label,
            card.buyer_name,
            f"Ticket no. {card.ticket_id}",
        ):
            pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def page_figures(repeat: int) -> dict:
    from hub import create_app
    from hub.db import upgrade
    from hub.services import holds, orders, users
    from hub.services.clock import iso
    from hub.services.events import create_event
    from hub.services.venues import create_venue

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "INSTANCE_PATH": str(Path(tmp) / "i"),
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'h.db'}",
                "SWEEP_INTERVAL_SECONDS": 0,
            }
        )
        upgrade(app.extensions["tickethub.engine"])
        signer = app.extensions["tickethub.keys"].ensure()
        with app.extensions["tickethub.engine"].connect() as conn:
            organizer = users.create_user(conn, "o@example.org", "correct horse", "organizer")
            venue = create_venue(
                conn,
                {"name": "Hall", "sections": [{"name": "A", "rows": [{"name": "1", "seats": 10}]}]},
                owner_id=organizer["id"],
            )
            event = create_event(
                conn,
                {
                    "title": "Bench",
                    "venue_id": venue["id"],
                    "starts_at": iso(datetime.now(UTC) + timedelta(days=3)),
                    "ticket_types": [{"name": "Seat", "kind": "seated", "price": 0}],
                },
            )
            held = holds.hold_seats(conn, event["id"], [("A", "1", "1")])
            order = orders.purchase(
                conn, held["hold_id"], held["hold_token"], {"name": "B", "email": "b@x.org"}, "free", signer
            )
        client = app.test_client()
        ticket_url = f"/orders/{order['id']}/{order['access_token']}/tickets/{order['tickets'][0]['ticket_id']}"
        assert re.search(r"<svg", client.get(ticket_url).get_data(as_text=True))
        page = per_call_ms(lambda: client.get(ticket_url), repeat)
        floor = per_call_ms(lambda: client.get(f"/events/{event['id']}/seats.json"), repeat)
        app.extensions["tickethub.engine"].dispose()
    return {"phone_ticket_page_ms": page, "floor_seat_json_ms": floor}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    latin, other = cards(10, "Ada Lovelace"), cards(10, "Łukasz Żółć")
    text = latin[0].text
    rows = []

    def row(name: str, value: float, floor_name: str, floor: float, unit: str = "ms") -> None:
        rows.append(
            {
                "figure": name,
                "value": round(value, 3),
                "floor": floor_name,
                "floor_value": round(floor, 3),
                "ratio": round(value / floor, 2) if floor else None,
                "unit": unit,
            }
        )

    print("[1/3] ticket PDF ...", flush=True)
    floor_pdf = per_call_ms(lambda: text_only_pdf(latin), args.repeat) / 10
    row(
        "PDF per ticket, Latin-1 names (core font)",
        per_call_ms(lambda: tickets_pdf(latin), args.repeat) / 10,
        "fpdf2 text only, per ticket",
        floor_pdf,
    )
    row(
        "PDF per ticket, other scripts (DejaVu subset)",
        per_call_ms(lambda: tickets_pdf(other), args.repeat) / 10,
        "fpdf2 text only, per ticket",
        floor_pdf,
    )
    print("[2/3] QR images ...", flush=True)
    floor_qr = per_call_ms(lambda: make_qr(text), args.repeat)
    # first render of a ticket (the functions keep recent renders; clear that cache each call)
    row(
        "QR inline SVG (phone page), first view",
        per_call_ms(lambda: (qr_svg.cache_clear(), qr_svg(text)), args.repeat),
        "segno encode only",
        floor_qr,
    )
    row(
        "QR PNG download (12 px/module), first view",
        per_call_ms(lambda: (qr_png.cache_clear(), qr_png(text)), args.repeat),
        "segno encode only",
        floor_qr,
    )
    print("[3/3] phone ticket page ...", flush=True)
    pages = page_figures(args.repeat)
    row(
        "phone ticket page reload (Flask test client)",
        pages["phone_ticket_page_ms"],
        "seat JSON of a 10-seat event",
        pages["floor_seat_json_ms"],
    )

    width = max(len(r["figure"]) for r in rows)
    print(f"\n{'figure':<{width}}  {'ms':>8}  {'floor ms':>8}  {'ratio':>6}  floor")
    for r in rows:
        print(f"{r['figure']:<{width}}  {r['value']:>8.2f}  {r['floor_value']:>8.2f}  {r['ratio']:>6.2f}  {r['floor']}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "bench": "bench_hub_web",
                "repeat": args.repeat,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
