"""Background jobs with APScheduler: sweep expired holds and overdue orders, send the mail queue, post
outgoing webhooks, queue event reminders.

Correctness never depends on the hold sweeper (a hold's expiry is checked inside every transaction);
it only keeps the seat map and the tables tidy. Overdue orders are different: their seats go back on
sale when this sweep expires them (services.orders.expire_overdue), so it runs every
SWEEP_INTERVAL_SECONDS; a payment confirmed before that still finds the seats its own.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from .services import seatmap
from .services.holds import sweep_expired
from .services.orders import expire_overdue

log = logging.getLogger(__name__)


def sweep_once(app: Flask) -> int:
    """Expire stale holds and overdue unpaid orders; returns how many holds and orders."""
    with app.extensions["tickethub.engine"].connect() as conn:
        count = sweep_expired(conn)
        expired = expire_overdue(conn, providers=app.extensions["tickethub.payments"])
    if count:
        log.info("released %d expired hold(s)", count)
    if expired:
        log.info("expired %d unpaid order(s) past their payment deadline", len(expired))
    for event_id in {order["event_id"] for order in expired}:
        seatmap.changed(event_id, app)  # their seats are on sale again
    return count + len(expired)


def start_sweeper(app: Flask, scheduler: BackgroundScheduler | None = None) -> BackgroundScheduler | None:
    interval = app.config["SWEEP_INTERVAL_SECONDS"]
    if interval <= 0:
        return None
    if scheduler is None:
        scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
        scheduler.start()
        app.extensions["tickethub.scheduler"] = scheduler
    scheduler.add_job(
        sweep_once, "interval", seconds=interval, args=[app], id="sweep_holds", max_instances=1, coalesce=True
    )
    return scheduler


def start_background_jobs(app: Flask) -> BackgroundScheduler | None:
    """Every periodic job of a serving hub, on one scheduler. Call it in ONE process
    (with several workers, the first), so reminders are not queued twice."""
    from .web.mailing import start_mail_queue, start_reminders

    scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
    start_sweeper(app, scheduler)
    start_mail_queue(app, scheduler)  # the buyers' mail, also from an API-only hub
    start_webhooks(app, scheduler)  # the organizers' integrations
    if "store" in app.blueprints:  # reminders link to the web pages
        start_reminders(app, scheduler)
    if not scheduler.get_jobs():
        return None
    scheduler.start()
    app.extensions["tickethub.scheduler"] = scheduler
    log.info("background jobs: %s", ", ".join(sorted(job.id for job in scheduler.get_jobs())))
    return scheduler


def webhooks_once(app: Flask) -> dict[str, int]:
    """One run of the webhook job: post the deliveries that are due (hub/delivery/webhooks.py)."""
    from datetime import timedelta

    from .delivery.webhooks import work_deliveries

    with app.extensions["tickethub.engine"].connect() as conn:
        return work_deliveries(
            conn,
            timeout=app.config["WEBHOOK_TIMEOUT_SECONDS"],
            first_wait=timedelta(seconds=app.config["WEBHOOK_RETRY_SECONDS"]),
            allow_private=app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"],
        )


def start_webhooks(app: Flask, scheduler: BackgroundScheduler) -> None:
    interval = app.config["WEBHOOK_INTERVAL_SECONDS"]
    if interval > 0:
        scheduler.add_job(
            webhooks_once, "interval", seconds=interval, args=[app], id="webhooks", max_instances=1, coalesce=True
        )
