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

from sqlalchemy import Connection, case, func, select

from ..schema import event_seats, events, orders, ticket_types, tickets, venue_seats
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
    "buyer_name",
    "buyer_email",
    "order_status",
]
# Who may come in: valid tickets of paid orders by buyer, for a printed or offline list at the door.
DOOR_LIST_COLUMNS = ["buyer_name", "buyer_email", "ticket_id", "ticket_type", "section", "row", "seat", "order_id"]
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

    buyers = _buyers(conn, event_id)
    for t in ticket_rows(conn, tickets.c.event_id == event_id):
        seat = t["seat"] or {}
        buyer = buyers[t["order_id"]]
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
            buyer.buyer_name,
            buyer.buyer_email,
            buyer.status,
        ]


def door_list_rows(conn: Connection, event_id: int) -> Iterator[list]:
    """Valid tickets of paid orders, sorted by buyer name, as DOOR_LIST_COLUMNS cells."""
    from .tickets import ticket_rows

    buyers = _buyers(conn, event_id)
    admitted = [
        (buyers[t["order_id"]], t)
        for t in ticket_rows(conn, tickets.c.event_id == event_id)
        if t["status"] == "valid" and buyers[t["order_id"]].status == "paid"
    ]
    admitted.sort(key=lambda pair: (pair[0].buyer_name.casefold(), pair[0].buyer_email, pair[1]["ticket_id"]))
    for buyer, t in admitted:
        seat = t["seat"] or {}
        yield [
            buyer.buyer_name,
            buyer.buyer_email,
            t["ticket_id"],
            t["ticket_type"],
            seat.get("section", ""),
            seat.get("row", ""),
            seat.get("seat", ""),
            t["order_id"],
        ]


def _buyers(conn: Connection, event_id: int) -> dict:
    rows = conn.execute(
        select(orders.c.id, orders.c.buyer_name, orders.c.buyer_email, orders.c.status).where(
            orders.c.event_id == event_id
        )
    )
    return {r.id: r for r in rows}


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


SALES_CHART_DAYS = 14


def organizer_sales(
    conn: Connection, organizer_id: int | None, now: datetime | None = None, days: int = SALES_CHART_DAYS
) -> dict:
    """The organizer's sales dashboard (``organizer_id`` None: every event, for admins): per event the
    tickets sold and revenue today and in total and the capacity left, and tickets and revenue per
    day for the last ``days`` days. Days are UTC days. Tickets count as sold as in the sales report
    (valid tickets of paid orders); revenue is what paid orders charged (fees included), as on the
    event page: per event in minor units of its currency; totals and per day as {currency: amount},
    since amounts in different currencies do not add up."""
    now = now or utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first_day = today - timedelta(days=days - 1)
    query = select(events.c.id, events.c.title, events.c.starts_at, events.c.status, events.c.currency).order_by(
        events.c.starts_at.desc(), events.c.id
    )
    if organizer_id is not None:
        query = query.where(events.c.organizer_id == organizer_id)
    event_rows = conn.execute(query.limit(DASHBOARD_EVENTS)).all()
    ids = [e.id for e in event_rows]
    paid_today = case((orders.c.paid_at >= today, 1), else_=0)
    sold = {
        r.event_id: r
        for r in conn.execute(
            select(
                tickets.c.event_id, func.count().label("total"), func.coalesce(func.sum(paid_today), 0).label("today")
            )
            .join(orders, orders.c.id == tickets.c.order_id)
            .where(tickets.c.event_id.in_(ids), tickets.c.status == "valid", orders.c.status == "paid")
            .group_by(tickets.c.event_id)
        )
    }
    money = {
        r.event_id: r
        for r in conn.execute(
            select(
                orders.c.event_id,
                func.coalesce(func.sum(orders.c.total), 0).label("total"),
                func.coalesce(func.sum(case((orders.c.paid_at >= today, orders.c.total), else_=0)), 0).label("today"),
            )
            .where(orders.c.event_id.in_(ids), orders.c.status == "paid")
            .group_by(orders.c.event_id)
        )
    }
    seats = {
        r.event_id: r
        for r in conn.execute(
            select(
                event_seats.c.event_id,
                func.count().label("capacity"),
                func.coalesce(func.sum(case((event_seats.c.status == "sold", 1), else_=0)), 0).label("sold"),
            )
            .where(event_seats.c.event_id.in_(ids))
            .group_by(event_seats.c.event_id)
        )
    }
    standing = {
        r.event_id: r
        for r in conn.execute(
            select(
                ticket_types.c.event_id,
                func.coalesce(func.sum(ticket_types.c.capacity), 0).label("capacity"),
                func.coalesce(func.sum(ticket_types.c.sold), 0).label("sold"),
            )
            .where(ticket_types.c.event_id.in_(ids), ticket_types.c.kind == "ga")
            .group_by(ticket_types.c.event_id)
        )
    }
    rows = []
    for e in event_rows:
        capacity = (seats[e.id].capacity if e.id in seats else 0) + (standing[e.id].capacity if e.id in standing else 0)
        taken = (seats[e.id].sold if e.id in seats else 0) + (standing[e.id].sold if e.id in standing else 0)
        rows.append(
            {
                "id": e.id,
                "title": e.title,
                "starts_at": iso(e.starts_at),
                "status": e.status,
                "currency": e.currency,
                "sold_today": int(sold[e.id].today) if e.id in sold else 0,
                "sold": sold[e.id].total if e.id in sold else 0,
                "revenue_today": int(money[e.id].today) if e.id in money else 0,
                "revenue": int(money[e.id].total) if e.id in money else 0,
                "capacity": int(capacity),
                "left": max(int(capacity) - int(taken), 0),
            }
        )
    currencies = sorted({r["currency"] for r in rows})
    return {
        "today": today.date().isoformat(),
        "events": rows,
        "totals": {
            **{k: sum(r[k] for r in rows) for k in ("sold_today", "sold", "left")},
            **{
                k: {c: sum(r[k] for r in rows if r["currency"] == c) for c in currencies}
                for k in ("revenue_today", "revenue")
            },
        },
        "by_day": _sales_by_day(conn, ids, first_day, days, currencies),
    }


DASHBOARD_EVENTS = 200


def _sales_by_day(
    conn: Connection, event_ids: list[int], first_day: datetime, days: int, currencies: list[str]
) -> list[dict]:
    """Tickets and revenue ({currency: amount}, each of ``currencies``) of paid orders per UTC day from
    ``first_day``, every day listed (0 when none)."""
    day = func.date(orders.c.paid_at)  # SQLite: 'YYYY-MM-DD' text; PostgreSQL: a date
    window = (orders.c.event_id.in_(event_ids), orders.c.status == "paid", orders.c.paid_at >= first_day)
    counts = {
        str(r.day): r.n
        for r in conn.execute(
            select(day.label("day"), func.count().label("n"))
            .select_from(tickets.join(orders, orders.c.id == tickets.c.order_id))
            .where(*window, tickets.c.status == "valid")
            .group_by(day)
        )
    }
    revenue = {
        (str(r.day), r.currency): int(r.amount)
        for r in conn.execute(
            select(day.label("day"), orders.c.currency, func.sum(orders.c.total).label("amount"))
            .where(*window)
            .group_by(day, orders.c.currency)
        )
    }
    out = []
    for i in range(days):
        key = (first_day + timedelta(days=i)).date().isoformat()
        amounts = {c: revenue.get((key, c), 0) for c in currencies}
        out.append({"day": key, "tickets": counts.get(key, 0), "revenue": amounts})
    return out
