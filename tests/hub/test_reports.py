"""Sales report figures against orders made through the services (SQLite and PostgreSQL):
paid, discounted, refunded, pending and re-issued tickets; attendance and no-show rate."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.services import devices as device_service
from hub.services import promos, reports, sync, users
from hub.services.holds import hold_ga, hold_seats
from hub.services.orders import confirm_payment, purchase, refund
from hub.services.tickets import reissue_ticket
from tests.hub.web.support import make_event

BUYER = {"name": '=HYPERLINK("x")', "email": "b@example.org"}


def _paid(conn, signer, hold, **kwargs) -> dict:
    order = purchase(conn, hold["hold_id"], hold["hold_token"], BUYER, "box_office", signer, **kwargs)
    return confirm_payment(conn, order["id"], signer)


def _admit(conn, device: dict, event_id: int, ticket_ids: list[int]) -> None:
    now = datetime.now().timestamp()
    batch = sync.parse_push(
        {
            "sent_at": now,
            "scans": [
                {
                    "scan_id": secrets.token_hex(16),
                    "verdict": "admitted",
                    "seq": i + 1,
                    "wall_time": now,
                    "event_id": event_id,
                    "ticket_id": t,
                }
                for i, t in enumerate(ticket_ids)
            ],
        }
    )
    sync.ingest(conn, device, batch)


@pytest.fixture
def sold(app, engine):
    """Two paid seats (one re-issued), two paid standing tickets, a refunded discounted seat,
    a pending seat, and one admission."""
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        organizer = users.create_user(conn, "org@example.org", "correct horse", "organizer")
        event = make_event(conn, organizer["id"], price=2500, fee=150, ga_capacity=10, starts_in=timedelta(hours=2))
        standing = event["ticket_types"][1]["id"]
        seats = _paid(conn, signer, hold_seats(conn, event["id"], [("A", "1", "1"), ("A", "1", "2")]))
        reissue_ticket(conn, seats["tickets"][0]["ticket_id"], signer)
        ga = _paid(conn, signer, hold_ga(conn, event["id"], standing, 2))
        promos.create_promo(conn, event["id"], "TENOFF", "percent", 10)
        discounted = _paid(conn, signer, hold_seats(conn, event["id"], [("A", "1", "3")]), promo_code="TENOFF")
        refund(conn, discounted["id"])
        held = hold_seats(conn, event["id"], [("A", "2", "1")])
        purchase(conn, held["hold_id"], held["hold_token"], BUYER, "box_office", signer)
        device, _token = device_service.create_device(conn, {"name": "Gate A", "event_id": event["id"]})
        _admit(conn, device, event["id"], [ga["tickets"][0]["ticket_id"]])
    return event, seats, ga, discounted


def test_sales_revenue_fees_refunds_by_type_section_and_day(engine, sold):
    event, _seats, _ga, discounted = sold
    assert discounted["total"] == 2500 - 250 + 150
    with engine.connect() as conn:
        r = reports.sales_report(conn, event["id"])
    assert r["orders"] == {"paid": 2, "refunded": 1, "cancelled": 0, "pending": 1}
    assert r["tickets_sold"] == 4  # the re-issued seat counts once; refunded and pending ones not at all
    assert (r["revenue"], r["fees"], r["gross"], r["discounts"]) == (2 * 2500 + 2 * 1250, 4 * 150, 8100, 0)
    assert r["refunds"] == {"orders": 1, "amount": 2400}
    assert r["by_type"] == [
        {"name": "Seat", "tickets": 2, "revenue": 5000},
        {"name": "Standing", "tickets": 2, "revenue": 2500},
    ]
    assert r["by_section"] == [
        {"name": "A", "tickets": 2, "revenue": 5000},
        {"name": reports.GENERAL_ADMISSION, "tickets": 2, "revenue": 2500},
    ]
    [day] = r["by_day"]
    assert (day["orders"], day["tickets"], day["revenue"], day["fees"]) == (2, 4, 7500, 600)


def test_no_show_rate_only_after_the_event(engine, sold):
    event = sold[0]
    starts = datetime.fromisoformat(event["starts_at"].replace("Z", "+00:00"))
    with engine.connect() as conn:
        during = reports.sales_report(conn, event["id"], now=starts + timedelta(hours=1))["attendance"]
        after = reports.sales_report(conn, event["id"], now=starts + reports.EVENT_LENGTH)["attendance"]
    assert during == {"sold": 4, "admitted": 1, "event_over": False, "no_shows": None, "no_show_rate": None}
    assert after == {"sold": 4, "admitted": 1, "event_over": True, "no_shows": 3, "no_show_rate": 0.75}


def test_csv_exports_have_every_row_and_neutralise_formulas(engine, sold):
    event, seats, ga, discounted = sold
    with engine.connect() as conn:
        orders = list(
            csv.DictReader(
                io.StringIO(reports.to_csv(reports.ORDER_COLUMNS, reports.order_csv_rows(conn, event["id"])))
            )
        )
        tickets = list(
            csv.DictReader(
                io.StringIO(reports.to_csv(reports.TICKET_COLUMNS, reports.ticket_csv_rows(conn, event["id"])))
            )
        )
        scans = list(
            csv.DictReader(
                io.StringIO(reports.to_csv(reports.SCAN_COLUMNS, reports.scan_csv_rows(conn, event["id"], page=1)))
            )
        )
    assert [o["status"] for o in orders] == ["paid", "paid", "refunded", "pending"]
    # decimal amounts in the order's currency, the currency in its own column (not 2400 for EUR 24.00)
    assert (orders[2]["discount"], orders[2]["fees"], orders[2]["total"], orders[2]["currency"]) == (
        "2.50",
        "1.50",
        "24.00",
        "EUR",
    )
    assert orders[0]["subtotal"] == "50.00" and orders[0]["tickets"] == "2"
    assert {o["buyer_name"] for o in orders} == {"'" + BUYER["name"]}  # not a live formula in a spreadsheet
    assert len(tickets) == 2 + 1 + 2 + 1  # two seats, the re-issued replacement, two standing, the refunded seat
    assert sorted(t["status"] for t in tickets).count("revoked") == 2
    assert [s["ticket_id"] for s in scans] == [str(ga["tickets"][0]["ticket_id"])]
    assert scans[0]["verdict"] == "admitted" and scans[0]["gate"] == "Gate A"


@given(st.lists(st.text(max_size=30), min_size=1, max_size=5))
def test_csv_cells_round_trip_and_never_start_a_formula(cells):
    [row] = list(csv.reader(io.StringIO(reports.to_csv(["c"] * len(cells), [cells]))))[1:]
    for original, written in zip(cells, row):
        assert written in (original, "'" + original)
        assert not written.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_an_event_in_yen_reports_and_exports_yen_without_decimals(app, engine):
    """The currency is the event's: its prices, its orders, the report and the CSV are in it."""
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        organizer = users.create_user(conn, "yen@example.org", "correct horse", "organizer")
        event = make_event(conn, organizer["id"], price=21900, fee=300, currency="jpy")
        order = _paid(conn, signer, hold_seats(conn, event["id"], [("A", "1", "1")]))
        report = reports.sales_report(conn, event["id"])
        [row] = list(
            csv.DictReader(
                io.StringIO(reports.to_csv(reports.ORDER_COLUMNS, reports.order_csv_rows(conn, event["id"])))
            )
        )
    assert event["currency"] == "JPY" and (order["total"], order["currency"]) == (22200, "JPY")
    assert (report["currency"], report["gross"]) == ("JPY", 22200)
    assert (row["subtotal"], row["fees"], row["total"], row["currency"]) == ("21900", "300", "22200", "JPY")
