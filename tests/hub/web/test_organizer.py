"""Organizer back office through the test client, on SQLite and PostgreSQL: the sales dashboard's
figures (services.reports.organizer_sales, clock pinned) and event status (services.event_status):
a draft is nowhere public, paused sales refuse holds, the moves between statuses."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from hub.schema import orders
from hub.services import event_status, holds
from hub.services.errors import Conflict, NotFound
from hub.services.orders import confirm_payment, purchase
from hub.services.reports import organizer_sales
from hub.services.users import create_token
from tests.hub.web.support import make_event

NOW = datetime(2026, 3, 10, 0, 30, tzinfo=UTC)  # just after midnight: "today" is 30 minutes old


def _sell(conn, signer, event_id: int, seats: list[str], paid_at: datetime) -> dict:
    held = holds.hold_seats(conn, event_id, [("A", "1", s) for s in seats])
    order = purchase(
        conn,
        held["hold_id"],
        held["hold_token"],
        {"name": "Ann Buyer", "email": "ann@example.org"},
        "box_office",
        signer,
    )
    order = confirm_payment(conn, order["id"], signer)
    conn.execute(update(orders).where(orders.c.id == order["id"]).values(paid_at=paid_at))
    conn.commit()
    return order


def test_sales_dashboard_figures_per_event_today_total_per_day_and_left(app, engine, make_account):
    organizer, other = make_account("organizer"), make_account("organizer")
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        event = make_event(conn, organizer["id"], price=2000, fee=100, rows=2, seats=5, ga_capacity=10)
        foreign = make_event(conn, other["id"], title="Not mine")
        _sell(conn, signer, event["id"], ["1", "2"], NOW - timedelta(minutes=20))  # today
        _sell(conn, signer, event["id"], ["3"], NOW - timedelta(hours=1))  # yesterday, 23:30
        _sell(conn, signer, event["id"], ["4"], NOW - timedelta(days=20))  # before the chart's days
        _sell(conn, signer, foreign["id"], ["1"], NOW - timedelta(minutes=5))
        sales = organizer_sales(conn, organizer["id"], now=NOW)
        everyone = organizer_sales(conn, None, now=NOW)
    (row,) = sales["events"]
    assert row["id"] == event["id"]
    assert (row["sold_today"], row["sold"]) == (2, 4)
    assert (row["revenue_today"], row["revenue"]) == (2 * 2100, 4 * 2100)  # fees included, as on the event page
    assert (row["capacity"], row["left"]) == (10 + 10, 10 + 10 - 4)
    assert sales["today"] == "2026-03-10"
    assert len(sales["by_day"]) == 14 and sales["by_day"][-1] == {
        "day": "2026-03-10",
        "tickets": 2,
        "revenue": {"EUR": 4200},
    }
    assert sales["by_day"][-2] == {"day": "2026-03-09", "tickets": 1, "revenue": {"EUR": 2100}}
    assert sum(d["tickets"] for d in sales["by_day"]) == 3  # the sale 20 days ago is outside the chart
    assert {e["id"] for e in everyone["events"]} == {event["id"], foreign["id"]}  # admins see all


def test_dashboard_page_is_the_organizers_own(browser_client, engine, make_account, app):
    organizer, other = make_account("organizer"), make_account("organizer")
    with engine.connect() as conn:
        make_event(conn, organizer["id"], title="Mine")
        make_event(conn, other["id"], title="Theirs")
    browser_client.login(organizer["email"])
    page = browser_client.get("/manage").get_data(as_text=True)
    assert "Sold today" in page and "Mine" in page and "Theirs" not in page


def test_a_draft_is_nowhere_public_until_published(app, engine, make_account, browser_client, new_browser):
    organizer = make_account("organizer")
    with engine.connect() as conn:
        draft = make_event(conn, organizer["id"], title="Secret Gig", status="draft")
        _token_id, token = create_token(conn, organizer["id"])
    anon = app.test_client()
    event_id = draft["id"]
    assert draft["status"] == "draft"
    assert "Secret Gig" not in anon.get("/").get_data(as_text=True)
    assert anon.get(f"/events/{event_id}").status_code == 404
    assert "Secret Gig" not in anon.get("/calendar?month=" + draft["starts_at"][:7]).get_data(as_text=True)
    assert all(e["id"] != event_id for e in anon.get("/api/v1/events?limit=100").get_json()["items"])
    for path in ("", "/seatmap/layout", "/seatmap/status", "/seats", "/seats/A/1/1", "/seat-labels"):
        response = anon.get(f"/api/v1/events/{event_id}{path}")
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "event_not_found"
    assert anon.get(f"/events/{event_id}/seats.json").status_code == 404
    hold = anon.post(f"/api/v1/events/{event_id}/holds", json={"seats": [{"section": "A", "row": "1", "seat": "1"}]})
    assert hold.status_code == 404
    # its organizer sees it: their own list and record
    auth = {"Authorization": f"Bearer {token}"}
    assert event_id in [e["id"] for e in anon.get("/api/v1/events?mine=true", headers=auth).get_json()["items"]]
    assert anon.get(f"/api/v1/events/{event_id}", headers=auth).get_json()["status"] == "draft"

    browser_client.login(organizer["email"])
    page = browser_client.get(f"/manage/events/{event_id}").get_data(as_text=True)
    assert "only you see it" in page and "Public page" not in page
    published = browser_client.post(f"/manage/events/{event_id}/status", {"action": "publish"}, follow_redirects=True)
    assert "Event published" in published.get_data(as_text=True)
    assert "Secret Gig" in anon.get("/").get_data(as_text=True)
    assert anon.get(f"/api/v1/events/{event_id}/seatmap/layout").status_code == 200
    assert anon.get(f"/api/v1/events/{event_id}").get_json()["status"] == "published"


def test_paused_sales_stay_listed_but_refuse_holds_then_resume(app, engine, make_account, browser_client):
    organizer = make_account("organizer")
    with engine.connect() as conn:
        event = make_event(conn, organizer["id"], title="Pausable", ga_capacity=5)
    browser_client.login(organizer["email"])
    paused = browser_client.post(f"/manage/events/{event['id']}/status", {"action": "pause"}, follow_redirects=True)
    assert "Sales paused" in paused.get_data(as_text=True)
    anon = app.test_client()
    assert "Pausable" in anon.get("/").get_data(as_text=True)
    assert "Sales for this event are paused" in anon.get(f"/events/{event['id']}").get_data(as_text=True)
    seats = anon.post(
        f"/api/v1/events/{event['id']}/holds", json={"seats": [{"section": "A", "row": "1", "seat": "1"}]}
    )
    assert seats.status_code == 409 and seats.get_json()["error"]["code"] == "sales_paused"
    ga_type = next(t["id"] for t in event["ticket_types"] if t["kind"] == "ga")
    ga = anon.post(f"/api/v1/events/{event['id']}/holds", json={"ga": {"ticket_type": ga_type, "quantity": 1}})
    assert ga.status_code == 409 and ga.get_json()["error"]["code"] == "sales_paused"
    browser_client.post(f"/manage/events/{event['id']}/status", {"action": "resume"})
    again = anon.post(
        f"/api/v1/events/{event['id']}/holds", json={"seats": [{"section": "A", "row": "1", "seat": "1"}]}
    )
    assert again.status_code == 201, again.get_json()


def test_status_moves(engine, make_account):
    organizer = make_account("organizer")
    with engine.connect() as conn:
        event_id = make_event(conn, organizer["id"], status="draft")["id"]
        with pytest.raises(Conflict, match="cannot become sales paused"):
            event_status.set_status(conn, event_id, event_status.PAUSED)  # a draft is published first
        assert event_status.set_status(conn, event_id, event_status.PUBLISHED) == "draft"
        assert event_status.set_status(conn, event_id, event_status.CANCELLED) == "published"
        with pytest.raises(Conflict, match="cancelled event cannot become published"):
            event_status.set_status(conn, event_id, event_status.PUBLISHED)
        with pytest.raises(NotFound):
            event_status.set_status(conn, 10**6, event_status.PUBLISHED)


def test_new_event_from_the_page_is_a_draft(browser_client, make_account, engine):
    make_account("organizer", "maker@example.org")
    browser_client.login("maker@example.org")
    browser_client.get("/manage/events/new")
    created = browser_client.post(
        "/manage/events/new",
        {
            "title": "Fresh",
            "starts_at": "2030-05-01T19:30",
            "venue_id": "0",
            "service_fee": "0",
            "ticket_types-0-name": "Standing",
            "ticket_types-0-kind": "ga",
            "ticket_types-0-price": "10",
            "ticket_types-0-capacity": "50",
            "ticket_types-1-kind": "seated",  # the empty slots, as a browser sends them
            "ticket_types-2-kind": "seated",
        },
        follow_redirects=True,
    )
    text = created.get_data(as_text=True)
    assert "created as a draft" in text, re.findall(r"field-error\">([^<]*)|flash error[^>]*>([^<]*)", text)
    assert 'id="event-status">Draft' in text


def test_tickets_csv_and_door_list_name_the_buyers(app, engine, make_account, browser_client):
    import csv
    import io

    organizer = make_account("organizer")
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        event = make_event(conn, organizer["id"])
        paid = _sell(conn, signer, event["id"], ["1", "2"], NOW)
        held = holds.hold_seats(conn, event["id"], [("A", "2", "1")])
        purchase(
            conn,
            held["hold_id"],
            held["hold_token"],
            {"name": "Zed Pending", "email": "z@example.org"},
            "box_office",
            signer,
        )
    browser_client.login(organizer["email"])
    tickets = list(
        csv.DictReader(
            io.StringIO(browser_client.get(f"/manage/events/{event['id']}/tickets.csv").get_data(as_text=True))
        )
    )
    assert {(t["buyer_name"], t["buyer_email"], t["order_status"]) for t in tickets} == {
        ("Ann Buyer", "ann@example.org", "paid")
    }
    report = browser_client.get(f"/manage/events/{event['id']}/report").get_data(as_text=True)
    assert "Door list CSV" in report
    door = browser_client.get(f"/manage/events/{event['id']}/door-list.csv")
    assert door.headers["Content-Disposition"] == f'attachment; filename="event-{event["id"]}-door-list.csv"'
    rows = list(csv.reader(io.StringIO(door.get_data(as_text=True))))
    assert rows[0] == ["buyer_name", "buyer_email", "ticket_id", "ticket_type", "section", "row", "seat", "order_id"]
    assert [(r[0], r[5], r[6]) for r in rows[1:]] == [("Ann Buyer", "1", "1"), ("Ann Buyer", "1", "2")]
    assert all(int(r[7]) == paid["id"] for r in rows[1:])  # the pending order is not on the list


def test_dashboard_keeps_each_events_currency_and_sums_per_currency(app, engine, make_account, browser_client):
    """Revenue in different currencies does not add up: each event's in its own currency, totals and days
    per currency (services.money format on the page)."""
    organizer = make_account("organizer")
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        euros = make_event(conn, organizer["id"], title="Euro Gig", price=2000, fee=100)
        yen = make_event(conn, organizer["id"], title="Yen Gig", price=4500, fee=300, currency="JPY")
        _sell(conn, signer, euros["id"], ["1"], NOW - timedelta(minutes=10))
        _sell(conn, signer, yen["id"], ["1", "2"], NOW - timedelta(minutes=10))
        sales = organizer_sales(conn, organizer["id"], now=NOW)
    by_title = {e["title"]: e for e in sales["events"]}
    assert (by_title["Yen Gig"]["currency"], by_title["Yen Gig"]["revenue"]) == ("JPY", 2 * 4800)
    assert (by_title["Euro Gig"]["currency"], by_title["Euro Gig"]["revenue"]) == ("EUR", 2100)
    assert sales["totals"]["revenue"] == {"EUR": 2100, "JPY": 9600}
    assert sales["by_day"][-1]["revenue"] == {"EUR": 2100, "JPY": 9600}
    browser_client.login(organizer["email"])
    page = browser_client.get("/manage").get_data(as_text=True)
    assert "€21.00 · ¥9,600" in page and "¥9,600" in page.split("Yen Gig", 1)[1]


def test_cancelling_sets_the_status_and_when(app, engine, make_account):
    """event_admin.cancel_event moves the event to cancelled through event_status (the one rule): not
    sold, listed as cancelled, cancelled_at kept from the first run."""
    from hub.services.event_admin import cancel_event
    from hub.services.events import get_event

    organizer = make_account("organizer")
    with engine.connect() as conn:
        event = make_event(conn, organizer["id"], title="Rained Off")
        done = cancel_event(conn, event["id"], "Rained Off", now=NOW)["event"]
        assert (done["status"], done["cancelled_at"]) == ("cancelled", "2026-03-10T00:30:00Z")
        again = cancel_event(conn, event["id"], "Rained Off", now=NOW + timedelta(hours=1))["event"]
        assert again["cancelled_at"] == "2026-03-10T00:30:00Z"
        with pytest.raises(Conflict, match="cancelled"):
            holds.hold_seats(conn, event["id"], [("A", "1", "1")])
        assert get_event(conn, event["id"], public=True)["status"] == "cancelled"
    listing = app.test_client().get("/").get_data(as_text=True)
    assert "Rained Off" in listing and '<div class="price-from">Cancelled</div>' in listing


def test_migration_0013_makes_events_cancelled_before_it_cancelled(database_url):
    from alembic import command

    from hub.db import alembic_config, current_revision, make_engine, upgrade

    engine = make_engine(database_url)
    config = alembic_config(database_url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0012")
    assert current_revision(engine) == "0012"
    with engine.connect() as conn:
        for title, cancelled_at in (("on", "NULL"), ("off", "'2030-06-01 00:00:00'")):
            conn.exec_driver_sql(
                "INSERT INTO events (title, artist, location, description, category, starts_at, "
                f"ticket_release_at, service_fee, created_at, cancelled_at) VALUES ('{title}', '', '', '', '', "
                f"'2031-01-01 20:00:00', '2031-01-01 10:00:00', 0, '2030-01-01 00:00:00', {cancelled_at})"
            )
        conn.commit()
    upgrade(engine)
    with engine.connect() as conn:
        rows = dict(conn.exec_driver_sql("SELECT title, status FROM events").all())
    engine.dispose()
    assert rows == {"on": "published", "off": "cancelled"}
