"""Posting outgoing webhooks (services.webhooks), outside any request.

The background job (hub.scheduler, every WEBHOOK_INTERVAL_SECONDS) calls `work_deliveries`: each due
delivery is claimed (a lease, so two workers never post it at once), its body built from the
notification, signed with the endpoint's secret and posted with a short timeout. A 2xx answer
delivers it; anything else (an error status, a timeout, a refused connection) is retried after
WEBHOOK_RETRY_SECONDS, doubled after each further failure (hub.delivery.mail_queue.retry_wait, the
hub's one backoff rule), for a day; then it is marked failed and shown so on the organizer's page.
At least once, not exactly once: receivers deduplicate by the Webhook-Id header.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import requests
from sqlalchemy import Connection

from ..services import webhooks
from ..services.clock import utcnow
from ..services.errors import Invalid
from .mail_queue import retry_wait

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # longer than a post may take (the timeout)
USER_AGENT = "ticketgate-hub-webhooks/1"


def work_deliveries(
    conn: Connection,
    now: datetime | None = None,
    *,
    session: requests.Session | None = None,
    timeout: float = 10.0,
    first_wait: timedelta = timedelta(seconds=30),
    allow_private: bool = False,
    batch: int = 50,
) -> dict[str, int]:
    """Post the deliveries that are due; returns how many ended in each state."""
    now = now or utcnow()
    session = session or requests.Session()
    counts: dict[str, int] = {}
    if conn.in_transaction():
        conn.commit()
    for delivery in webhooks.due(conn, now, batch):
        if conn.in_transaction():
            conn.commit()
        if not webhooks.claim(conn, delivery, now, LEASE):
            continue  # another worker has it
        outcome = _post_one(conn, session, delivery, now, timeout, first_wait, allow_private)
        counts[outcome] = counts.get(outcome, 0) + 1
    if counts:
        log.info("webhooks: %s", ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    return counts


def _post_one(conn, session, delivery: dict, now: datetime, timeout: float, first_wait, allow_private) -> str:
    body = json.dumps(webhooks.payload(conn, delivery["notification_id"]), separators=(",", ":")).encode()
    if conn.in_transaction():
        conn.commit()  # no read transaction stays open while the receiver takes its time
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        webhooks.ID_HEADER: str(delivery["notification_id"]),
        webhooks.KIND_HEADER: delivery["kind"],
        webhooks.SIGNATURE_HEADER: webhooks.sign(delivery["secret"], int(now.timestamp()), body),
    }
    status, error = None, None
    try:
        webhooks.check_destination(delivery["url"], allow_private)  # the name may point elsewhere by now
        answer = session.post(delivery["url"], data=body, headers=headers, timeout=timeout, allow_redirects=False)
        status = answer.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except Invalid as exc:
        error = exc.message
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    wait = retry_wait(delivery["attempts"] + 1, first_wait)
    outcome = webhooks.record_attempt(conn, delivery, now, status, error, wait)
    if outcome != "delivered":
        log.warning("webhook %s to %s: %s (%s)", delivery["id"], delivery["url"], error, outcome)
    return outcome
