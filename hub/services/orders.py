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
back only if they are still free (`confirm_payment`, or a card's succeeded webhook in `apply_payment_event`);
otherwise 409 (a card payment is refunded) and nothing changes.
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
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from common.signing import SigningKey

from ..config import DEFAULTS, typed
from ..db import atomic, retrying
from ..schema import event_seats, events, holds, orders, payment_events, ticket_types, tickets
from . import notifications, pricing, promos
from .clock import iso, utcnow
from .errors import Conflict, Forbidden, Invalid, NotFound
from .holds import _ga_places_left, find_hold, hold_is_live, live_hold
from .payments import (
    Intent,
    OnlinePayment,
    PaymentDeclined,
    PaymentEvent,
    PaymentProvider,
    PaymentUnavailable,
    get_provider,
    online,
)
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
    providers: Mapping[str, PaymentProvider] | None = None,
    config: Mapping | None = None,
) -> dict:
    """Convert a live hold into an order; tickets are issued at once when the payment is done.

    The order is charged the hold's services.pricing price (with the promo code's discount,
    whose use is counted in the same transaction): what the checkout page showed.
    `providers`: the app's payment methods (payments.providers_for); without it, free and box office.
    An online method (card) gets its payment opened after the order is committed (the answer's
    `payment.client_secret` is what the buyer pays with); the order stays pending until the provider
    says the payment succeeded (`apply_payment_event`).
    An unpaid order gets its payment deadline from the event or `config` (the hub's settings).
    """
    now = now or utcnow()
    buyer = BUYER_SPEC(buyer, "buyer")
    provider = get_provider(payment_method, providers)
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
                "refunded_amount": 0,
                "payment_error": None,
                "payment_cancel_due": False,
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
            return with_online_payment(conn, get_order(conn, replay), providers, now)
    try:
        return with_online_payment(conn, retrying(attempt), providers, now)
    except (Conflict, IntegrityError):
        # A concurrent request with the same key may have won: return its result.
        order_id = _order_for_key(conn, scoped_key)
        if order_id is None:
            raise
    return with_online_payment(conn, get_order(conn, order_id), providers, now)


def with_online_payment(
    conn: Connection, order: dict, providers: Mapping[str, PaymentProvider] | None, now: datetime | None = None
) -> dict:
    """The order with what its buyer pays it with (`payment.client_secret`, `payment.publishable_key`)
    while it is a pending online payment; the payment is opened with the provider the first time.

    Opened outside the purchase's transaction: a call to Stripe must not hold the database's locks.
    The provider's idempotency key is the order's, so two requests racing here open one payment; the
    conditional UPDATE keeps the first reference. If the provider cannot open it, the order is
    cancelled (its seats go back on sale) and the caller gets 502: nothing was charged."""
    provider = online((providers or {}).get(order["payment"]["method"]))
    if provider is None or order["status"] != "pending":
        return order
    ref = conn.execute(select(orders.c.payment_ref).where(orders.c.id == order["id"])).scalar_one()
    try:
        if ref is not None:
            intent = provider.intent(ref)
        else:
            intent = provider.open(order["id"], order["total"], order["currency"], f"order-{order['id']}-payment")
            with atomic(conn):
                stored = conn.execute(
                    update(orders)
                    .where(orders.c.id == order["id"], orders.c.payment_ref.is_(None))
                    .values(payment_ref=intent.ref)
                ).rowcount
            if not stored:  # another request stored its payment first: that one is the order's
                return with_online_payment(conn, order, providers, now)
    except PaymentUnavailable as exc:
        if ref is None:
            refund(conn, order["id"], now)  # pending -> cancelled, the seats are free again
            raise PaymentUnavailable(
                "the card payment could not be started (the payment provider did not answer); nothing was "
                "charged and the order was cancelled: pick your seats again and retry in a moment",
                exc.code,
            ) from exc
        raise
    order["payment"].update(client_secret=intent.client_secret, publishable_key=provider.publishable_key)
    return order


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
        "payment": {
            "method": order["payment_method"],
            "status": "paid" if order["paid_at"] else "pending",
            "refunded": order["refunded_amount"],
            "error": order["payment_error"],
        },
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
    """Staff confirm the payment of an unpaid (box office) order; the tickets are issued now.

    An expired order is confirmed only if the places it gave back are all still free: it takes them
    again. Otherwise 409 ``order_expired_places_taken`` and nothing changes (the caller refunds the
    money). A pending order past its deadline that no sweep has expired yet still has its places, which
    were never back on sale, so it is confirmed like one inside its deadline.
    An online payment (card) is confirmed only by its provider (`apply_payment_event`), never by hand.
    """
    now = now or utcnow()
    with atomic(conn):
        order = _locked_order(conn, order_id)
        if order.status not in ("pending", "expired"):
            raise Conflict(f"order {order_id} is {order.status}", "order_not_pending")
        if order.payment_ref is not None:
            raise Conflict(f"order {order_id} is paid by card: Stripe confirms it", "paid_online")
        _mark_paid(conn, order, signer, now)
    return get_order(conn, order_id)


