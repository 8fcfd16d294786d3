"""The mail queue (hub.delivery.mail_queue) with a real SMTP server on loopback: mail leaves outside the
request, so a slow server delays no answer; a refusing server is retried with growing waits, then the
message is kept in the outbox folder; and the buyer gets the same mail whichever channel made the change."""

from __future__ import annotations

import email
import re
import threading
from datetime import timedelta
from email import policy
from pathlib import Path

import requests
from sqlalchemy import select

from hub import create_app
from hub.delivery.mail_queue import LEASE, work_queue
from hub.scheduler import start_background_jobs
from hub.schema_notifications import mail_jobs
from hub.schema_web import mail_log
from hub.services import users
from hub.services.clock import utcnow
from hub.web.mailing import links, mail_queue_once, mail_settings
from tests.hub.web.support import MailCollector, make_event, smtp_server
from tests.support import wait_for


def _use(app, host, port):
    app.config.update(SMTP_HOST=host, SMTP_PORT=port, SMTP_FROM="Tickets <tickets@hub.test>")


def _api_buy(base, event_id, method="box_office", name="Ada Lovelace", email="ada@example.org", http=requests):
    hold = http.post(f"{base}/api/v1/events/{event_id}/holds", json={"best_available": {"count": 1}})
    assert hold.status_code == 201, hold.text
    order = http.post(
        f"{base}/api/v1/orders",
        json={
            "hold_id": hold.json()["hold_id"],
            "hold_token": hold.json()["hold_token"],
            "buyer": {"name": name, "email": email},
            "payment": {"method": method},
        },
    )
    assert order.status_code == 201, order.text
    return order.json()


def _jobs(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(mail_jobs.c.status, mail_jobs.c.attempts)).all()]


def test_a_slow_smtp_server_delays_no_api_answer(app, live_server, engine, make_user):
    user, _headers = make_user("organizer")
    with engine.connect() as conn:
        event = make_event(conn, user["id"], price=0, fee=0)
    gate = threading.Event()
    with smtp_server(MailCollector(gate=gate)) as (host, port, collector):
        _use(app, host, port)
        app.config.update(MAIL_QUEUE_INTERVAL_SECONDS=1, SWEEP_INTERVAL_SECONDS=0)
        scheduler = start_background_jobs(app)
        try:
            first = _api_buy(live_server, event["id"], method="free")
            wait_for(collector.arrived.is_set, what="the mail job to reach the SMTP server")
            # the server now holds the first message; a purchase still answers at once
            second = _api_buy(live_server, event["id"], method="free", email="bob@example.org")
            assert second["status"] == "paid" and collector.messages == []
            assert ("queued", 0) in _jobs(engine)
            gate.set()
            wait_for(lambda: len(collector.messages) == 2, what="both confirmations")
            wait_for(lambda: _jobs(engine) == [("sent", 0), ("sent", 0)], what="the jobs marked sent")
        finally:
            scheduler.shutdown(wait=True)
    assert [m["To"] for m in collector.messages] == ["Ada Lovelace <ada@example.org>", "Ada Lovelace <bob@example.org>"]
    assert [m["Subject"] for m in collector.messages] == [
        f"Your tickets for Brass Night (order {first['id']})",
        f"Your tickets for Brass Night (order {second['id']})",
    ]


def test_a_refusing_server_is_retried_with_doubling_waits(app, client, engine, make_user):
    user, _headers = make_user("organizer")
    with engine.connect() as conn:
        event = make_event(conn, user["id"], price=0, fee=0)
    t0 = utcnow() + timedelta(minutes=1)  # after the purchase below; every step is at a pinned time
    with smtp_server(MailCollector(refuse=2)) as (host, port, collector):
        _use(app, host, port)
        _api_buy("", event["id"], method="free", http=client_http(client))
        with app.app_context(), engine.connect() as conn:

            def work(at):
                return work_queue(conn, mail_settings(app), links(app), at, retry_seconds=60, max_attempts=5)

            assert work(t0) == {"retry": 1}
            assert work(t0 + timedelta(seconds=59)) == {}  # first wait: 60 s
            assert work(t0 + timedelta(seconds=60)) == {"retry": 1}
            job = conn.execute(select(mail_jobs)).mappings().one()
            assert job["attempts"] == 2 and "451" in job["last_error"]
            assert job["next_attempt_at"] == t0 + timedelta(seconds=60 + 120)  # doubled
            assert work(t0 + timedelta(seconds=179)) == {}
            assert work(t0 + timedelta(seconds=180)) == {"sent": 1}
            assert conn.execute(select(mail_log.c.kind, mail_log.c.status)).all() == [("confirmation", "sent")]
    assert len(collector.messages) == 1


