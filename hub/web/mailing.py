"""Flask glue for mail: settings from the app, links under PUBLIC_URL (hub.deployment), the mail queue
and reminder jobs (started by hub.scheduler.start_background_jobs)."""

from __future__ import annotations

import logging
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, current_app
from sqlalchemy import Connection

from .. import mail
from ..delivery import mail_queue, notify
from ..deployment import external_url

log = logging.getLogger(__name__)


def mail_settings(app: Flask | None = None) -> mail.MailSettings:
    app = app or current_app
    return mail.MailSettings.from_config(app.config, Path(app.instance_path) / "outbox")


def links(app: Flask | None = None) -> notify.Links:
    """Absolute links under the public URL, never the request's Host; no request context needed.
    The storefront's order and ticket pages; on an API-only hub, the API's order and QR image."""
    app = app or current_app
    if "store" in app.blueprints:
        return notify.Links(
            order_url=lambda order_id, token: external_url("store.order", app, order_id=order_id, token=token),
            ticket_url=lambda order_id, token, ticket_id: external_url(
                "store.ticket", app, order_id=order_id, token=token, ticket_id=ticket_id
            ),
        )
    return notify.Links(
        order_url=lambda order_id, token: external_url(
            "api.orders.get_order", app, order_id=order_id, access_token=token
        ),
        ticket_url=lambda order_id, token, ticket_id: external_url(
            "api.orders.ticket_qr_png", app, ticket_id=ticket_id, access_token=token
        ),
    )


def send_confirmation_now(conn: Connection, order_id: int) -> str | None:
    """Mail the tickets of a paid order again, now (staff's "send again"). A mail problem is logged."""
    try:
        return notify.send_confirmation(conn, mail_settings(), order_id, links())
    except Exception:  # the order is fine; the mail can be sent again from the order page
        log.exception("could not send the confirmation for order %s", order_id)
        return None


def mail_queue_once(app: Flask) -> dict[str, int]:
    """One run of the mail job: send the buyers' queued mail that is due."""
    with app.extensions["tickethub.engine"].connect() as conn:
        return mail_queue.work_queue(
            conn,
            mail_settings(app),
            links(app),
            retry_seconds=app.config["MAIL_RETRY_SECONDS"],
            max_attempts=app.config["MAIL_MAX_ATTEMPTS"],
        )


def remind_once(app: Flask) -> list[int]:
    """One run of the reminder job: queue a reminder for buyers whose event starts within 24 hours."""
    with app.extensions["tickethub.engine"].connect() as conn:
        return notify.publish_due_reminders(conn)


def _every(scheduler: BackgroundScheduler, job, seconds: int, app: Flask, job_id: str) -> None:
    scheduler.add_job(
        job,
        "interval",
        seconds=seconds,
        args=[app],
        id=job_id,
        max_instances=1,
        coalesce=True,
        replace_existing=True,
    )


def start_mail_queue(app: Flask, scheduler: BackgroundScheduler) -> BackgroundScheduler | None:
    """Add the mail job to the hub's scheduler."""
    interval = app.config["MAIL_QUEUE_INTERVAL_SECONDS"]
    if interval <= 0:
        return None
    _every(scheduler, mail_queue_once, interval, app, "mail_queue")
    return scheduler


def start_reminders(app: Flask, scheduler: BackgroundScheduler | None = None) -> BackgroundScheduler | None:
    """Add the reminder job to the hub's scheduler (or a new one)."""
    interval = app.config["REMINDER_INTERVAL_SECONDS"]
    if interval <= 0:
        return None
    if scheduler is None:
        scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
        scheduler.start()
    _every(scheduler, remind_once, interval, app, "event_reminders")
    return scheduler
