"""Outgoing webhooks: an organizer's integrations hear what happens to their orders and tickets.

An organizer registers endpoint URLs and chooses the kinds they want (services.notifications
KINDS: order.placed, order.paid, order.expired, order.refunded, order.cancelled, ticket.reissued,
ticket.admitted, event.reminder). `fan_out`, called by notifications.publish inside the changing
transaction, queues one delivery per subscribed endpoint, so a change and its deliveries commit
together whichever channel made it. The background job (hub/delivery/webhooks.py) posts them
outside requests and records each attempt here (`record_attempt`), retrying with exponential
backoff for RETRY_FOR (a day); the organizer sees the log and can send a delivery again.

Every delivery is signed: header ``Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` over
``"<t>.<body>"`` with the endpoint's secret (shown once, when the endpoint is created). A receiver
recomputes it, compares in constant time and refuses a timestamp older than a few minutes, which
stops replays (`verify_signature` is the reference implementation; docs/webhooks.md).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Connection, and_, func, insert, select, update

from ..db import atomic
from ..schema import events, orders, tickets
from ..schema_notifications import notifications
from ..schema_webhooks import webhook_deliveries, webhook_endpoints
from . import notifications as kinds_home
from .clock import iso, utcnow
from .errors import Forbidden, Invalid, LimitReached, NotFound
from .tokens import same_secret
from .validate import boolean, fail, list_of, obj, one_of, string, with_schema

SIGNATURE_HEADER = "Webhook-Signature"
ID_HEADER = "Webhook-Id"  # the delivery's notification id: the same for every retry, so receivers can deduplicate
KIND_HEADER = "Webhook-Kind"
SIGNATURE_TOLERANCE = timedelta(minutes=5)  # what verify_signature accepts; receivers should do the same
RETRY_FOR = timedelta(days=1)  # a delivery is retried this long after it was queued, then marked failed
MAX_ENDPOINTS = 20  # per organizer
MAX_URL = 2000
PAGE = 50


def http_url() -> callable:
    """An absolute http(s) URL with a host, no credentials, no fragment."""

    def check(value, where):
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_URL:
            fail(where, f"must be a URL of at most {MAX_URL} characters")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            fail(where, "must be an absolute http:// or https:// URL", "invalid_url")
        if parts.username or parts.password or parts.fragment or any(c.isspace() for c in value):
            fail(where, "must not carry credentials, a fragment or spaces", "invalid_url")
        return value

    return with_schema(check, lambda: {"type": "string", "format": "uri", "maxLength": MAX_URL})


ENDPOINT_FIELDS = {
    "url": http_url(),
    "kinds": list_of(one_of(*sorted(kinds_home.KINDS)), max_items=len(kinds_home.KINDS), min_items=1),
}
ENDPOINT_SPEC = obj(required=ENDPOINT_FIELDS, optional={"description": string(200)})
ENDPOINT_CHANGE_SPEC = obj(optional={**ENDPOINT_FIELDS, "active": boolean()})


def check_destination(url: str, allow_private: bool) -> None:
    """Refuse a URL whose host resolves to a loopback, private, link-local or otherwise internal
    address unless the hub allows it (WEBHOOK_ALLOW_PRIVATE_ADDRESSES): an organizer's endpoint must
    not make the hub probe its own network. Checked when the endpoint is saved and before each post."""
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as exc:
        raise Invalid(f"the host {host!r} of the URL does not resolve", "webhook_host_unknown") from exc
    for *_, address in infos:
        ip = ipaddress.ip_address(address[0])
        if not ip.is_global:
            raise Invalid(
                f"the URL points at an internal address ({ip}); webhooks go to public addresses only",
                "webhook_address_not_public",
            )


def create_endpoint(conn: Connection, data, organizer_id: int, now: datetime, *, allow_private: bool) -> dict:
    """A new endpoint; the answer is the only one that shows its secret."""
    data = ENDPOINT_SPEC(data, "body")
    check_destination(data["url"], allow_private)
    with atomic(conn):
        count = conn.execute(
            select(func.count()).select_from(webhook_endpoints).where(webhook_endpoints.c.organizer_id == organizer_id)
        ).scalar_one()
        if count >= MAX_ENDPOINTS:
            raise LimitReached(f"at most {MAX_ENDPOINTS} webhook endpoints per organizer", "webhook_limit_reached")
        row = {
            "organizer_id": organizer_id,
            "url": data["url"],
            "secret": "whsec_" + secrets.token_urlsafe(32),
            "kinds": json.dumps(sorted(set(data["kinds"]))),
            "active": True,
            "created_at": now,
        }
        row["id"] = conn.execute(insert(webhook_endpoints).returning(webhook_endpoints.c.id), row).scalar_one()
    return {**endpoint_json(row), "secret": row["secret"]}


def endpoint_json(row) -> dict:
    return {
        "id": row["id"],
        "organizer_id": row["organizer_id"],
        "url": row["url"],
        "kinds": json.loads(row["kinds"]),
        "active": bool(row["active"]),
        "created_at": iso(row["created_at"]),
    }


def get_endpoint(conn: Connection, endpoint_id: int, owner: int | None) -> dict:
    """The endpoint, if `owner` (services.roles.owner_scope: an organizer's id, None for an admin) may see it."""
    row = conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)).mappings().first()
    if row is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}", "webhook_not_found")
    if owner is not None and row["organizer_id"] != owner:
        raise Forbidden(f"webhook endpoint {endpoint_id} belongs to another organizer", "not_your_webhook")
    return endpoint_json(row)