def _mark_paid(conn: Connection, order, signer: SigningKey, now: datetime) -> None:
    """Inside the caller's transaction, with the order locked and pending or expired: paid, its tickets
    issued and order.paid published. An expired order first takes back its places (409
    ``order_expired_places_taken`` if any was sold again: the caller's transaction rolls back)."""
    if order.status == "expired":
        _take_places_back(conn, order, now)
    conn.execute(
        update(orders)
        .where(orders.c.id == order.id)
        .values(
            status="paid",
            paid_at=now,
            closed_at=None,
            released_seats=None,
            payment_error=None,
            payment_cancel_due=False,
        )
    )
    issue_tickets(conn, order.id, order.event_id, _sold_items(conn, order), signer, now)
    notifications.publish(conn, notifications.ORDER_PAID, order_id=order.id, event_id=order.event_id, now=now)


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


def expire_overdue(
    conn: Connection,
    now: datetime | None = None,
    batch: int = 100,
    providers: Mapping[str, PaymentProvider] | None = None,
) -> list[dict]:
    """Expire unpaid orders past their payment deadline: their places go back on sale and the buyer is
    notified. Each order in its own short transaction, re-checked under lock, so a payment confirmed
    at the same moment either wins (paid) or takes the places back after. Returns [{id, event_id}].

    Then, outside those transactions, the open card payments of expired (and cancelled) orders are
    cancelled with `providers` (`cancel_due_payments`; what fails is tried again by the next sweep)."""
    now = now or utcnow()
    expired = _expire_all(conn, now, batch)
    cancel_due_payments(conn, providers)
    return expired


def _expire_all(conn: Connection, now: datetime, batch: int) -> list[dict]:
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
            .values(
                status="expired",
                closed_at=now,
                released_seats=json.dumps(seats) if seats else None,
                payment_cancel_due=order.payment_ref is not None,
            )
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


def refund(
    conn: Connection,
    order_id: int,
    now: datetime | None = None,
    *,
    amount: int | None = None,
    providers: Mapping[str, PaymentProvider] | None = None,
) -> dict:
    """Refund a paid order or cancel a pending one: seats go back on sale, tickets are revoked.

    A paid card order is refunded through its provider: `amount` (minor units; None: all that is
    left) goes back, and the order shows it only once the provider confirms (at once when Stripe
    answers `succeeded`, else when its charge.refunded webhook arrives). Only when the whole total
    has gone back is the order `refunded` with its seats freed; a partial refund keeps the tickets.
    A pending card order is cancelled here and its payment closed with the provider."""
    now = now or utcnow()
    order = conn.execute(select(orders).where(orders.c.id == order_id)).first()
    if order is None:
        raise NotFound(f"no order {order_id}", "order_not_found")
    if conn.in_transaction():
        conn.commit()  # the provider is called outside any transaction
    if order.payment_ref is not None and order.status == "paid":
        provider = _online_provider(order, providers)
        left = order.total - order.refunded_amount
        amount = left if amount is None else amount
        if not 1 <= amount <= left:
            raise Invalid(f"the refund must be 1 to {left} (what is left of the total)", "invalid_refund_amount")
        # the same request again (a double click, a retry) is the same refund at Stripe
        key = f"order-{order_id}-refund-{order.refunded_amount}-{amount}"
        result = provider.refund(order.payment_ref, amount, key)
        if result.done:
            record_refund(conn, order_id, result.amount_refunded, now)
        return get_order(conn, order_id)
    if amount is not None:
        raise Invalid("only a paid card order can be refunded in part", "partial_refund_unsupported")
    closed = _close(conn, order_id, now)
    if order.payment_ref is not None and order.status == "pending":
        cancel_due_payments(conn, providers, [order_id])
        return get_order(conn, order_id)
    return closed


