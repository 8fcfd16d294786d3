"""The mail queue: the buyer's mail for each notification, sent outside any request.

services.notifications.publish queues a `mail_jobs` row in the transaction that made the change;
the background job (hub.scheduler, every MAIL_QUEUE_INTERVAL_SECONDS) calls `work_queue`, which
builds each due message (hub.delivery.notify.build_message), sends it through hub.mail and records
it in mail_log. A slow or failing SMTP server delays only this job, never a page, an API call or a
payment webhook.

A failed attempt is retried after MAIL_RETRY_SECONDS, doubled after each further failure (at most
MAX_RETRY_WAIT); after MAIL_MAX_ATTEMPTS the message is written to the outbox folder instead, like
any message without an SMTP server, so nothing is lost. A job is claimed (its next attempt moved a
lease ahead) before it is sent, so two workers never send it at once; a worker that dies mid-send
leaves it to be sent again after the lease: at least once, not exactly once.

Job states: queued -> sent | outbox (no SMTP host, or given up) | skipped (nothing to say any more,
or no message can be built for the stored address).
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from .. import mail
from ..db import atomic
from ..schema_notifications import mail_jobs, notifications
from ..services.clock import utcnow
from .notify import MAIL_KINDS, Links, build_message, record

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=15)  # a claimed job is not taken again before this (a send takes seconds)
MAX_RETRY_WAIT = timedelta(hours=6)


def retry_wait(attempts: int, first: timedelta) -> timedelta:
    """The wait after the `attempts`-th failure: first, 2 first, 4 first, ... at most MAX_RETRY_WAIT."""
    return min(first * 2 ** (attempts - 1), MAX_RETRY_WAIT)


def work_queue(
    conn: Connection,
    settings: mail.MailSettings,
    links: Links,
    now: datetime | None = None,
    *,
    retry_seconds: int = 60,
    max_attempts: int = 10,
    batch: int = 50,
) -> dict[str, int]:
    """Send the queued mail that is due; returns how many jobs ended in each state (plus "retry")."""
    now = now or utcnow()
    counts: dict[str, int] = {}
    if conn.in_transaction():
        conn.commit()
    due = conn.execute(
        select(mail_jobs.c.notification_id, mail_jobs.c.next_attempt_at)
        .where(mail_jobs.c.status == "queued", mail_jobs.c.next_attempt_at <= now)
        .order_by(mail_jobs.c.next_attempt_at, mail_jobs.c.notification_id)
        .limit(batch)
    ).all()
    if conn.in_transaction():
        conn.commit()
    for notification_id, planned in due:
        if not _claim(conn, notification_id, planned, now):
            continue  # another worker has it
        outcome = _work_one(conn, settings, links, notification_id, now, timedelta(seconds=retry_seconds), max_attempts)
        counts[outcome] = counts.get(outcome, 0) + 1
    if counts:
        log.info("mail queue: %s", ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    return counts


def _claim(conn: Connection, notification_id: int, planned: datetime, now: datetime) -> bool:
    with atomic(conn):
        return (
            conn.execute(
                update(mail_jobs)
                .where(
                    mail_jobs.c.notification_id == notification_id,
                    mail_jobs.c.status == "queued",
                    mail_jobs.c.next_attempt_at == planned,
                )
                .values(next_attempt_at=now + LEASE)
            ).rowcount
            == 1
        )


def _finish(conn: Connection, notification_id: int, **values) -> None:
    with atomic(conn):
        conn.execute(update(mail_jobs).where(mail_jobs.c.notification_id == notification_id).values(**values))


def _work_one(
    conn: Connection,
    settings: mail.MailSettings,
    links: Links,
    notification_id: int,
    now: datetime,
    first_wait: timedelta,
    max_attempts: int,
) -> str:
    notification = conn.execute(select(notifications).where(notifications.c.id == notification_id)).mappings().one()
    kind, order_id = MAIL_KINDS[notification["kind"]], notification["order_id"]
    try:
        message = build_message(conn, notification, links)
    except (
        Exception
    ) as exc:  # one unmailable order (an address stored before addresses were checked) must not stop the rest
        log.exception("could not mail the %s for order %s; skipped", kind, order_id)
        if conn.in_transaction():
            conn.rollback()
        _finish(conn, notification_id, status="skipped", last_error=repr(exc)[:500])
        return "skipped"
    if conn.in_transaction():
        conn.commit()  # no read transaction stays open while the SMTP server takes its time
    if message is None:
        _finish(conn, notification_id, status="skipped", last_error="nothing to say any more")
        return "skipped"
    attempts = conn.execute(
        select(mail_jobs.c.attempts).where(mail_jobs.c.notification_id == notification_id)
    ).scalar_one()
    try:
        status = mail.deliver(settings, message)
    except (OSError, smtplib.SMTPException) as exc:
        attempts += 1
        error = f"{type(exc).__name__}: {exc}"[:500]
        if attempts >= max_attempts:
            path = mail.write_to_outbox(settings.outbox, message)
            log.error(
                "gave up sending the %s for order %s after %d attempts (%s); kept it in %s",
                kind,
                order_id,
                attempts,
                error,
                path,
            )
            _finish(conn, notification_id, status=mail.OUTBOX, attempts=attempts, sent_at=now, last_error=error)
            record(conn, kind, order_id, message, mail.OUTBOX, now)
            return mail.OUTBOX
        wait = retry_wait(attempts, first_wait)
        log.warning("sending the %s for order %s failed (%s); retry %d in %s", kind, order_id, error, attempts, wait)
        _finish(conn, notification_id, attempts=attempts, next_attempt_at=now + wait, last_error=error)
        return "retry"
    _finish(conn, notification_id, status=status, sent_at=now)
    record(conn, kind, order_id, message, status, now)
    return status
