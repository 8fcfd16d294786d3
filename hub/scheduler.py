"""Background jobs with APScheduler: sweep expired holds, mail event reminders.

Correctness never depends on the sweeper (expiry is checked inside every
transaction); it only keeps the seat map and the tables tidy.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from .services.holds import sweep_expired

log = logging.getLogger(__name__)


def sweep_once(app: Flask) -> int:
    with app.extensions["tickethub.engine"].connect() as conn:
        count = sweep_expired(conn)
    if count:
        log.info("released %d expired hold(s)", count)
    return count


def start_sweeper(app: Flask) -> BackgroundScheduler | None:
    interval = app.config["SWEEP_INTERVAL_SECONDS"]
    if interval <= 0:
        return None
    scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
    scheduler.add_job(
        sweep_once, "interval", seconds=interval, args=[app], id="sweep_holds", max_instances=1, coalesce=True
    )
    scheduler.start()
    app.extensions["tickethub.scheduler"] = scheduler
    return scheduler


def start_background_jobs(app: Flask) -> BackgroundScheduler | None:
    """Every periodic job of a serving hub, on one scheduler. Call it in ONE process
    (with several workers, the first), so reminders are not mailed twice."""
    scheduler = start_sweeper(app)
    if "store" in app.blueprints:  # the web pages mail event reminders
        from .web.mailing import start_reminders

        scheduler = start_reminders(app, scheduler) or scheduler
    if scheduler is not None:
        log.info("background jobs: %s", ", ".join(sorted(job.id for job in scheduler.get_jobs())))
    return scheduler