def list_endpoints(conn: Connection, owner: int | None) -> list[dict]:
    query = select(webhook_endpoints).order_by(webhook_endpoints.c.id)
    if owner is not None:
        query = query.where(webhook_endpoints.c.organizer_id == owner)
    return [endpoint_json(row) for row in conn.execute(query).mappings()]


def update_endpoint(conn: Connection, endpoint_id: int, data, owner: int | None, *, allow_private: bool) -> dict:
    data = ENDPOINT_CHANGE_SPEC(data, "body")
    get_endpoint(conn, endpoint_id, owner)
    if "url" in data:
        check_destination(data["url"], allow_private)
    values = {k: v for k, v in data.items() if k in ("url", "active")}
    if "kinds" in data:
        values["kinds"] = json.dumps(sorted(set(data["kinds"])))
    if values:
        with atomic(conn):
            conn.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(**values))
    return get_endpoint(conn, endpoint_id, owner)


def delete_endpoint(conn: Connection, endpoint_id: int, owner: int | None) -> None:
    """Deactivate the endpoint: nothing more is queued or sent to it; its delivery log stays."""
    get_endpoint(conn, endpoint_id, owner)
    with atomic(conn):
        conn.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(active=False))
        conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.endpoint_id == endpoint_id, webhook_deliveries.c.status == "queued")
            .values(status="failed", last_error="endpoint removed")
        )


