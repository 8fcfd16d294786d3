"""Background housekeeping with APScheduler: sweep expired holds.

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
    scheduler.add_job(sweep_once, "interval", seconds=interval, args=[app], id="sweep_holds",
                      max_instances=1, coalesce=True)
    scheduler.start()
    app.extensions["tickethub.scheduler"] = scheduler
    return scheduler
