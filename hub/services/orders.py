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

import logging
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from common.signing import SigningKey

from ..db import atomic, retrying
from ..schema import event_seats, holds, orders, payment_events, ticket_types, tickets
from . import pricing, promos
from .clock import iso, utcnow
from .errors import Conflict, Forbidden, Invalid, NotFound
from .holds import find_hold, hold_is_live, live_hold
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
from .seats import held_by
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
) -> dict:
    """Convert a live hold into an order; tickets are issued at once when the payment is done.

    The order is charged the hold's services.pricing price (with the promo code's discount,
    whose use is counted in the same transaction): what the checkout page showed.
    `providers`: the app's payment methods (payments.providers_for); without it, free and box office.
    An online method (card) gets its payment opened after the order is committed (the answer's
    `payment.client_secret` is what the buyer pays with); the order stays pending until the provider
    says the payment succeeded (`apply_payment_event`).
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
                "idempotency_key": scoped_key,
                "access_token": secrets.token_urlsafe(24),
                "created_at": now,
                "paid_at": now if payment_status == "paid" else None,
                "refunded_amount": 0,
                "payment_error": None,
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
        "currency": pricing.CURRENCY,
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
    """Staff confirm a pending (box office) payment; the tickets are issued now.

    An online payment (card) is confirmed only by its provider (`apply_payment_event`), never by hand."""
    now = now or utcnow()
    with atomic(conn):
        order = _locked_order(conn, order_id)
        if order.status != "pending":
            raise Conflict(f"order {order_id} is {order.status}", "order_not_pending")
        if order.payment_ref is not None:
            raise Conflict(f"order {order_id} is paid by card: Stripe confirms it", "paid_online")
        _mark_paid(conn, order, signer, now)
    return get_order(conn, order_id)


def _mark_paid(conn: Connection, order, signer: SigningKey, now: datetime) -> None:
    """Inside the caller's transaction, with the order locked and pending: paid, and its tickets issued."""
    conn.execute(update(orders).where(orders.c.id == order.id).values(status="paid", paid_at=now, payment_error=None))
    issue_tickets(conn, order.id, order.event_id, _sold_items(conn, order), signer, now)


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
    provider = online((providers or {}).get(order.payment_method))
    if order.payment_ref is not None and order.status == "pending" and provider is not None:
        try:
            provider.cancel(order.payment_ref)
        except PaymentUnavailable:
            # paid meanwhile, or Stripe unreachable: the succeeded webhook finds the order cancelled and refunds it
            log.warning("could not cancel the card payment of cancelled order %s", order_id)
    return closed


def _online_provider(order, providers: Mapping[str, PaymentProvider] | None) -> OnlinePayment:
    provider = online((providers or {}).get(order.payment_method))
    if provider is None:
        raise Conflict(
            f"order {order.id} was paid by {order.payment_method}, which this hub is not configured for",
            "payment_method_unavailable",
        )
    return provider


def _close(conn: Connection, order_id: int, now: datetime, paid_status: str = "refunded") -> dict:
    """Refund a paid order (as `paid_status`) or cancel a pending one: seats back on sale, tickets revoked."""
    with atomic(conn):
        order = _locked_order(conn, order_id)
        if order.status not in ("paid", "pending"):
            raise Conflict(f"order {order_id} is already {order.status}", "order_closed")
        new_status = paid_status if order.status == "paid" else "cancelled"
        conn.execute(update(orders).where(orders.c.id == order_id).values(status=new_status, closed_at=now))
        _release(conn, order)
        ticket_ids = list(
            conn.execute(
                select(tickets.c.id).where(tickets.c.order_id == order_id, tickets.c.status == "valid")
            ).scalars()
        )
        revoke_tickets(conn, ticket_ids, new_status, now)
    return get_order(conn, order_id)


def _release(conn: Connection, order) -> None:
    """The order's seats or standing places go back on sale."""
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
            .where(event_seats.c.order_id == order.id, event_seats.c.status == "sold")
            .values(status="available", hold_id=None, held_until=None, ticket_type_id=None, order_id=None)
        )


def record_refund(conn: Connection, order_id: int, amount_refunded: int, now: datetime | None = None) -> dict:
    """The provider confirmed that `amount_refunded` of the order's payment has gone back, in all so far.

    Absolute, so the synchronous answer and the webhook for the same refund (in either order, or twice)
    count it once. The whole total back on a paid order refunds it (seats freed, tickets revoked)."""
    now = now or utcnow()
    with atomic(conn):
        order = _locked_order(conn, order_id)
        if amount_refunded <= order.refunded_amount:
            return get_order(conn, order_id)
        conn.execute(update(orders).where(orders.c.id == order_id).values(refunded_amount=amount_refunded))
        whole = amount_refunded >= order.total and order.status == "paid"
    if whole:
        return _close(conn, order_id, now)
    return get_order(conn, order_id)


def pay_online(
    conn: Connection, order_id: int, token: str | None, providers: Mapping[str, PaymentProvider] | None
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
        if order is None and event.kind == "succeeded" and event.order_id is not None:
            # a payment the order replaced after a decline (its metadata names the order): refunded
            order = conn.execute(
                select(orders).where(orders.c.id == event.order_id, orders.c.payment_method == provider.name)
            ).first()
    if order is not None:
        if event.kind == "succeeded":
            outcome = _payment_succeeded(conn, provider, order.id, event, signer, now)
        elif event.kind == "failed":
            with atomic(conn):
                failed = conn.execute(
                    update(orders)
                    .where(orders.c.id == order.id, orders.c.status == "pending")
                    .values(payment_error=event.message[:300])
                ).rowcount
            outcome = "failed" if failed else "ignored"
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


def _payment_succeeded(
    conn: Connection, provider: OnlinePayment, order_id: int, event: PaymentEvent, signer: SigningKey, now: datetime
) -> str:
    with atomic(conn):
        order = _locked_order(conn, order_id)
        current = event.ref == order.payment_ref  # not a payment the order replaced after a decline
        if order.status == "paid" and current:
            return "already_paid"
        # what was paid must be what the order costs; anything else is given back, not half-sold
        right_sum = event.amount == order.total and event.currency in ("", _currency(order))
        if order.status == "pending" and right_sum and current:
            _mark_paid(conn, order, signer, now)
            return "paid"
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
    if result.done and current:  # a replaced payment's refund is not the order's money
        record_refund(conn, order_id, result.amount_refunded, now)
    if order.status == "pending" and current:  # a wrong sum: not paid, its seats go back on sale
        _close(conn, order_id, now)
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