def test_after_the_last_attempt_the_message_is_kept_in_the_outbox(app, client, engine, make_user, caplog):
    from tests.support import free_port

    user, _headers = make_user("organizer")
    with engine.connect() as conn:
        event = make_event(conn, user["id"], price=0, fee=0)
    _use(app, "127.0.0.1", free_port())  # nobody listens
    _api_buy("", event["id"], method="free", http=client_http(client))
    t0 = utcnow() + timedelta(minutes=1)
    with app.app_context(), engine.connect() as conn:
        settings = mail_settings(app)
        assert work_queue(conn, settings, links(app), t0, max_attempts=2) == {"retry": 1}
        assert work_queue(conn, settings, links(app), t0 + timedelta(minutes=1), max_attempts=2) == {"outbox": 1}
        assert conn.execute(select(mail_log.c.status)).scalars().all() == ["outbox"]
        assert work_queue(conn, settings, links(app), t0 + timedelta(days=1), max_attempts=2) == {}
    [kept] = (settings.outbox).glob("*.eml")
    assert "Your tickets for Brass Night" in kept.read_text()
    assert "gave up sending the confirmation" in caplog.text


def test_a_claimed_job_is_not_sent_twice(app, client, engine, make_user):
    """Two workers at once (two processes by mistake): the claim lets one of them send."""
    user, _headers = make_user("organizer")
    with engine.connect() as conn:
        event = make_event(conn, user["id"], price=0, fee=0)
    with smtp_server() as (host, port, collector):
        _use(app, host, port)
        _api_buy("", event["id"], method="free", http=client_http(client))
        now = utcnow() + timedelta(seconds=1)
        results = []

        def worker():
            with app.app_context(), engine.connect() as conn:
                results.append(work_queue(conn, mail_settings(app), links(app), now))

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(collector.messages) == 1 and sorted(r.get("sent", 0) for r in results) == [0, 0, 0, 1]
        with app.app_context(), engine.connect() as conn:  # and a lease later it is done, not sent again
            assert work_queue(conn, mail_settings(app), links(app), now + LEASE * 2) == {}


class client_http:  # noqa: N801  requests-like posts on a Flask test client (the same app, no server)
    def __init__(self, client):
        self.client = client

    def post(self, url, json):
        return _Answer(self.client.post(url, json=json))


class _Answer:
    def __init__(self, response):
        self.status_code, self.text, self._json = response.status_code, response.get_data(as_text=True), response.json

    def json(self):
        return self._json


def _normal(message) -> tuple:
    """A message with what differs between two orders (numbers, links, tickets' short codes) taken out."""

    def scrub(text: str) -> str:
        text = re.sub(r"code [0-9A-Z]+(-[0-9A-Z]+)*", "code CODE", text)
        return re.sub(r"\d+", "N", re.sub(r"https?://\S+", "URL", text))

    parts = [scrub(str(message["Subject"])), scrub(message.get_body(("plain",)).get_content())]
    return (*parts, [a.get_content_type() for a in message.iter_attachments()])


