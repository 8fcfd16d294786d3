"""Account features on top of users: registration links, password reset tokens, TOTP two-factor, order history."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import pyotp
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..db import atomic
from ..schema import events, orders
from ..schema_web import account_orders, password_resets, user_totp
from .clock import utcnow
from .errors import Conflict, Invalid
from .roles import TWO_FACTOR
from .users import end_sessions, get_user_by_email, set_password

RESET_TTL = timedelta(minutes=30)
REGISTER_TTL = timedelta(hours=24)
TOTP_ISSUER = "ticketgate hub"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- registration ----------------------------------------------------------
# Registering answers the same whether or not the address has an account: a new
# address is mailed a link (a signed token naming it) to choose a password, an
# existing one a note. So the page tells nobody which emails are registered,
# and nobody can create an account for an address they cannot read.


def _registration_serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="tickethub-register")


def registration_token(secret: str, email: str, now: datetime | None = None) -> str:
    """A link token naming `email`, signed with the hub's secret key; valid REGISTER_TTL from `now`."""
    now = now or utcnow()
    return _registration_serializer(secret).dumps({"email": email.strip(), "at": int(now.timestamp())})


def registration_email(secret: str, token: str, now: datetime | None = None) -> str | None:
    """The email a live registration token names; None when forged, mangled or expired."""
    now = now or utcnow()
    try:
        data = _registration_serializer(secret).loads(token or "")
        email, issued = data["email"], int(data["at"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    if not 0 <= now.timestamp() - issued <= REGISTER_TTL.total_seconds():
        return None
    return email


# --- password reset --------------------------------------------------------


def start_password_reset(conn: Connection, email: str, now: datetime | None = None) -> tuple[dict, str] | None:
    """(user, token) for a known email, else None. Only the token's hash is stored."""
    now = now or utcnow()
    user = get_user_by_email(conn, email)
    if user is None:
        return None
    token = secrets.token_urlsafe(32)
    with atomic(conn):
        conn.execute(
            insert(password_resets).values(
                user_id=user["id"], token_hash=_hash(token), created_at=now, expires_at=now + RESET_TTL
            )
        )
    return user, token


def reset_token_user(conn: Connection, token: str, now: datetime | None = None) -> int | None:
    """The user id a live, unused reset token belongs to."""
    now = now or utcnow()
    row = conn.execute(select(password_resets).where(password_resets.c.token_hash == _hash(token or ""))).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return row.user_id


def finish_password_reset(conn: Connection, token: str, new_password: str, now: datetime | None = None) -> int:
    """Set the new password and use up the token (and every other open token of that user)."""
    now = now or utcnow()
    with atomic(conn):
        user_id = reset_token_user(conn, token, now)
        if user_id is None:
            raise Conflict("this reset link is invalid, used or expired; ask for a new one", "reset_token_invalid")
        used = conn.execute(
            update(password_resets)
            .where(password_resets.c.token_hash == _hash(token), password_resets.c.used_at.is_(None))
            .values(used_at=now)
        ).rowcount
        if used != 1:
            raise Conflict("this reset link was just used", "reset_token_invalid")
        set_password(conn, user_id, new_password)
        conn.execute(
            update(password_resets)
            .where(password_resets.c.user_id == user_id, password_resets.c.used_at.is_(None))
            .values(used_at=now)
        )
    return user_id


# --- TOTP two-factor -------------------------------------------------------


def totp_state(conn: Connection, user_id: int) -> dict | None:
    row = conn.execute(select(user_totp).where(user_totp.c.user_id == user_id)).mappings().first()
    return dict(row) if row else None


def totp_enabled(conn: Connection, user_id: int) -> bool:
    state = totp_state(conn, user_id)
    return bool(state and state["enabled_at"])


def begin_totp_setup(conn: Connection, user: dict) -> tuple[str, str]:
    """A fresh secret (not active until confirmed) and its otpauth:// URI for the authenticator app."""
    if user["role"] not in TWO_FACTOR:
        raise Invalid("two-factor login is for admins and organizers", "totp_not_for_role")
    secret = pyotp.random_base32()
    with atomic(conn):
        conn.execute(delete(user_totp).where(user_totp.c.user_id == user["id"], user_totp.c.enabled_at.is_(None)))
        try:
            conn.execute(insert(user_totp).values(user_id=user["id"], secret=secret, last_step=0))
        except IntegrityError:
            raise Conflict("two-factor login is already on", "totp_enabled") from None
    return secret, pyotp.TOTP(secret).provisioning_uri(name=user["email"], issuer_name=TOTP_ISSUER)


def _accept_code(conn: Connection, user_id: int, code: str, now: datetime) -> bool:
    """Check a code (±1 step for clock drift); each time step is accepted once, against replay."""
    state = totp_state(conn, user_id)
    code = (code or "").strip().replace(" ", "")
    if state is None or not code.isdigit():
        return False
    totp = pyotp.TOTP(state["secret"])
    step_now = int(now.timestamp()) // totp.interval
    for step in (step_now - 1, step_now, step_now + 1):
        if step > state["last_step"] and totp.at(step * totp.interval) == code:
            return (
                conn.execute(
                    update(user_totp)
                    .where(user_totp.c.user_id == user_id, user_totp.c.last_step < step)
                    .values(last_step=step)
                ).rowcount
                == 1
            )
    return False


def confirm_totp_setup(conn: Connection, user_id: int, code: str, now: datetime | None = None) -> bool:
    """Turn two-factor login on with the first code from the app; ends the user's sessions."""
    now = now or utcnow()
    with atomic(conn):
        if not _accept_code(conn, user_id, code, now):
            return False
        conn.execute(update(user_totp).where(user_totp.c.user_id == user_id).values(enabled_at=now))
        end_sessions(conn, user_id)
    return True


def check_totp(conn: Connection, user_id: int, code: str, now: datetime | None = None) -> bool:
    now = now or utcnow()
    with atomic(conn):
        return totp_enabled(conn, user_id) and _accept_code(conn, user_id, code, now)


def disable_totp(conn: Connection, user_id: int, code: str, now: datetime | None = None) -> bool:
    """Turn two-factor login off, only with a current code (a stolen session alone cannot);
    ends the user's sessions. False when the code is wrong."""
    now = now or utcnow()
    with atomic(conn):
        if not check_totp(conn, user_id, code, now):
            return False
        conn.execute(delete(user_totp).where(user_totp.c.user_id == user_id))
        end_sessions(conn, user_id)
    return True


# --- order history ---------------------------------------------------------


def link_order(conn: Connection, order_id: int, user_id: int) -> None:
    """Put the order in the user's history; linking the same order again (a replayed purchase) changes nothing."""
    try:
        with atomic(conn):
            conn.execute(insert(account_orders).values(order_id=order_id, user_id=user_id))
    except IntegrityError:
        if order_owner(conn, order_id) is None:
            raise


def order_owner(conn: Connection, order_id: int) -> int | None:
    return conn.execute(select(account_orders.c.user_id).where(account_orders.c.order_id == order_id)).scalar()


def order_history(conn: Connection, user_id: int) -> list[dict]:
    rows = conn.execute(
        select(
            orders.c.id,
            orders.c.status,
            orders.c.total,
            orders.c.currency,
            orders.c.created_at,
            orders.c.access_token,
            events.c.title.label("event_title"),
            events.c.starts_at,
        )
        .join(account_orders, account_orders.c.order_id == orders.c.id)
        .join(events, events.c.id == orders.c.event_id)
        .where(account_orders.c.user_id == user_id)
        .order_by(orders.c.created_at.desc())
    ).mappings()
    return [dict(r) for r in rows]
