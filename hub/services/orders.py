"""Orders: a live hold becomes an order and its tickets in one transaction.

An expired, released or already used hold gives 409 and nothing is sold. With
an idempotency key, a retried purchase returns the first order (never a second).

Idempotency keys are scoped to the hold: the stored key is the hold id plus a
hash of the client's key, so a key chosen by one client can never match (and
so never replay or block) another client's purchase, and a replay is only
returned to a caller who proves the hold token, like the first purchase did.

An order that is not paid at once (box office; a card while the buyer pays) has a payment
deadline, ``orders.payment_due_at`` (`payment_due_at` says when): past it the order expires (`expire_overdue`, run by
the sweeper) and its places go back on sale. A payment confirmed after that takes the same places
back only if they are still free (`confirm_payment`); otherwise 409 and nothing changes.
Every change of an order's state publishes a notification (services.notifications) in its own
transaction, so mail (and webhooks) follow whichever channel made the change.

Cost: a purchase is one write transaction (the hold under lock, its price, the order, the two
conditional UPDATEs, the tickets signed and inserted with one executemany) of statements built
once at import, and its answer is built from what it wrote, not read back.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from common.signing import SigningKey

from ..config import DEFAULTS, typed
from ..db import atomic, retrying
from ..schema import event_seats, events, holds, orders, ticket_types, tickets
from . import notifications, pricing, promos
from .clock import iso, utcnow
from .errors import Conflict, Forbidden, Invalid, NotFound
from .holds import _ga_places_left, find_hold, hold_is_live, live_hold
from .payments import get_provider
from .seats import held_by, seat_is_free
from .tickets import issue_tickets, revoke_tickets, ticket_json, ticket_rows
from .tokens import same_secret, sha256_hex
from .validate import email_address, obj, plain_text

log = logging.getLogger(__name__)

# The one rule for a buyer, used by the API and the checkout page alike: the name and
# address go into mail headers, so no line breaks or control characters, and one real address.
MAX_BUYER_NAME = 200
BUYER_FIELDS = {"name": plain_text(MAX_BUYER_NAME, 1), "email": email_address()}
BUYER_SPEC = obj(required=BUYER_FIELDS)

# The purchase's writes, built once (values bound per call).
_INSERT_ORDER = insert(orders).returning(orders.c.id)
_MARK_PURCHASED = (
    update(holds)
    .where(holds.c.id == bindparam("purchased_hold"), hold_is_live(bindparam("now")))
    .values(status="purchased")
)
_SELL_HELD_SEATS = (
    update(event_seats)
    .where(held_by(bindparam("sold_hold"), bindparam("now")))
    .values(status="sold", order_id=bindparam("new_order"), held_until=None)
)
_COUNT_GA_SOLD = (
    update(ticket_types)
    .where(ticket_types.c.id == bindparam("sold_type"))
    .values(sold=ticket_types.c.sold + bindparam("added"))
)


def purchase(
    conn: Connection,
    hold_id: int,
    hold_token: str,
    buyer: dict,
    payment_method: str,
    signer: SigningKey,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    promo_code: str | None = None,
    config: Mapping | None = None,
) -> dict:
    """Convert a live hold into an order; tickets are issued at once when the payment is done.

    The order is charged the hold's services.pricing price (with the promo code's discount,
    whose use is counted in the same transaction): what the checkout page showed.
    An unpaid order gets its payment deadline from the event or `config` (the hub's settings).
    """
    now = now or utcnow()
    buyer = BUYER_SPEC(buyer, "buyer")
    provider = get_provider(payment_method)
    scoped_key = _scoped_key(hold_id, idempotency_key)

    def attempt() -> dict:
        with atomic(conn):
            hold = live_hold(conn, hold_id, hold_token, now, lock=True)
            price = pricing.hold_price(conn, hold, now, promo_code)
            payment_status = provider.start(price.total, price.currency)
            due = (
                payment_due_at(conn, hold.event_id, provider.name, now, config) if payment_status == "pending" else None
            )
            order = {
                "event_id": hold.event_id,
                "hold_id": hold.id,
                "buyer_name": buyer["name"],
                "buyer_email": buyer["email"],
                "status": payment_status,
                "payment_method": provider.name,
                "subtotal": price.subtotal,
                "fees": price.fees,
                "total": price.total,
                "currency": price.currency,
                "idempotency_key": scoped_key,
                "access_token": secrets.token_urlsafe(24),
                "created_at": now,
                "paid_at": now if payment_status == "paid" else None,
                "payment_due_at": due,
            }
            order["id"] = order_id = conn.execute(_INSERT_ORDER, order).scalar_one()
            if price.promo:
                promos.redeem(conn, price.promo, order_id, now)
            # Conditional updates: if anything changed under us, roll back, sell nothing.
            if conn.execute(_MARK_PURCHASED, {"purchased_hold": hold.id, "now": now}).rowcount != 1:
                raise Conflict(f"hold {hold_id} is no longer live; nothing was sold", "hold_expired")
            if hold.kind == "seats":
                sold = conn.execute(
                    _SELL_HELD_SEATS, {"sold_hold": hold.id, "now": now, "new_order": order_id}
                ).rowcount
                if sold != hold.quantity:
                    raise Conflict(f"hold {hold_id} lost seats; nothing was sold", "hold_expired")
            else:
                conn.execute(_COUNT_GA_SOLD, {"sold_type": hold.ticket_type_id, "added": hold.quantity})
            issued = (
                issue_tickets(conn, order_id, hold.event_id, list(price.items), signer, now)
                if payment_status == "paid"
                else []
            )
            if payment_status == "paid":
                notifications.publish(
                    conn, notifications.ORDER_PAID, order_id=order_id, event_id=hold.event_id, now=now
                )
            else:
                notifications.publish(
                    conn,
                    notifications.ORDER_PLACED,
                    order_id=order_id,
                    event_id=hold.event_id,
                    now=now,
                    payload={"payment_method": provider.name, "payment_due_at": iso(due)},
                )
        # what get_order would read back, from what was just written (tickets in id order, as items)
        return order_json(
            order, [ticket_json(ticket, item["ticket_type"], item["seat"]) for ticket, item in zip(issued, price.items)]
        )

    if scoped_key is not None:
        # The token is checked before anything about an earlier purchase is looked up:
        # a replay shows the order (and its ticket codes) only to the hold's owner.
        # (Without a key, the purchase itself checks the token first.)
        find_hold(conn, hold_id, hold_token)
        replay = _order_for_key(conn, scoped_key)
        if replay is not None:
            return get_order(conn, replay)
    try:
        return retrying(attempt)
    except (Conflict, IntegrityError):
        # A concurrent request with the same key may have won: return its result.
        order_id = _order_for_key(conn, scoped_key)
        if order_id is None:
            raise
    return get_order(conn, order_id)


def _scoped_key(hold_id: int, idempotency_key: str | None) -> str | None:
    """What is stored for a client's Idempotency-Key: it only ever matches a purchase of the same hold."""
    if idempotency_key is None:
        return None
    if not 1 <= len(idempotency_key) <= 200:
        raise Invalid("Idempotency-Key must be 1 to 200 characters", "invalid_idempotency_key")
    return f"{hold_id}:{sha256_hex(idempotency_key)}"


def _order_for_key(conn: Connection, scoped_key: str | None) -> int | None:
    if scoped_key is None:
        return None
    if conn.in_transaction():
        conn.commit()  # a fresh snapshot: see what a concurrent request committed
    return conn.execute(select(orders.c.id).where(orders.c.idempotency_key == scoped_key)).scalar_one_or_none()


def get_order(conn: Connection, order_id: int) -> dict:
    row = conn.execute(select(orders).where(orders.c.id == order_id)).first()
    if row is None:
        raise NotFound(f"no order {order_id}", "order_not_found")
    return order_json(row._mapping, ticket_rows(conn, tickets.c.order_id == order_id))


def order_json(order, order_tickets: list[dict]) -> dict:
    """An order as the API shows it, from its row (a mapping of the orders columns) and its tickets
    (tickets.ticket_json, in id order)."""
    return {
        "id": order["id"],
        "event_id": order["event_id"],
        "hold_id": order["hold_id"],
        "status": order["status"],
        "buyer": {"name": order["buyer_name"], "email": order["buyer_email"]},
        "payment": {"method": order["payment_method"], "status": "paid" if order["paid_at"] else "pending"},
        "subtotal": order["subtotal"],
        "fees": order["fees"],
        "total": order["total"],
        "currency": order["currency"],
        "access_token": order["access_token"],
        "created_at": iso(order["created_at"]),
        "paid_at": iso(order["paid_at"]),
        "payment_due_at": iso(order["payment_due_at"]),
        "tickets": order_tickets,
    }


def check_access(conn: Connection, order_id: int, access_token: str | None) -> None:
    token = conn.execute(select(orders.c.access_token).where(orders.c.id == order_id)).scalar_one_or_none()
    if token is None:
        raise NotFound(f"no order {order_id}", "order_not_found")
    if not same_secret(token, access_token):
        raise Forbidden("the order access token does not match", "bad_access_token")


def confirm_payment(conn: Connection, order_id: int, signer: SigningKey, now: datetime | None = None) -> dict:
    """The payment of an unpaid order arrived (staff at the box office, or a payment provider); the
    tickets are issued now.

    An expired order is confirmed only if the places it gave back are all still free: it takes them
    again. Otherwise 409 ``order_expired_places_taken`` and nothing changes (the caller refunds the
    money). A pending order past its deadline that no sweep has expired yet still has its places, which
    were never back on sale, so it is confirmed like one inside its deadline.
    """
    now = now or utcnow()
    with atomic(conn):
        order = _locked_order(conn, order_id)
        if order.status == "expired":
            _take_places_back(conn, order, now)
        elif order.status != "pending":
            raise Conflict(f"order {order_id} is {order.status}", "order_not_pending")
        conn.execute(
            update(orders)
            .where(orders.c.id == order_id)
            .values(status="paid", paid_at=now, closed_at=None, released_seats=None)
        )
        issue_tickets(conn, order_id, order.event_id, _sold_items(conn, order), signer, now)
        notifications.publish(conn, notifications.ORDER_PAID, order_id=order_id, event_id=order.event_id, now=now)
    return get_order(conn, order_id)


def payment_due_at(
    conn: Connection, event_id: int, method: str, now: datetime, config: Mapping | None = None
) -> datetime:
    """When an order placed now with `method` must be paid: the event's own deadline for the method,
    else the hub's PAYMENT_DEADLINE_<METHOD>_MINUTES; never after the event starts. 409
    ``pay_now_required`` when that leaves no time at all (the event has started)."""
    starts_at, own = conn.execute(
        select(events.c.starts_at, events.c.payment_deadlines).where(events.c.id == event_id)
    ).one()
    minutes = json.loads(own or "{}").get(method)
    if minutes is None:
        minutes = _hub_deadline_minutes(method, config or DEFAULTS)
    due = min(now + timedelta(minutes=minutes), starts_at)
    if due <= now:
        raise Conflict(
            "the event starts before a later payment could arrive: choose a way to pay now", "pay_now_required"
        )
    return due


def _hub_deadline_minutes(method: str, config: Mapping) -> int:
    key = f"PAYMENT_DEADLINE_{method.upper()}_MINUTES"
    if key not in DEFAULTS:  # a provider without its own setting: the short card deadline frees seats soonest
        log.warning("no setting %s; using PAYMENT_DEADLINE_CARD_MINUTES", key)
        key = "PAYMENT_DEADLINE_CARD_MINUTES"
    return typed(key, config.get(key, DEFAULTS[key]))


def expire_overdue(conn: Connection, now: datetime | None = None, batch: int = 100) -> list[dict]:
    """Expire unpaid orders past their payment deadline: their places go back on sale and the buyer is
    notified. Each order in its own short transaction, re-checked under lock, so a payment confirmed
    at the same moment either wins (paid) or takes the places back after. Returns [{id, event_id}]."""
    now = now or utcnow()
    expired: list[dict] = []
    while True:
        if conn.in_transaction():
            conn.commit()
        due = list(
            conn.execute(
                select(orders.c.id)
                .where(orders.c.status == "pending", orders.c.payment_due_at <= now)
                .order_by(orders.c.payment_due_at)
                .limit(batch)
            ).scalars()
        )
        if conn.in_transaction():
            conn.commit()
        done = [found for order_id in due if (found := retrying(lambda o=order_id: _expire(conn, o, now)))]
        expired += done
        if len(due) < batch or not done:
            return expired


def _expire(conn: Connection, order_id: int, now: datetime) -> dict | None:
    with atomic(conn):
        order = _locked_order(conn, order_id)
        if order.status != "pending" or order.payment_due_at is None or order.payment_due_at > now:
            return None  # paid, cancelled or expired meanwhile
        seats = _release_places(conn, order)
        conn.execute(
            update(orders)
            .where(orders.c.id == order_id)
            .values(status="expired", closed_at=now, released_seats=json.dumps(seats) if seats else None)
        )
        notifications.publish(
            conn,
            notifications.ORDER_EXPIRED,
            order_id=order_id,
            event_id=order.event_id,
            now=now,
            payload={"payment_due_at": iso(order.payment_due_at)},
        )
    return {"id": order_id, "event_id": order.event_id}


def _release_places(conn: Connection, order) -> list[list[int]]:
    """Put the order's seats or GA places back on sale; returns the seats given back as [seat_id, type_id]."""
    hold = conn.execute(select(holds).where(holds.c.id == order.hold_id)).first()
    if hold.kind == "ga":
        conn.execute(
            update(ticket_types)
            .where(ticket_types.c.id == hold.ticket_type_id)
            .values(sold=ticket_types.c.sold - hold.quantity)
        )
        return []
    sold = _ORDER_SEATS.where(event_seats.c.order_id == order.id, event_seats.c.status == "sold")
    seats = [[row.seat_id, row.ticket_type_id] for row in conn.execute(sold)]
    conn.execute(
        update(event_seats)
        .where(event_seats.c.order_id == order.id, event_seats.c.status == "sold")
        .values(status="available", hold_id=None, held_until=None, ticket_type_id=None, order_id=None)
    )
    return seats


def _take_places_back(conn: Connection, order, now: datetime) -> None:
    """An expired order takes back the places it gave up, all or none (409, the transaction rolls back)."""
    taken = Conflict(
        f"order {order.id} expired and its places were sold again; nothing changed", "order_expired_places_taken"
    )
    hold = conn.execute(select(holds).where(holds.c.id == order.hold_id)).first()
    if hold.kind == "ga":
        ga = conn.execute(
            select(ticket_types).where(ticket_types.c.id == hold.ticket_type_id).with_for_update()
        ).first()
        if _ga_places_left(conn, ga, now) < hold.quantity:
            raise taken
        conn.execute(_COUNT_GA_SOLD, {"sold_type": ga.id, "added": hold.quantity})
        return
    for seat_id, ticket_type_id in json.loads(order.released_seats or "[]"):
        retaken = conn.execute(
            update(event_seats)
            .where(event_seats.c.event_id == order.event_id, event_seats.c.seat_id == seat_id, seat_is_free(now))
            .values(
                status="sold", order_id=order.id, hold_id=order.hold_id, held_until=None, ticket_type_id=ticket_type_id
            )
        ).rowcount
        if retaken != 1:
            raise taken


def _locked_order(conn: Connection, order_id: int):
    order = conn.execute(select(orders).where(orders.c.id == order_id).with_for_update()).first()
    if order is None:
        raise NotFound(f"no order {order_id}", "order_not_found")
    return order


_ORDER_SEATS = select(event_seats.c.seat_id, event_seats.c.ticket_type_id).order_by(event_seats.c.seat_id)


def _sold_items(conn: Connection, order) -> list[dict]:
    hold = conn.execute(select(holds).where(holds.c.id == order.hold_id)).first()
    if hold.kind == "ga":
        return [{"ticket_type_id": hold.ticket_type_id} for _ in range(hold.quantity)]
    rows = conn.execute(_ORDER_SEATS.where(event_seats.c.order_id == order.id, event_seats.c.status == "sold")).all()
    return [{"ticket_type_id": r.ticket_type_id, "seat_id": r.seat_id} for r in rows]


def refund(conn: Connection, order_id: int, now: datetime | None = None) -> dict:
    """Refund a paid order or cancel a pending one: seats go back on sale, tickets are revoked."""
    now = now or utcnow()
    with atomic(conn):
        order = _locked_order(conn, order_id)
        if order.status not in ("paid", "pending"):
            raise Conflict(f"order {order_id} is already {order.status}", "order_closed")
        new_status = "refunded" if order.status == "paid" else "cancelled"
        conn.execute(update(orders).where(orders.c.id == order_id).values(status=new_status, closed_at=now))
        _release_places(conn, order)
        ticket_ids = list(
            conn.execute(
                select(tickets.c.id).where(tickets.c.order_id == order_id, tickets.c.status == "valid")
            ).scalars()
        )
        revoke_tickets(conn, ticket_ids, new_status, now)
        kind = notifications.ORDER_REFUNDED if new_status == "refunded" else notifications.ORDER_CANCELLED
        notifications.publish(
            conn, kind, order_id=order_id, event_id=order.event_id, now=now, payload={"revoked": ticket_ids}
        )
    return get_order(conn, order_id)


def list_orders(conn: Connection, event_id: int, offset: int = 0, limit: int = 50) -> dict:
    total = conn.execute(select(func.count()).select_from(orders).where(orders.c.event_id == event_id)).scalar_one()
    ids = (
        conn.execute(
            select(orders.c.id).where(orders.c.event_id == event_id).order_by(orders.c.id).offset(offset).limit(limit)
        )
        .scalars()
        .all()
    )
    return {"items": [get_order(conn, i) for i in ids], "total": total, "offset": offset, "limit": limit}