def test_the_same_mail_whichever_channel_made_the_change(
    app, client, browser_client, new_browser, engine, make_user, smtp
):
    """Box-office orders: one bought on the checkout page and marked paid on the staff page, one
    bought through /api/v1 and confirmed there: the buyer gets the same two messages."""
    user, headers = make_user("organizer", "org@example.org")
    with engine.connect() as conn:
        event = make_event(conn, user["id"], price=1200, fee=0)

    browser_client.get(f"/events/{event['id']}")
    checkout = browser_client.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": ["0"]})
    browser_client.get(checkout.headers["Location"])
    page = browser_client.post(
        checkout.headers["Location"],
        {"name": "Ada Lovelace", "email": "ada@example.org", "payment_method": "box_office", "action": "buy"},
    )
    web_order = int(re.search(r"/orders/(\d+)/", page.headers["Location"]).group(1))
    api_order = _api_buy("", event["id"], http=client_http(client))["id"]
    assert mail_queue_once(app) == {"sent": 2}
    web_placed, api_placed = smtp[:2]

    staff = new_browser()
    staff.login("org@example.org")
    staff.get(f"/manage/events/{event['id']}/orders")
    assert staff.post(f"/manage/orders/{web_order}/mark-paid").status_code == 302
    assert client.post(f"/api/v1/orders/{api_order}/confirm-payment", headers=headers).status_code == 200
    assert mail_queue_once(app) == {"sent": 2}
    web_paid, api_paid = smtp[2:]

    assert _normal(web_placed) == _normal(api_placed)
    assert _normal(web_paid) == _normal(api_paid)
    placed = web_placed.get_body(("plain",)).get_content()
    assert "not paid yet" in placed and "at the box office" in placed and f"/orders/{web_order}/" in placed
    assert [a.get_content_type() for a in web_paid.iter_attachments()] == ["application/pdf"]
    assert web_paid["Subject"] == f"Your tickets for Brass Night (order {web_order})"


def test_reissue_refund_and_cancel_mail_say_what_happened_in_plain_words(app, client, engine, make_user, smtp):
    user, headers = make_user("organizer")
    with engine.connect() as conn:
        event = make_event(conn, user["id"], price=0, fee=0)
    order = _api_buy("", event["id"], method="free", http=client_http(client))
    unpaid = _api_buy("", event["id"], method="box_office", http=client_http(client))
    [ticket] = order["tickets"]
    assert client.post(f"/api/v1/tickets/{ticket['ticket_id']}/reissue", headers=headers).status_code == 201
    assert mail_queue_once(app) == {"sent": 3}  # tickets, "please pay", new ticket
    assert client.post(f"/api/v1/orders/{order['id']}/refund", headers=headers).status_code == 200
    assert client.post(f"/api/v1/orders/{unpaid['id']}/refund", headers=headers).status_code == 200
    assert mail_queue_once(app) == {"sent": 2}

    reissued, refunded, cancelled = smtp[2:]
    seat = f"Section A · Row {ticket['seat']['row']} · Seat {ticket['seat']['seat']}"
    assert reissued["Subject"] == f"New tickets for Brass Night (order {order['id']})"
    body = reissued.get_body(("plain",)).get_content()
    assert f"we have replaced your ticket for {seat}" in body and "no longer gets you in" in body
    assert [a.get_content_type() for a in reissued.iter_attachments()] == ["application/pdf"]
    body = refunded.get_body(("plain",)).get_content()
    assert f"These tickets are no longer valid and will not get you in: {seat}." in body
    assert "sync" not in body and "revoked" not in body  # no gate words
    assert cancelled["Subject"] == f"Your order {unpaid['id']} for Brass Night is cancelled"
    assert "You have not been charged." in cancelled.get_body(("plain",)).get_content()


def test_an_api_only_hub_mails_too_with_links_to_the_api(app_config, make_user):
    api_only = create_app(app_config | {"WEB_PAGES": False, "PUBLIC_URL": "https://tickets.example.org"})
    api_only.extensions["tickethub.keys"].ensure()
    try:
        engine = api_only.extensions["tickethub.engine"]
        with engine.connect() as conn:
            user = users.create_user(conn, "solo@example.org", "correct horse", "organizer")
            event = make_event(conn, user["id"], price=0, fee=0)
        order = _api_buy("", event["id"], method="free", http=client_http(api_only.test_client()))
        assert mail_queue_once(api_only) == {"outbox": 1}  # no SMTP host: kept in the outbox folder
        [eml] = (Path(api_only.instance_path) / "outbox").glob("*.eml")
        text = email.message_from_bytes(eml.read_bytes(), policy=policy.default).get_body(("plain",)).get_content()
        token = order["access_token"]
        assert f"https://tickets.example.org/api/v1/orders/{order['id']}?access_token={token}" in text
        assert f"https://tickets.example.org/api/v1/tickets/{order['tickets'][0]['ticket_id']}/qr.png" in text
    finally:
        api_only.extensions["tickethub.engine"].dispose()
