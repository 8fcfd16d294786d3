"""Report page and CSV downloads through the pages (session login, owner check)."""

from __future__ import annotations

import csv
import io

from hub.services.holds import hold_seats
from hub.services.orders import confirm_payment, purchase


def _sell(app, engine, event_id: int, seats) -> dict:
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        held = hold_seats(conn, event_id, seats)
        order = purchase(
            conn, held["hold_id"], held["hold_token"], {"name": "Ann", "email": "ann@example.org"}, "box_office", signer
        )
        return confirm_payment(conn, order["id"], signer)


def test_report_page_and_csv_downloads(app, engine, event, browser_client):
    _sell(app, engine, event["id"], [("A", "1", "1"), ("A", "1", "2")])
    browser_client.login("org@example.org")
    page = browser_client.get(f"/manage/events/{event['id']}/report")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<td data-key="tickets_sold">2</td>' in html and '<td data-key="fees">€3.00</td>' in html
    assert "after the event" in html  # no no-show rate before the event

    for kind, rows in (("orders", 1), ("tickets", 2), ("scans", 0)):
        response = browser_client.get(f"/manage/events/{event['id']}/{kind}.csv")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"] == f'attachment; filename="event-{event["id"]}-{kind}.csv"'
        assert len(list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))) == rows
    assert browser_client.get(f"/manage/events/{event['id']}/payments.csv").status_code == 404


def test_other_organizer_gets_403_on_report_and_csv(app, event, make_account, new_browser):
    make_account("organizer", "other@example.org")
    other = new_browser()
    other.login("other@example.org")
    assert other.get(f"/manage/events/{event['id']}/report").status_code == 403
    assert other.get(f"/manage/events/{event['id']}/orders.csv").status_code == 403
