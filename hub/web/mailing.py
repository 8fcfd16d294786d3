"""Flask glue for mail: settings from the app, links under PUBLIC_URL (hub.deployment), the reminder job."""

from __future__ import annotations

import logging
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, current_app
from sqlalchemy import Connection

from .. import mail
from ..delivery import notify
from ..deployment import external_url

log = logging.getLogger(__name__)


def mail_settings(app: Flask | None = None) -> mail.MailSettings:
    app = app or current_app
    return mail.MailSettings.from_config(app.config, Path(app.instance_path) / "outbox")


def links(app: Flask | None = None) -> notify.Links:
    """Absolute links under the public URL, never the request's Host; no request context needed."""
    app = app or current_app
    return notify.Links(
        order_url=lambda order_id, token: external_url("store.order", app, order_id=order_id, token=token),
        ticket_url=lambda order_id, token, ticket_id: external_url(
            "store.ticket", app, order_id=order_id, token=token, ticket_id=ticket_id
        ),
    )


def send_confirmation_now(conn: Connection, order_id: int) -> str | None:
    """Mail the tickets of a paid order. A mail problem never fails the purchase: it is logged."""
    try:
        return notify.send_confirmation(conn, mail_settings(), order_id, links())
    except Exception:  # the order is committed; the mail can be re-sent from the order page
        log.exception("could not send the confirmation for order %s", order_id)
        return None


def send_refund_now(conn: Connection, order_id: int) -> str | None:
    try:
        return notify.send_refund_notice(conn, mail_settings(), order_id)
    except Exception:
        log.exception("could not send the refund notice for order %s", order_id)
        return None


def remind_once(app: Flask) -> list[int]:
    """One run of the reminder job: mail buyers whose event starts within 24 hours."""
    with app.extensions["tickethub.engine"].connect() as conn:
        return notify.send_due_reminders(conn, mail_settings(app), links(app))


def start_reminders(app: Flask, scheduler: BackgroundScheduler | None = None) -> BackgroundScheduler | None:
    """Add the reminder job to the hub's scheduler (or a new one)."""
    interval = app.config["REMINDER_INTERVAL_SECONDS"]
    if interval <= 0:
        return None
    if scheduler is None:
        scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
        scheduler.start()
    scheduler.add_job(
        remind_once,
        "interval",
        seconds=interval,
        args=[app],
        id="event_reminders",
        max_instances=1,
        coalesce=True,
        replace_existing=True,
    )
    return scheduler