def cancel_due_payments(
    conn: Connection, providers: Mapping[str, PaymentProvider] | None, order_ids: list[int] | None = None
) -> int:
    """Cancel with the provider the open payments of expired and cancelled orders (`payment_cancel_due`), so
    they can no longer be paid; returns how many. Called outside any transaction (a provider call must not
    hold the database's locks): by the sweep after it expires orders, and by `refund` for a cancelled order.
    A failure is logged and the payment stays due, so the next sweep tries again; should it be paid
    meanwhile, its succeeded webhook finds the order closed and refunds it (`apply_payment_event`)."""
    if conn.in_transaction():
        conn.commit()
    query = select(orders.c.id, orders.c.payment_method, orders.c.payment_ref).where(orders.c.payment_cancel_due)
    if order_ids is not None:
        query = query.where(orders.c.id.in_(order_ids))
    due = conn.execute(query.order_by(orders.c.id)).all()
    if conn.in_transaction():
        conn.commit()
    cancelled = 0
    for order_id, method, ref in due:
        provider = online((providers or {}).get(method))
        if provider is None:
            log.warning(
                "order %s: its %s payment cannot be cancelled, this hub is not configured for it", order_id, method
            )
            continue
        try:
            provider.cancel(ref)
        except PaymentUnavailable:
            log.warning("could not cancel the card payment %s of order %s; the next sweep tries again", ref, order_id)
            continue
        with atomic(conn):
            conn.execute(
                update(orders)
                .where(orders.c.id == order_id, orders.c.payment_ref == ref)
                .values(payment_cancel_due=False)
            )
        cancelled += 1
    return cancelled


def _online_provider(order, providers: Mapping[str, PaymentProvider] | None) -> OnlinePayment:
    provider = online((providers or {}).get(order.payment_method))
    if provider is None:
        raise Conflict(
            f"order {order.id} was paid by {order.payment_method}, which this hub is not configured for",
            "payment_method_unavailable",
        )
    return provider


def _close(
    conn: Connection, order_id: int, now: datetime, *, open_payment: bool = True, amount: int | None = None
) -> dict:
    """Refund a paid order or cancel a pending one: seats back on sale, tickets revoked, the buyer notified
    (order.refunded says `amount` went back, by default the total). A cancelled card order's payment is
    due to be cancelled with the provider (`cancel_due_payments`) unless `open_payment` is False (it has
    succeeded and is being refunded)."""
    with atomic(conn):
        order = _locked_order(conn, order_id)
        if order.status not in ("paid", "pending"):
            raise Conflict(f"order {order_id} is already {order.status}", "order_closed")
        new_status = "refunded" if order.status == "paid" else "cancelled"
        cancel_due = new_status == "cancelled" and order.payment_ref is not None and open_payment
        conn.execute(
            update(orders)
            .where(orders.c.id == order_id)
            .values(status=new_status, closed_at=now, payment_cancel_due=cancel_due)
        )
        _release_places(conn, order)
        ticket_ids = list(
            conn.execute(
                select(tickets.c.id).where(tickets.c.order_id == order_id, tickets.c.status == "valid")
            ).scalars()
        )
        revoke_tickets(conn, ticket_ids, new_status, now)
        if new_status == "cancelled":
            notifications.publish(
                conn,
                notifications.ORDER_CANCELLED,
                order_id=order_id,
                event_id=order.event_id,
                now=now,
                payload={"revoked": ticket_ids},
            )
        else:
            notifications.publish(
                conn,
                notifications.ORDER_REFUNDED,
                order_id=order_id,
                event_id=order.event_id,
                now=now,
                payload={
                    "revoked": ticket_ids,
                    "amount": order.total if amount is None else amount,
                    "refunded": order.total,
                    "whole": True,
                    "order_status": order.status,
                },
            )
    return get_order(conn, order_id)


