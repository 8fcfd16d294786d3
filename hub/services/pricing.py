"""What a hold costs: the one answer for the checkout page and the purchase.

As in pretix's pricing.get_price, one place says what a buyer pays: every ticket
at its ticket type's price, plus the event's service fee per ticket, less a promo
code's discount (on the tickets, never on the fees). The checkout shows this
Price and the purchase charges and records the same Price, so they cannot differ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from ..delivery.card import seat_label
from ..schema import event_seats, events, ticket_types, venue_seats
from . import promos
from .errors import Conflict
from .event_status import check_buyable
from .seats import held_by


@dataclass(frozen=True)
class Price:
    """Amounts in minor units of `currency`, the event's (services.money)."""

    event_id: int
    # One item a ticket: what the buyer sees (label, ticket_type, price) and what the
    # ticket is issued with (ticket_type_id, zones, and for a seat seat_id and seat_index);
    # "seat" is the seat as tickets show it ({section, row, seat, index}; None for GA).
    items: tuple[dict, ...]
    fee_per_ticket: int
    currency: str
    promo: dict | None = None  # promos.quote() of the applied code: code, discount, promo_id, ...

    @property
    def subtotal(self) -> int:
        return sum(item["price"] for item in self.items)

    @property
    def fees(self) -> int:
        return self.fee_per_ticket * len(self.items)

    @property
    def discount(self) -> int:
        return self.promo["discount"] if self.promo else 0

    @property
    def total(self) -> int:
        return self.subtotal + self.fees - self.discount


def recorded_discount(order) -> int:
    """The promo discount an order was charged with (an orders row records subtotal, fees and total)."""
    return order.subtotal + order.fees - order.total


_TYPE_COLUMNS = (
    ticket_types.c.id,
    ticket_types.c.name,
    ticket_types.c.price,
    ticket_types.c.zones,
    events.c.service_fee,
    events.c.currency,
    events.c.status.label("event_status"),
)
# Built once, values bound per call (the purchase runs these under lock).
_GA_TYPE = (
    select(*_TYPE_COLUMNS)
    .join(events, events.c.id == ticket_types.c.event_id)
    .where(ticket_types.c.id == bindparam("ticket_type_id"))
)
_HELD_SEATS = (
    select(
        venue_seats.c.section,
        venue_seats.c.row,
        venue_seats.c.label,
        event_seats.c.seat_id,
        event_seats.c.position,
        *_TYPE_COLUMNS,
    )
    .join(event_seats, event_seats.c.seat_id == venue_seats.c.id)
    .join(ticket_types, ticket_types.c.id == event_seats.c.ticket_type_id)
    .join(events, events.c.id == event_seats.c.event_id)
    .where(event_seats.c.event_id == bindparam("event_id"), held_by(bindparam("hold_id"), bindparam("now")))
    .order_by(event_seats.c.position)
)


def hold_price(conn: Connection, hold, now: datetime, promo_code: str | None = None) -> Price:
    """What the live hold `hold` (a holds row, e.g. from holds.live_hold) costs now.

    With `promo_code`, its discount is applied; a code that does not apply raises
    (see with_promo). A seat hold that no longer holds all its seats is 409 hold_expired.
    """
    items, fee, currency = _items_and_fee(conn, hold, now)
    price = Price(event_id=hold.event_id, items=tuple(items), fee_per_ticket=fee, currency=currency)
    return with_promo(conn, price, promo_code, now) if promo_code else price


def with_promo(conn: Connection, price: Price, promo_code: str, now: datetime) -> Price:
    """`price` with the promo code's discount; NotFound, Conflict or Invalid say why a code does not apply."""
    return replace(price, promo=promos.quote(conn, price.event_id, promo_code, price.subtotal, now))


def _items_and_fee(conn: Connection, hold, now: datetime) -> tuple[list[dict], int, str]:
    """The hold's tickets, the event's fee per ticket and its currency, in one query (the purchase runs it under lock)."""
    if hold.kind == "ga":
        t = conn.execute(_GA_TYPE, {"ticket_type_id": hold.ticket_type_id}).one()
        check_buyable(hold.event_id, t.event_status)
        item = {
            "label": seat_label(None, None, None),
            "ticket_type": t.name,
            "price": t.price,
            "ticket_type_id": t.id,
            "zones": json.loads(t.zones),
            "seat": None,
        }
        return [dict(item) for _ in range(hold.quantity)], t.service_fee, t.currency
    rows = conn.execute(_HELD_SEATS, {"event_id": hold.event_id, "hold_id": hold.id, "now": now}).all()
    if not rows or len(rows) != hold.quantity:  # its time ran out: no price, and no sale
        raise Conflict(f"hold {hold.id} lost seats; nothing was sold", "hold_expired")
    check_buyable(hold.event_id, rows[0].event_status)
    return (
        [
            {
                "label": seat_label(r.section, r.row, r.label),
                "ticket_type": r.name,
                "price": r.price,
                "ticket_type_id": r.id,
                "zones": json.loads(r.zones),
                "seat_id": r.seat_id,
                "seat_index": r.position,
                "seat": {"section": r.section, "row": r.row, "seat": r.label, "index": r.position},
            }
            for r in rows
        ],
        rows[0].service_fee,
        rows[0].currency,
    )
