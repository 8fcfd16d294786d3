"""Sales reports of one event: by ticket type, section and day; revenue, fees, discounts,
refunds; attendance and no-show rate once the event is over; CSV exports.

Money is integer minor units. An order's ticket revenue is its total minus its
fees (promo discounts come off the tickets); it is spread over the order's
tickets in proportion to their list prices, so per-type and per-section
figures add up to the order totals exactly. The CSV export writes amounts as
decimals in the order's currency ("219.00") with the currency in its own column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from ..schema import orders, ticket_types, tickets, venue_seats
from .attendance import attendance, export_scans
from .clock import iso, parse_iso, utcnow
from .events import get_event
from .money import csv_amount
from .pricing import recorded_discount

EVENT_LENGTH = timedelta(hours=6)  # events have a start time only: no-shows are final this long after it
GENERAL_ADMISSION = "General admission"


def sales_report(conn: Connection, event_id: int, now: datetime | None = None) -> dict:
    now = now or utcnow()
    event = get_event(conn, event_id)
    order_rows = conn.execute(select(orders).where(orders.c.event_id == event_id).order_by(orders.c.id)).all()
    paid = [o for o in order_rows if o.status == "paid"]
    refunded = [o for o in order_rows if o.status == "refunded"]
    sold = _sold_tickets(conn, event_id)
    shares = _revenue_shares(paid, sold)

    by_type: dict[str, dict] = {t["name"]: _bucket() for t in event["ticket_types"]}
    by_section: dict[str, dict] = {}
    by_day: dict[str, dict] = {}
    for t in sold:
        for bucket in (
            by_type.setdefault(t.type_name, _bucket()),
            by_section.setdefault(t.section or GENERAL_ADMISSION, _bucket()),
        ):
            bucket["tickets"] += 1
            bucket["revenue"] += shares[t.id]
    for o in paid:
        day = by_day.setdefault(o.paid_at.date().isoformat(), {**_bucket(), "orders": 0, "fees": 0})
        day["orders"] += 1
        day["fees"] += o.fees
        day["revenue"] += o.total - o.fees
    for t in sold:
        by_day[t.paid_at.date().isoformat()]["tickets"] += 1

    figures = attendance(conn, event_id)
    over = now >= parse_iso(event["starts_at"]) + EVENT_LENGTH
    return {
        "event_id": event_id,
        "title": event["title"],
        "currency": event["currency"],
        "starts_at": event["starts_at"],
        "orders": {
            "paid": len(paid),
            "refunded": len(refunded),
            "cancelled": sum(o.status == "cancelled" for o in order_rows),
            "pending": sum(o.status == "pending" for o in order_rows),
        },
        "tickets_sold": len(sold),
        "revenue": sum(o.total - o.fees for o in paid),  # tickets, after discounts
        "fees": sum(o.fees for o in paid),
        "discounts": sum(recorded_discount(o) for o in paid),
        "gross": sum(o.total for o in paid),
        "refunds": {"orders": len(refunded), "amount": sum(o.total for o in refunded)},
        "by_type": [{"name": k, **v} for k, v in by_type.items()],
        "by_section": [{"name": k, **v} for k, v in sorted(by_section.items())],
        "by_day": [{"day": k, **v} for k, v in sorted(by_day.items())],
        "attendance": {
            "sold": figures["sold"],
            "admitted": figures["admitted"],
            "event_over": over,
            "no_shows": max(figures["sold"] - figures["admitted"], 0) if over else None,
            "no_show_rate": (round(1 - figures["admitted"] / figures["sold"], 4) if figures["sold"] else 0.0)
            if over
            else None,
        },
    }


def _bucket() -> dict:
    return {"tickets": 0, "revenue": 0}


def _sold_tickets(conn: Connection, event_id: int) -> list:
    """Valid tickets of paid orders (a re-issued ticket counts once: its old id is revoked)."""
    return conn.execute(
        select(
            tickets.c.id,
            tickets.c.order_id,
            ticket_types.c.name.label("type_name"),
            ticket_types.c.price,
            venue_seats.c.section,
            orders.c.paid_at,
        )
        .join(orders, orders.c.id == tickets.c.order_id)
        .join(ticket_types, ticket_types.c.id == tickets.c.ticket_type_id)
        .outerjoin(venue_seats, venue_seats.c.id == tickets.c.seat_id)
        .where(tickets.c.event_id == event_id, tickets.c.status == "valid", orders.c.status == "paid")
        .order_by(tickets.c.id)
    ).all()


def _revenue_shares(paid: list, sold: list) -> dict[int, int]:
    """Each paid order's ticket revenue spread over its tickets by list price (remainder to the last)."""
    per_order: dict[int, list] = {}
    for t in sold:
        per_order.setdefault(t.order_id, []).append(t)
    shares = {}
    for o in paid:
        items = per_order.get(o.id, [])
        if not items:
            continue
        amount, weight = o.total - o.fees, sum(t.price for t in items)
        given = 0
        for i, t in enumerate(items):
            share = (
                amount - given
                if i == len(items) - 1
                else (amount * t.price // weight if weight else amount // len(items))
            )
            shares[t.id] = share
            given += share
    return shares


# --- CSV -----------------------------------------------------------------------------

ORDER_COLUMNS = [
    "order_id",
    "status",
    "created_at",
    "paid_at",
    "closed_at",
    "buyer_name",
    "buyer_email",
    "payment_method",
    "tickets",
    "subtotal",
    "fees",
    "discount",
    "total",
    "currency",
]
TICKET_COLUMNS = [
    "ticket_id",
    "order_id",
    "status",
    "ticket_type",
    "section",
    "row",
    "seat",
    "issued_at",
    "revoked_at",
    "replaces_id",
]
SCAN_COLUMNS = [
    "hub_seq",
    "scan_id",
    "gate",
    "device_id",
    "ticket_id",
    "verdict",
    "reason",
    "device_time",
    "corrected_time",
    "received_at",
    "duplicate_of",
    "note",  # a forced admission's reason
    "annulled_by",  # the annulled scan that took this admission back
]


def order_csv_rows(conn: Connection, event_id: int) -> Iterator[list]:
    counts: dict[int, int] = {}
    for (order_id,) in conn.execute(
        select(tickets.c.order_id).where(tickets.c.event_id == event_id, tickets.c.status == "valid")
    ):
        counts[order_id] = counts.get(order_id, 0) + 1
    for o in conn.execute(select(orders).where(orders.c.event_id == event_id).order_by(orders.c.id)):
        yield [
            o.id,
            o.status,
            iso(o.created_at),
            iso(o.paid_at),
            iso(o.closed_at),
            o.buyer_name,
            o.buyer_email,
            o.payment_method,
            counts.get(o.id, 0),
            csv_amount(o.subtotal, o.currency),
            csv_amount(o.fees, o.currency),
            csv_amount(recorded_discount(o), o.currency),
            csv_amount(o.total, o.currency),
            o.currency,
        ]


def ticket_csv_rows(conn: Connection, event_id: int) -> Iterator[list]:
    """The event's tickets (tickets.ticket_rows) as CSV cells in TICKET_COLUMNS order."""
    from .tickets import ticket_rows

    for t in ticket_rows(conn, tickets.c.event_id == event_id):
        seat = t["seat"] or {}
        yield [
            t["ticket_id"],
            t["order_id"],
            t["status"],
            t["ticket_type"],
            seat.get("section", ""),
            seat.get("row", ""),
            seat.get("seat", ""),
            t["issued_at"],
            t["revoked_at"],
            t["replaces_id"],
        ]


def scan_csv_rows(conn: Connection, event_id: int, page: int = 5000) -> Iterator[list]:
    since = 0
    while True:
        found = export_scans(conn, event_id, since, page)
        for s in found["items"]:
            yield [s[c] for c in SCAN_COLUMNS]
        if len(found["items"]) < page:
            return
        since = found["next"]


def to_csv(header: list[str], rows: Iterable[list]) -> str:
    """CSV text. Cells a spreadsheet would run as a formula get a leading quote."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([_safe(v) for v in row] for row in rows)
    return buffer.getvalue()


def _safe(value):
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
