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
from .clock import iso, utcnow
from .errors import Conflict, Invalid, NotFound
from .validate import integer, obj, one_of, string, timestamp

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


# A promo code as the API takes it (the manage page's form gives the same fields); what one field
# cannot say (a percent is 1 to 100, the window's order) is check_promo's.
MAX_FIXED = 10**9
PROMO_FIELDS = {
    "code": string(40, 1),
    "kind": one_of(*KINDS),
    "value": integer(1, MAX_FIXED),  # percent, or minor units of the event's currency
    "max_uses": integer(1, 1_000_000),
    "valid_from": timestamp(),
    "valid_until": timestamp(),
}
PROMO_SPEC = obj(
    required={k: PROMO_FIELDS[k] for k in ("code", "kind", "value")},
    optional={k: PROMO_FIELDS[k] for k in ("max_uses", "valid_from", "valid_until")},
)
# a code and its kind stay (buyers and orders know them); the rest may change
PROMO_CHANGES = obj(optional={k: PROMO_FIELDS[k] for k in ("value", "max_uses", "valid_from", "valid_until")})


def check_promo(
    kind: str, value: int, max_uses: int | None, valid_from: datetime | None, valid_until: datetime | None
) -> None:
    """The rules of a promo code, new or changed (the page, the API and the service)."""
    if kind not in KINDS:
        raise Invalid("kind must be percent or fixed", "invalid_promo_kind")
    if kind == "percent" and not 1 <= value <= 100:
        raise Invalid("a percent discount is between 1 and 100", "invalid_promo_value")
    if kind == "fixed" and not 1 <= value <= MAX_FIXED:
        raise Invalid("a fixed discount is a positive amount", "invalid_promo_value")
    if max_uses is not None and max_uses < 1:
        raise Invalid("the usage limit must be at least 1", "invalid_promo_limit")
    if valid_from and valid_until and valid_until <= valid_from:
        raise Invalid("valid until must be after valid from", "invalid_promo_window")


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
    check_promo(kind, value, max_uses, valid_from, valid_until)
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


def update_promo(conn: Connection, promo_id: int, changes: dict) -> dict:
    """Change a code's value, usage limit or validity window (PROMO_CHANGES), checked as a new code is.
    Orders already placed keep the discount they got."""
    spec = PROMO_CHANGES(changes, "promo")
    with atomic(conn):
        row = _locked_promo(conn, promo_id)
        merged = {**row._mapping, **spec}
        check_promo(row.kind, merged["value"], merged["max_uses"], merged["valid_from"], merged["valid_until"])
        if spec:
            conn.execute(update(promo_codes).where(promo_codes.c.id == promo_id).values(**spec))
    return get_promo(conn, promo_id)


def _locked_promo(conn: Connection, promo_id: int):
    row = conn.execute(select(promo_codes).where(promo_codes.c.id == promo_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"no promo code {promo_id}", "promo_not_found")
    return row


def deactivate_promo(conn: Connection, promo_id: int, now: datetime | None = None) -> dict:
    """End a code's validity now (a code orders used cannot be deleted; see delete_promo)."""
    now = now or utcnow()
    with atomic(conn):
        row = _locked_promo(conn, promo_id)
        if row.valid_until is None or row.valid_until > now:
            # a window that had not begun yet ends before it begins: keep the window well-formed
            starts = row.valid_from if row.valid_from is None or row.valid_from < now else None
            conn.execute(
                update(promo_codes).where(promo_codes.c.id == promo_id).values(valid_from=starts, valid_until=now)
            )
    return get_promo(conn, promo_id)


def promo_json(promo: dict) -> dict:
    """A promo code (get_promo) as the API shows it."""
    return {
        "id": promo["id"],
        "event_id": promo["event_id"],
        "code": promo["code"],
        "kind": promo["kind"],
        "value": promo["value"],
        "max_uses": promo["max_uses"],
        "used": promo["used"],
        "valid_from": iso(promo["valid_from"]),
        "valid_until": iso(promo["valid_until"]),
        "created_at": iso(promo["created_at"]),
    }


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
