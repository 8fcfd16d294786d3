"""Orders: a live hold becomes an order and its tickets in one transaction.

An expired, released or already used hold gives 409 and nothing is sold. With
an idempotency key, a retried purchase returns the first order (never a second).

Idempotency keys are scoped to the hold: the stored key is the hold id plus a
hash of the client's key, so a key chosen by one client can never match (and
so never replay or block) another client's purchase, and a replay is only
returned to a caller who proves the hold token, like the first purchase did.

Cost: a purchase is one write transaction (the hold under lock, its price, the order, the two
conditional UPDATEs, the tickets signed and inserted with one executemany) of statements built
once at import, and its answer is built from what it wrote, not read back.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from common.signing import SigningKey

from ..db import atomic, retrying
from ..schema import event_seats, holds, orders, ticket_types, tickets
from . import pricing, promos
from .clock import iso, utcnow
from .errors import Conflict, Forbidden, Invalid, NotFound
from .holds import find_hold, hold_is_live, live_hold
from .payments import get_provider
from .seats import held_by
from .tickets import issue_tickets, revoke_tickets, ticket_json, ticket_rows
from .tokens import same_secret, sha256_hex
from .validate import email_address, obj, plain_text

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
) -> dict:
    """Convert a live hold into an order; tickets are issued at once when the payment is done.

    The order is charged the hold's services.pricing price (with the promo code's discount,
    whose use is counted in the same transaction): what the checkout page showed.
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
        "tickets": order_tickets,
    }


def check_access(conn: Connection, order_id: int, access_token: str | None) -> None:
    token = conn.execute(select(orders.c.access_token).where(orders.c.id == order_id)).scalar_one_or_none()
    if token is None:
        raise NotFound(f"no order {order_id}", "order_not_found")
    if not same_secret(token, access_token):
        raise Forbidden("the order access token does not match", "bad_access_token")


def confirm_payment(conn: Connection, order_id: int, signer: SigningKey, now: datetime | None = None) -> dict:
    """Staff confirm a pending (box office) payment; the tickets are issued now."""
    now = now or utcnow()
    with atomic(conn):
        order = _locked_order(conn, order_id)
        if order.status != "pending":
            raise Conflict(f"order {order_id} is {order.status}", "order_not_pending")
        conn.execute(update(orders).where(orders.c.id == order_id).values(status="paid", paid_at=now))
        issue_tickets(conn, order_id, order.event_id, _sold_items(conn, order), signer, now)
    return get_order(conn, order_id)


def _locked_order(conn: Connection, order_id: int):
    order = conn.execute(select(orders).where(orders.c.id == order_id).with_for_update()).first()
    if order is None:
        raise NotFound(f"no order {order_id}", "order_not_found")
    return order


def _sold_items(conn: Connection, order) -> list[dict]:
    hold = conn.execute(select(holds).where(holds.c.id == order.hold_id)).first()
    if hold.kind == "ga":
        return [{"ticket_type_id": hold.ticket_type_id} for _ in range(hold.quantity)]
    rows = conn.execute(
        select(event_seats.c.seat_id, event_seats.c.ticket_type_id)
        .where(event_seats.c.order_id == order.id, event_seats.c.status == "sold")
        .order_by(event_seats.c.seat_id)
    ).all()
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
        hold = conn.execute(select(holds).where(holds.c.id == order.hold_id)).first()
        if hold.kind == "ga":
            conn.execute(
                update(ticket_types)
                .where(ticket_types.c.id == hold.ticket_type_id)
                .values(sold=ticket_types.c.sold - hold.quantity)
            )
        else:
            conn.execute(
                update(event_seats)
                .where(event_seats.c.order_id == order_id, event_seats.c.status == "sold")
                .values(status="available", hold_id=None, held_until=None, ticket_type_id=None, order_id=None)
            )
        ticket_ids = list(
            conn.execute(
                select(tickets.c.id).where(tickets.c.order_id == order_id, tickets.c.status == "valid")
            ).scalars()
        )
        revoke_tickets(conn, ticket_ids, new_status, now)
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
