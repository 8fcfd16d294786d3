"""Promo codes: percent or fixed discounts per event, with a usage limit and a validity window.

`quote` checks a code without using it; `redeem` uses it inside the order's
transaction with one conditional UPDATE, so the usage limit holds under races.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Connection, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..db import atomic
from ..schema_web import order_promos, promo_codes
from .clock import utcnow
from .errors import Conflict, Invalid, NotFound

KINDS = ("percent", "fixed")
CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,39}$")


def normal_code(code: str) -> str:
    code = (code or "").strip().upper()
    if not CODE_PATTERN.match(code):
        raise Invalid("a promo code is 2 to 40 letters, digits, - or _", "invalid_promo_code")
    return code


def discount_for(kind: str, value: int, subtotal: int) -> int:
    """Discount in minor units; never more than the subtotal."""
    if kind == "percent":
        return min(subtotal, subtotal * value // 100)
    return min(subtotal, value)


def create_promo(
    conn: Connection,
    event_id: int,
    code: str,
    kind: str,
    value: int,
    *,
    max_uses: int | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    now: datetime | None = None,
) -> dict:
    code = normal_code(code)
    if kind not in KINDS:
        raise Invalid("kind must be percent or fixed", "invalid_promo_kind")
    if kind == "percent" and not 1 <= value <= 100:
        raise Invalid("a percent discount is between 1 and 100", "invalid_promo_value")
    if kind == "fixed" and not 1 <= value <= 10**9:
        raise Invalid("a fixed discount is a positive amount", "invalid_promo_value")
    if max_uses is not None and max_uses < 1:
        raise Invalid("the usage limit must be at least 1", "invalid_promo_limit")
    if valid_from and valid_until and valid_until <= valid_from:
        raise Invalid("valid until must be after valid from", "invalid_promo_window")
    try:
        with atomic(conn):
            promo_id = conn.execute(
                insert(promo_codes)
                .values(
                    event_id=event_id,
                    code=code,
                    kind=kind,
                    value=value,
                    max_uses=max_uses,
                    used=0,
                    valid_from=valid_from,
                    valid_until=valid_until,
                    created_at=now or utcnow(),
                )
                .returning(promo_codes.c.id)
            ).scalar_one()
    except IntegrityError:
        raise Conflict(f"event {event_id} already has promo code {code}", "promo_code_taken") from None
    return get_promo(conn, promo_id)


def get_promo(conn: Connection, promo_id: int) -> dict:
    row = conn.execute(select(promo_codes).where(promo_codes.c.id == promo_id)).mappings().first()
    if row is None:
        raise NotFound(f"no promo code {promo_id}", "promo_not_found")
    return dict(row)


def list_promos(conn: Connection, event_id: int) -> list[dict]:
    rows = conn.execute(
        select(promo_codes).where(promo_codes.c.event_id == event_id).order_by(promo_codes.c.code)
    ).mappings()
    return [dict(r) for r in rows]


def delete_promo(conn: Connection, promo_id: int) -> None:
    with atomic(conn):
        if conn.execute(select(order_promos.c.order_id).where(order_promos.c.promo_id == promo_id).limit(1)).first():
            raise Conflict("this promo code was used by an order; set its validity to end instead", "promo_in_use")
        conn.execute(promo_codes.delete().where(promo_codes.c.id == promo_id))


def _usable(promo_id: int, now: datetime):
    return (
        promo_codes.c.id == promo_id,
        or_(promo_codes.c.valid_from.is_(None), promo_codes.c.valid_from <= now),
        or_(promo_codes.c.valid_until.is_(None), promo_codes.c.valid_until > now),
        or_(promo_codes.c.max_uses.is_(None), promo_codes.c.used < promo_codes.c.max_uses),
    )


def quote(conn: Connection, event_id: int, code: str, subtotal: int, now: datetime | None = None) -> dict:
    """The discount `code` would give on `subtotal` now, or Invalid/Conflict saying why not."""
    now = now or utcnow()
    code = normal_code(code)
    row = conn.execute(
        select(promo_codes).where(promo_codes.c.event_id == event_id, promo_codes.c.code == code)
    ).first()
    if row is None:
        raise NotFound(f"unknown promo code {code}", "promo_not_found")
    if row.valid_from and now < row.valid_from:
        raise Conflict(f"promo code {code} is not valid yet", "promo_not_yet_valid")
    if row.valid_until and now >= row.valid_until:
        raise Conflict(f"promo code {code} has expired", "promo_expired")
    if row.max_uses is not None and row.used >= row.max_uses:
        raise Conflict(f"promo code {code} has been used up", "promo_used_up")
    return {
        "promo_id": row.id,
        "code": code,
        "kind": row.kind,
        "value": row.value,
        "discount": discount_for(row.kind, row.value, subtotal),
    }


def redeem(conn: Connection, offer: dict, order_id: int, now: datetime | None = None) -> None:
    """Use the code of `offer` (a quote() the order's price was made with) for `order_id`, recording
    the offer's discount: what was charged. Call inside the order's transaction."""
    now = now or utcnow()
    with atomic(conn):
        taken = conn.execute(
            update(promo_codes).where(*_usable(offer["promo_id"], now)).values(used=promo_codes.c.used + 1)
        ).rowcount
        if taken != 1:
            raise Conflict(f"promo code {offer['code']} has been used up", "promo_used_up")
        conn.execute(
            insert(order_promos).values(order_id=order_id, promo_id=offer["promo_id"], discount=offer["discount"])
        )


def order_discount(conn: Connection, order_id: int) -> dict | None:
    row = conn.execute(
        select(order_promos.c.discount, promo_codes.c.code)
        .join(promo_codes, promo_codes.c.id == order_promos.c.promo_id)
        .where(order_promos.c.order_id == order_id)
    ).first()
    return {"code": row.code, "discount": row.discount} if row else None