def record_refund(conn: Connection, order_id: int, amount_refunded: int, now: datetime | None = None) -> dict:
    """The provider confirmed that `amount_refunded` of the order's payment has gone back, in all so far.

    Absolute, so the synchronous answer and the webhook for the same refund (in either order, or twice)
    count it once. The whole total back on a paid order refunds it (seats freed, tickets revoked,
    order.refunded); anything else (a part of a paid order, the money of a payment that arrived for a
    closed order) publishes order.refunded with ``whole`` false, in the same transaction."""
    now = now or utcnow()
    with atomic(conn):
        order = _locked_order(conn, order_id)
        if amount_refunded <= order.refunded_amount:
            return get_order(conn, order_id)
        if amount_refunded >= order.total and order.status == "paid":
            conn.execute(update(orders).where(orders.c.id == order_id).values(refunded_amount=amount_refunded))
            return _close(conn, order_id, now, amount=amount_refunded - order.refunded_amount)  # joins this transaction
        conn.execute(update(orders).where(orders.c.id == order_id).values(refunded_amount=amount_refunded))
        notifications.publish(
            conn,
            notifications.ORDER_REFUNDED,
            order_id=order_id,
            event_id=order.event_id,
            now=now,
            payload={
                "amount": amount_refunded - order.refunded_amount,
                "refunded": amount_refunded,
                "whole": False,
                "order_status": order.status,
            },
        )
    return get_order(conn, order_id)


def pay_online(
    conn: Connection,
    order_id: int,
    token: str | None,
    providers: Mapping[str, PaymentProvider] | None,
    now: datetime | None = None,
) -> Intent:
    """Pay a pending online order with a token from the provider's browser library (a card token made by
    Stripe.js: the card itself never reaches the hub). Nothing changes here: the order turns paid when the
    provider's webhook says the payment succeeded. A declined card raises PaymentDeclined (402)."""
    if not isinstance(token, str) or not 1 <= len(token) <= 255:
        raise Invalid("a card token from Stripe.js is needed", "missing_card_token")
    order = conn.execute(select(orders).where(orders.c.id == order_id)).first()
    if order is None:
        raise NotFound(f"no order {order_id}", "order_not_found")
    if order.status != "pending" or order.payment_ref is None:
        raise Conflict(f"order {order_id} is {order.status}: there is nothing to pay", "order_not_payable")
    if order.payment_due_at is not None and order.payment_due_at <= (now or utcnow()):
        raise Conflict(f"order {order_id} was not paid by its deadline: it has expired", "order_expired")
    provider = _online_provider(order, providers)
    if conn.in_transaction():
        conn.commit()  # no snapshot held while Stripe is asked
    try:
        return provider.pay_with_token(order.payment_ref, token)
    except PaymentDeclined as declined:
        _replace_declined_payment(conn, provider, order, declined.message)
        raise


def _replace_declined_payment(conn: Connection, provider: OnlinePayment, order, message: str) -> None:
    """After a declined card the order gets a fresh payment for the next try (localstripe cannot take a
    second card on a declined PaymentIntent; with Stripe it is merely tidy). The old one is cancelled;
    should it succeed all the same, its webhook finds it is not the order's payment and refunds it."""
    with atomic(conn):
        conn.execute(
            update(orders)
            .where(orders.c.id == order.id, orders.c.status == "pending")
            .values(payment_error=message[:300])
        )
    try:
        provider.cancel(order.payment_ref)
        fresh = provider.open(order.id, order.total, _currency(order), f"order-{order.id}-after-{order.payment_ref}")
    except PaymentUnavailable:
        log.warning("could not replace the declined payment %s of order %s", order.payment_ref, order.id)
        return
    with atomic(conn):
        conn.execute(
            update(orders)
            .where(orders.c.id == order.id, orders.c.payment_ref == order.payment_ref)
            .values(payment_ref=fresh.ref)
        )


def _currency(order) -> str:
    """The currency an order (a row of orders) is charged in: what its JSON says (order_json)."""
    return order_json(order._mapping, [])["currency"]


class PaymentOutcome(NamedTuple):
    outcome: str
    order_id: int | None
    event_id: int | None