def _queued(endpoint_id: int, notification_id: int, now: datetime) -> dict:
    """A new delivery row: due now, not tried yet."""
    return {
        "endpoint_id": endpoint_id,
        "notification_id": notification_id,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def fan_out(conn: Connection, kind: str, published: list[tuple[int, int]], now: datetime) -> int:
    """Queue a delivery of each published (notification id, event id) to every active endpoint of the
    event's organizer that subscribed to `kind`, in the caller's transaction (one query for the
    subscribers of all the events). Returns how many deliveries were queued."""
    by_event = sorted({event_id for _, event_id in published})
    rows = conn.execute(
        select(events.c.id.label("event_id"), webhook_endpoints.c.id, webhook_endpoints.c.kinds)
        .join(webhook_endpoints, webhook_endpoints.c.organizer_id == events.c.organizer_id)
        .where(events.c.id.in_(by_event), webhook_endpoints.c.active.is_(True))
    ).all()
    listeners: dict[int, list[int]] = {}
    for row in rows:
        if kind in json.loads(row.kinds):
            listeners.setdefault(row.event_id, []).append(row.id)
    deliveries = [
        _queued(endpoint_id, notification_id, now)
        for notification_id, event_id in published
        for endpoint_id in listeners.get(event_id, ())
    ]
    if deliveries:
        conn.execute(insert(webhook_deliveries), deliveries)
    return len(deliveries)


def payload(conn: Connection, notification_id: int) -> dict:
    """The JSON body of a delivery: the notification and a small view of its order (no ticket codes,
    no access tokens: an integration that needs more asks the API with its own token)."""
    row = conn.execute(select(notifications).where(notifications.c.id == notification_id)).mappings().one()
    body = kinds_home.notification_json(row)
    if row["order_id"] is not None:
        order = conn.execute(select(orders).where(orders.c.id == row["order_id"])).mappings().one()
        body["order"] = {
            "id": order["id"],
            "event_id": order["event_id"],
            "status": order["status"],
            "buyer": {"name": order["buyer_name"], "email": order["buyer_email"]},
            "total": order["total"],
            "payment_method": order["payment_method"],
            "tickets": [
                {"id": t.id, "status": t.status}
                for t in conn.execute(
                    select(tickets.c.id, tickets.c.status)
                    .where(tickets.c.order_id == order["id"])
                    .order_by(tickets.c.id)
                )
            ],
        }
    return body


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Webhook-Signature header's value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, now: datetime) -> bool:
    """What a receiver does: the signature matches (constant time) and is recent (no replays)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now.timestamp() - timestamp) > SIGNATURE_TOLERANCE.total_seconds():
        return False
    return same_secret(sign(secret, timestamp, body).split("v1=", 1)[1], parts.get("v1", ""))


def due(conn: Connection, now: datetime, limit: int = 50) -> list[dict]:
    """Queued deliveries whose time has come, oldest first, with what posting them needs."""
    rows = conn.execute(
        select(
            webhook_deliveries.c.id,
            webhook_deliveries.c.notification_id,
            webhook_deliveries.c.attempts,
            webhook_deliveries.c.next_attempt_at,
            webhook_deliveries.c.created_at,
            webhook_endpoints.c.url,
            webhook_endpoints.c.secret,
            notifications.c.kind,
        )
        .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
        .join(notifications, notifications.c.id == webhook_deliveries.c.notification_id)
        .where(webhook_deliveries.c.status == "queued", webhook_deliveries.c.next_attempt_at <= now)
        .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
        .limit(limit)
    ).mappings()
    return [dict(row) for row in rows]


def claim(conn: Connection, delivery: dict, now: datetime, lease: timedelta) -> bool:
    """Take a due delivery (a row of `due`) for one post: its next attempt moves `lease` ahead, so no
    other worker posts it meanwhile. False: another worker took it first."""
    with atomic(conn):
        return (
            conn.execute(
                update(webhook_deliveries)
                .where(
                    webhook_deliveries.c.id == delivery["id"],
                    webhook_deliveries.c.status == "queued",
                    webhook_deliveries.c.next_attempt_at == delivery["next_attempt_at"],
                )
                .values(next_attempt_at=now + lease)
            ).rowcount
            == 1
        )


def record_attempt(
    conn: Connection, delivery: dict, now: datetime, status: int | None, error: str | None, wait: timedelta
) -> str:
    """Record one post of `delivery` (a row of `due`): 2xx delivers it; otherwise it is tried again
    after `wait`, or fails for good when that would be more than RETRY_FOR after it was queued.
    Returns the new status."""
    attempts = delivery["attempts"] + 1
    values = {"attempts": attempts, "last_attempt_at": now, "last_status": status, "last_error": (error or None)}
    if status is not None and 200 <= status < 300:
        values.update(status="delivered", delivered_at=now, last_error=None)
    elif now + wait - delivery["created_at"] > RETRY_FOR:
        values.update(status="failed")
    else:
        values.update(status="queued", next_attempt_at=now + wait)
    if values["last_error"]:
        values["last_error"] = values["last_error"][:500]
    with atomic(conn):
        conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery["id"], webhook_deliveries.c.status == "queued")
            .values(**values)
        )
    return values["status"]


def deliveries(conn: Connection, endpoint_id: int, owner: int | None, offset: int = 0, limit: int = PAGE) -> dict:
    """The endpoint's delivery log, newest first."""
    get_endpoint(conn, endpoint_id, owner)
    where = webhook_deliveries.c.endpoint_id == endpoint_id
    total = conn.execute(select(func.count()).select_from(webhook_deliveries).where(where)).scalar_one()
    rows = conn.execute(
        select(webhook_deliveries, notifications.c.kind, notifications.c.order_id)
        .join(notifications, notifications.c.id == webhook_deliveries.c.notification_id)
        .where(where)
        .order_by(webhook_deliveries.c.id.desc())
        .offset(offset)
        .limit(limit)
    ).mappings()
    return {"items": [delivery_json(row) for row in rows], "total": total, "offset": offset, "limit": limit}


def delivery_json(row) -> dict:
    return {
        "id": row["id"],
        "endpoint_id": row["endpoint_id"],
        "notification_id": row["notification_id"],
        "kind": row["kind"],
        "order_id": row["order_id"],
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": iso(row["next_attempt_at"]) if row["status"] == "queued" else None,
        "last_attempt_at": iso(row["last_attempt_at"]),
        "last_status": row["last_status"],
        "last_error": row["last_error"],
        "delivered_at": iso(row["delivered_at"]),
        "created_at": iso(row["created_at"]),
    }


def send_again(conn: Connection, endpoint_id: int, delivery_id: int, owner: int | None, now: datetime | None = None):
    """Queue the delivery's notification once more for the endpoint, as a new delivery due now (the
    organizer's "send again"; the receiver sees the same Webhook-Id, so it can tell a repeat)."""
    now = now or utcnow()
    endpoint = get_endpoint(conn, endpoint_id, owner)
    if not endpoint["active"]:
        raise Invalid("the endpoint is switched off; switch it on first", "webhook_inactive")
    with atomic(conn):
        notification_id = conn.execute(
            select(webhook_deliveries.c.notification_id).where(
                and_(webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.endpoint_id == endpoint_id)
            )
        ).scalar_one_or_none()
        if notification_id is None:
            raise NotFound(f"no delivery {delivery_id} to endpoint {endpoint_id}", "delivery_not_found")
        new_id = conn.execute(
            insert(webhook_deliveries).returning(webhook_deliveries.c.id), _queued(endpoint_id, notification_id, now)
        ).scalar_one()
    row = (
        conn.execute(
            select(webhook_deliveries, notifications.c.kind, notifications.c.order_id)
            .join(notifications, notifications.c.id == webhook_deliveries.c.notification_id)
            .where(webhook_deliveries.c.id == new_id)
        )
        .mappings()
        .one()
    )
    return delivery_json(row)
