"""Mail sent by the running hub through a real SMTP server (aiosmtpd on loopback):
purchase confirmation with the tickets PDF, refund notice, the once-per-order event reminder.
Pages only queue it; the mail job (mail_queue_once, as the background job runs it) sends it."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from sqlalchemy import func, select, update

from common.signing import verify_ticket
from hub.schema import orders
from hub.schema_web import mail_log, order_reminders
from hub.web.mailing import mail_queue_once, remind_once
from tests.hub.web.support import make_event, pdf_pages, read_pdf_qr


def _buy(web, event, seats, method="free", name="Ada Lovelace", email="ada@example.org"):
    web.get(f"/events/{event['id']}")
    checkout = web.post(f"/events/{event['id']}/hold", {"mode": "seats", "seat": [str(s) for s in seats]})
    web.get(checkout.headers["Location"])
    bought = web.post(
        checkout.headers["Location"], {"name": name, "email": email, "payment_method": method, "action": "buy"}
    )
    assert bought.status_code == 302, bought.get_data(as_text=True)[:400]
    return bought.headers["Location"]


def test_free_purchase_mails_pdf_whose_qr_is_the_ticket_on_the_order_page(
    app, browser_client, engine, make_account, smtp
):
    organizer = make_account("organizer")
    with engine.connect() as conn:
        event = make_event(conn, organizer["id"], price=0, fee=0, title="Free Matinee")
    order_url = _buy(browser_client, event, [5, 6])
    assert smtp == []  # the page only queued it
    assert mail_queue_once(app) == {"sent": 1}

    [message] = smtp
    assert message["From"] == "Tickets <tickets@hub.test>" and message["To"] == "Ada Lovelace <ada@example.org>"
    body = message.get_body(("plain",)).get_content()
    links = re.findall(r"http://localhost:8080(/orders/\d+/\S+/tickets/\d+)", body)
    assert len(links) == 2 and all(link.startswith(order_url) for link in links)
    [attachment] = list(message.iter_attachments())
    pdf = attachment.get_content()
    assert pdf_pages(pdf) == 2
    keyring = app.extensions["tickethub.keys"].keyring()
    order = browser_client.get(order_url).get_data(as_text=True)
    for page, link in enumerate(links):
        qr = read_pdf_qr(pdf, page)
        verdict = verify_ticket(qr.text, keyring, time.time())
        assert verdict.valid and verdict.ticket.seat == 5 + page
        assert link.endswith(f"/tickets/{verdict.ticket.ticket_id}") and link in order
    with engine.connect() as conn:
        assert conn.execute(select(mail_log.c.kind, mail_log.c.status)).all() == [("confirmation", "sent")]


def test_refund_through_the_organizer_page_mails_a_notice_and_revokes(
    app, browser_client, new_browser, engine, make_account, smtp
):
    organizer = make_account("organizer", "org@example.org")
    with engine.connect() as conn:
        event = make_event(conn, organizer["id"], price=0, fee=0)
    order_url = _buy(browser_client, event, [0])
    assert mail_queue_once(app) == {"sent": 1}
    order_id = int(re.search(r"/orders/(\d+)/", order_url).group(1))
    ticket_url = re.search(
        r'href="(/orders/[^"]+/tickets/\d+)"', browser_client.get(order_url).get_data(as_text=True)
    ).group(1)

    staff = new_browser()
    staff.login("org@example.org")
    staff.get(f"/manage/events/{event['id']}/orders")
    assert staff.post(f"/manage/orders/{order_id}/refund").status_code == 302
    assert mail_queue_once(app) == {"sent": 1}

    assert [m["Subject"] for m in smtp] == [smtp[0]["Subject"], f"Refund for order {order_id}"]
    log = staff.get(f"/manage/events/{event['id']}/orders").get_data(as_text=True)
    assert "confirmation: sent" in log and "refund: sent" in log
    assert "no longer valid" in smtp[1].get_body(("plain",)).get_content()
    assert "no longer admits" in browser_client.get(ticket_url).get_data(as_text=True)
    assert browser_client.get(ticket_url + ".png").status_code == 410


def test_reminder_job_mails_each_order_once_within_24_hours(app, browser_client, engine, make_account, smtp):
    organizer = make_account("organizer")
    with engine.connect() as conn:
        soon = make_event(conn, organizer["id"], price=0, fee=0, title="Tomorrow Gig", starts_in=timedelta(hours=20))
        later = make_event(conn, organizer["id"], price=0, fee=0, title="Next Week Gig", starts_in=timedelta(days=7))
        unpaid = make_event(conn, organizer["id"], price=900, title="Tomorrow Paid Gig", starts_in=timedelta(hours=20))
    _buy(browser_client, soon, [0], email="soon@example.org")
    _buy(browser_client, later, [0], email="later@example.org")
    _buy(browser_client, unpaid, [0], method="box_office", email="unpaid@example.org")  # not paid: no reminder
    mail_queue_once(app)
    confirmations = len(smtp)

    assert len(remind_once(app)) == 1
    assert remind_once(app) == []  # a second run queues nothing again
    assert mail_queue_once(app) == {"sent": 1}
    assert mail_queue_once(app) == {}
    reminders = smtp[confirmations:]
    assert [m["To"] for m in reminders] == ["Ada Lovelace <soon@example.org>"]
    assert reminders[0]["Subject"].startswith("Reminder: Tomorrow Gig")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(order_reminders)).scalar_one() == 1


def test_reminder_job_is_scheduled_on_the_hub_scheduler(app):
    from apscheduler.schedulers.background import BackgroundScheduler

    from hub.web.mailing import start_reminders

    scheduler = BackgroundScheduler(timezone="UTC")
    app.config["REMINDER_INTERVAL_SECONDS"] = 900
    assert start_reminders(app, scheduler) is scheduler
    job = scheduler.get_job("event_reminders")
    assert job.trigger.interval == timedelta(seconds=900) and job.args == (app,)
    app.config["REMINDER_INTERVAL_SECONDS"] = 0
    assert start_reminders(app, BackgroundScheduler(timezone="UTC")) is None


def test_one_unmailable_order_does_not_stop_the_reminders_for_the_others(
    app, browser_client, engine, make_account, smtp, caplog
):
    organizer = make_account("organizer")
    with engine.connect() as conn:
        soon = make_event(conn, organizer["id"], price=0, fee=0, title="Tomorrow Gig", starts_in=timedelta(hours=20))
    _buy(browser_client, soon, [0], email="first@example.org")
    _buy(browser_client, soon, [1], email="second@example.org")
    mail_queue_once(app)
    confirmations = len(smtp)
    with engine.begin() as conn:  # a row stored before addresses were checked
        first_id = conn.execute(select(func.min(orders.c.id))).scalar_one()
        conn.execute(
            update(orders)
            .where(orders.c.id == first_id)
            .values(
                buyer_name="Eve\r\nBcc: everyone@example.org", buyer_email="eve@example.org\r\nBcc: all@example.org"
            )
        )

    assert remind_once(app) == [first_id, first_id + 1]
    assert mail_queue_once(app) == {"sent": 1, "skipped": 1}
    assert [m["To"] for m in smtp[confirmations:]] == ["Ada Lovelace <second@example.org>"]
    assert f"could not mail the reminder for order {first_id}" in caplog.text
    assert remind_once(app) == [] and mail_queue_once(app) == {}  # the bad one is not retried on every run


def test_cancelling_an_event_on_its_page_says_what_happens_then_refunds_revokes_and_mails(
    app, browser_client, new_browser, engine, make_account, smtp
):
    from hub.services.orders import confirm_payment

    organizer = make_account("organizer", "org@example.org")
    with engine.connect() as conn:
        event = make_event(conn, organizer["id"], price=900, fee=100, title="Rained Off")
    paid_url = _buy(browser_client, event, [0, 1], method="box_office", email="paid@example.org")
    _buy(browser_client, event, [2], method="box_office", email="unpaid@example.org")
    paid_id = int(re.search(r"/orders/(\d+)/", paid_url).group(1))
    with engine.connect() as conn:
        confirm_payment(conn, paid_id, app.extensions["tickethub.keys"].current())
    staff = new_browser()
    staff.login("org@example.org")
    url = f"/manage/events/{event['id']}/cancel"

    step_one = staff.get(url).get_data(as_text=True)
    assert "refunds 1 paid order(s) (€20.00)" in step_one and "QR codes stop working at the gate" in step_one
    assert "1 unpaid order(s) are cancelled" in step_one and "2 ticket(s) are revoked" in step_one
    wrong = staff.post(url, {"confirm": "rained off"})
    assert wrong.status_code == 200 and "nothing was cancelled" in wrong.get_data(as_text=True)
    assert staff.get(f"/api/v1/events/{event['id']}").json["cancelled_at"] is None and smtp == []

    done = staff.post(url, {"confirm": "Rained Off"}, follow_redirects=True).get_data(as_text=True)
    mail_queue_once(app)  # the refunds and the cancellation queued the buyers' mail; the job sends it
    assert "Event cancelled: 1 order(s) refunded, 1 unpaid order(s) cancelled" in done and 'id="cancelled"' in done
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp) == ["paid@example.org", "unpaid@example.org"]
    refund_mail = next(m for m in smtp if m["To"].addresses[0].addr_spec == "paid@example.org")
    assert "we have refunded €20.00" in refund_mail.get_body(("plain",)).get_content()  # the event's currency format
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(orders.c.buyer_email, orders.c.status)).all())
    assert statuses == {"paid@example.org": "refunded", "unpaid@example.org": "cancelled"}
    public = browser_client.get(f"/events/{event['id']}").get_data(as_text=True)
    assert "This event is cancelled" in public
    assert '<div class="price-from">Cancelled</div>' in browser_client.get("/").get_data(as_text=True)
    assert browser_client.get(paid_url).status_code == 200
