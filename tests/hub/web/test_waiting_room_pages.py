"""The waiting room's pages through the test client (hub/web/queue.py), on SQLite and PostgreSQL:
the event page and holds send a browser without an admission to the queue page, a reload keeps
the place and a new session goes to the back, an admitted browser steps in, holds and buys, and the
organizer turns the waiting room on and sees the queue."""

from __future__ import annotations

import re

from hub.services import event_admin, waiting_room
from tests.hub.web.support import make_event
from tests.support import wait_for


def _ahead(page: str) -> int:
    match = re.search(r'id="queue-ahead">(\d+)<', page)
    assert match, page[:2000]
    return int(match.group(1))


def _queued_event(engine, make_account, rate: int) -> dict:
    organizer = make_account("organizer", "org@example.org")
    with engine.connect() as conn:
        return make_event(conn, organizer["id"], price=0, fee=0, waiting_room=True, admit_per_minute=rate)


def test_without_admission_the_event_page_and_holds_lead_to_the_queue_where_a_reload_keeps_the_place(
    engine, make_account, new_browser
):
    event = _queued_event(engine, make_account, rate=0)  # paused: nobody is let in yet
    queue_url = f"/events/{event['id']}/queue"
    first, second = new_browser(), new_browser()
    detour = first.get(f"/events/{event['id']}")
    assert detour.status_code == 302 and detour.headers["Location"].endswith(queue_url)
    assert _ahead(first.get(queue_url).get_data(as_text=True)) == 0
    assert _ahead(second.get(queue_url).get_data(as_text=True)) == 1
    assert _ahead(first.get(queue_url).get_data(as_text=True)) == 0, "a reload keeps the place"
    assert _ahead(second.get(queue_url).get_data(as_text=True)) == 1
    assert _ahead(new_browser().get(queue_url).get_data(as_text=True)) == 2, "a new session goes to the back"

    refused = first.post(f"/events/{event['id']}/hold", {"mode": "best", "count": "2"})
    assert refused.status_code == 302 and refused.headers["Location"].endswith(queue_url)
    page = first.get(queue_url).get_data(as_text=True)
    assert "sold through a waiting room" in page and _ahead(page) == 0
    with engine.connect() as conn:
        assert waiting_room.queue_state(conn, event["id"]).entries == 3
        assert conn.exec_driver_sql("SELECT count(*) FROM holds").scalar() == 0


def test_an_admitted_browser_steps_in_holds_and_buys(engine, make_account, new_browser):
    event = _queued_event(engine, make_account, rate=0)
    queue_url = f"/events/{event['id']}/queue"
    ahead_of_us = new_browser()
    ahead_of_us.get(queue_url)
    web = new_browser()
    assert _ahead(web.get(queue_url).get_data(as_text=True)) == 1
    assert web.get(f"/events/{event['id']}/queue/enter").headers["Location"].endswith(queue_url), "not yet"
    with engine.connect() as conn:
        event_admin.update_event(conn, event["id"], {"admit_per_minute": 6000})  # the organizer opens the gate

    def stepped_in():
        answer = web.get(queue_url)  # the page moves on once the hub counts this place as admitted
        return answer.status_code == 302 and answer.headers["Location"].endswith("/queue/enter")

    wait_for(stepped_in, 10, "the queue page to send the browser in")
    entered = web.get(f"/events/{event['id']}/queue/enter")
    assert entered.status_code == 302 and entered.headers["Location"].endswith(f"/events/{event['id']}")
    page = web.get(f"/events/{event['id']}")
    assert page.status_code == 200 and "It is your turn" in page.get_data(as_text=True)
    held = web.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": ["0", "1"]})
    assert held.status_code == 302 and "/checkout/" in held.headers["Location"]
    checkout_url = held.headers["Location"]
    web.get(checkout_url)
    bought = web.post(
        checkout_url, {"name": "Ada Lovelace", "email": "ada@example.org", "payment_method": "free", "action": "buy"}
    )
    assert bought.status_code == 302 and "/orders/" in bought.headers["Location"]
    assert "Ada Lovelace" in web.get(bought.headers["Location"]).get_data(as_text=True)
    # the browser ahead was let in too, but never stepped in: the queue page sends it in as well
    assert ahead_of_us.get(queue_url).headers["Location"].endswith("/queue/enter")


def test_organizer_turns_the_waiting_room_on_and_sees_the_queue(engine, make_account, browser_client, new_browser):
    organizer = make_account("organizer", "org@example.org")
    with engine.connect() as conn:
        event = make_event(conn, organizer["id"])
    web = browser_client
    web.login("org@example.org")
    edit = web.get(f"/manage/events/{event['id']}/edit").get_data(as_text=True)
    assert 'name="waiting_room"' in edit and 'value="600"' in edit
    refused = web.post(
        f"/manage/events/{event['id']}/edit",
        {
            "title": "Brass Night",
            "starts_at": "2031-02-03T20:00",
            "ticket_release_at": "2030-01-01T10:00",
            "service_fee": "1.50",
            "waiting_room": "y",
            "admit_per_minute": "-5",
        },
    )
    assert refused.status_code == 200 and "must be at least 0" in refused.get_data(as_text=True)
    saved = web.post(
        f"/manage/events/{event['id']}/edit",
        {
            "title": "Brass Night",
            "starts_at": "2031-02-03T20:00",
            "ticket_release_at": "2030-01-01T10:00",
            "service_fee": "1.50",
            "waiting_room": "y",
            "admit_per_minute": "0",
        },
        follow_redirects=True,
    )
    assert "Event saved." in saved.get_data(as_text=True)
    for _ in range(3):
        new_browser().get(f"/events/{event['id']}/queue")
    summary = web.get(f"/manage/events/{event['id']}").get_data(as_text=True)
    assert re.search(r"Waiting room on: 0 buyers let in\s+per minute \(paused\) · 3 waiting", summary), summary
    web.get(f"/manage/events/{event['id']}/edit")
    web.post(
        f"/manage/events/{event['id']}/edit",
        {
            "title": "Brass Night",
            "starts_at": "2031-02-03T20:00",
            "ticket_release_at": "2030-01-01T10:00",
            "service_fee": "1.50",
            "admit_per_minute": "120",
        },
    )
    with engine.connect() as conn:
        from hub.services.events import get_event

        assert {k: get_event(conn, event["id"])[k] for k in ("waiting_room", "admit_per_minute")} == {
            "waiting_room": False,
            "admit_per_minute": 120,
        }
    assert new_browser().get(f"/events/{event['id']}").status_code == 200, "off: straight to the event page"