def apply_payment_event(
    conn: Connection,
    provider: OnlinePayment,
    event: PaymentEvent,
    signer: SigningKey,
    now: datetime | None = None,
) -> PaymentOutcome:
    """Apply a verified webhook event of an online provider; every channel's card payment ends here.

    Returns the order it was about (or None) and what happened: "duplicate" (this event id was applied before: nothing changes), "ignored"
    (not about a hub order, or a kind the hub needs nothing from), "paid", "already_paid", "failed",
    "refunded" (the order's refunded amount is now Stripe's), or "refunded_late": the payment succeeded
    for an order that is no longer pending (cancelled, expired; its seats may be sold again), so the
    money is sent back at once and no ticket is issued. The event id is recorded after it was applied,
    so an event whose handling failed (Stripe unreachable for that refund) is applied again when the
    provider retries it; every step is idempotent on its own."""
    now = now or utcnow()
    if conn.execute(select(payment_events.c.event_id).where(payment_events.c.event_id == event.id)).first():
        return PaymentOutcome("duplicate", None, None)
    outcome = "ignored"
    order = None
    if event.ref is not None and event.kind != "other":
        order = conn.execute(select(orders).where(orders.c.payment_ref == event.ref)).first()
        if order is None and event.kind in ("succeeded", "failed") and event.order_id is not None:
            # a payment the order replaced after a decline (its metadata names the order): a success is
            # refunded, a failure still tells the buyer why their card did not go through
            order = conn.execute(
                select(orders).where(orders.c.id == event.order_id, orders.c.payment_method == provider.name)
            ).first()
    if order is not None:
        if event.kind == "succeeded":
            outcome = _payment_succeeded(conn, provider, order.id, event, signer, now)
        elif event.kind == "failed":
            outcome = _payment_failed(conn, order.id, event, now)
        elif event.kind == "refunded":
            record_refund(conn, order.id, event.amount_refunded, now)
            outcome = "refunded"
    try:
        with atomic(conn):
            conn.execute(
                insert(payment_events).values(
                    event_id=event.id, provider=provider.name, type=event.type, received_at=now
                )
            )
    except IntegrityError:  # the same event delivered twice at once: the other delivery recorded it
        pass
    if order is None:
        return PaymentOutcome(outcome, None, None)
    return PaymentOutcome(outcome, order.id, order.event_id)


def _payment_failed(conn: Connection, order_id: int, event: PaymentEvent, now: datetime) -> str:
    """A card attempt failed: a pending order shows why and stays payable until its deadline; the buyer
    is told (order.payment_failed). The event's id makes each failure one notification."""
    with atomic(conn):
        failed = conn.execute(
            update(orders)
            .where(orders.c.id == order_id, orders.c.status == "pending")
            .values(payment_error=event.message[:300])
        ).rowcount
        if not failed:
            return "ignored"
        notifications.publish(
            conn,
            notifications.ORDER_PAYMENT_FAILED,
            order_id=order_id,
            now=now,
            payload={"message": event.message[:300]},
        )
    return "failed"


def _payment_succeeded(
    conn: Connection, provider: OnlinePayment, order_id: int, event: PaymentEvent, signer: SigningKey, now: datetime
) -> str:
    """A card payment succeeded: a pending order (even past its deadline, unswept: its places were never
    on sale again) is paid; an expired one is paid if it can take back all its places. Otherwise (its
    places sold again, the order cancelled or refunded, a replaced payment, a wrong sum) the money goes
    back at once and the buyer is told; nothing is sold twice."""
    try:
        with atomic(conn):
            order = _locked_order(conn, order_id)
            current = event.ref == order.payment_ref  # not a payment the order replaced after a decline
            if order.status == "paid" and current:
                return "already_paid"
            # what was paid must be what the order costs; anything else is given back, not half-sold
            right_sum = event.amount == order.total and event.currency in ("", _currency(order))
            if order.status in ("pending", "expired") and right_sum and current:
                _mark_paid(conn, order, signer, now)  # an expired order's places taken: Conflict, rolled back
                return "paid"
    except Conflict as taken:
        if taken.code != "order_expired_places_taken":
            raise
    log.warning(
        "card payment %s succeeded for order %s, which is %s (paid %s %s of %s): refunding it",
        event.ref,
        order_id,
        order.status,
        event.amount,
        event.currency,
        order.total,
    )
    result = provider.refund(event.ref, None, f"refund-late-{event.ref}")
    if current:
        with atomic(conn):  # it was paid: there is nothing left to cancel
            conn.execute(update(orders).where(orders.c.id == order_id).values(payment_cancel_due=False))
    if order.status == "pending" and current:  # a wrong sum: not paid, its seats go back on sale
        _close(conn, order_id, now, open_payment=False)
    if result.done and current:  # a replaced payment's refund is not the order's money
        record_refund(conn, order_id, result.amount_refunded, now)
    return "refunded_late"


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
