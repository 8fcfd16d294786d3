"""Account features on top of users: registration links, password reset tokens, TOTP two-factor, order history,
profile and privacy (name, email and password changes, data export, deleting the account)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import pyotp
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..db import atomic
from ..schema import api_tokens, events, orders, tickets, users, venues
from ..schema_web import account_orders, password_resets, user_totp
from ..schema_webhooks import webhook_deliveries, webhook_endpoints
from .clock import iso, utcnow
from .errors import Conflict, Invalid
from .roles import TWO_FACTOR
from .users import authenticate, end_sessions, get_user_by_email, list_tokens, set_password
from .validate import email_address, plain_text

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


# --- profile and privacy ---------------------------------------------------
# What the EU's GDPR asks a shop to give its customers: see and correct what it holds (profile),
# take it away (export), and leave (delete). Orders are the organizer's sales records and stay with
# them when an account goes; the account's own data goes.

EMAIL_CHANGE_TTL = timedelta(hours=24)
MAX_NAME = 200


def update_profile(conn: Connection, user_id: int, name: str) -> None:
    name = plain_text(MAX_NAME)(name.strip(), "name")
    with atomic(conn):
        conn.execute(update(users).where(users.c.id == user_id).values(name=name))


def change_password(conn: Connection, user: dict, current: str, new: str) -> None:
    """Set a new password once the current one is proven; every other session ends."""
    if authenticate(conn, user["email"], current) is None:
        raise Invalid("the current password is not right", "wrong_password")
    set_password(conn, user["id"], new)


def _email_change_serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="tickethub-email-change")


def email_change_token(secret: str, user: dict, new_email: str, now: datetime | None = None) -> str:
    """A link token for moving `user` to `new_email`, mailed to that address: following it proves the
    buyer reads it. It names the address it replaces, so it works once (and not after another change)."""
    now = now or utcnow()
    new_email = email_address()(new_email, "email")
    return _email_change_serializer(secret).dumps(
        {"user": user["id"], "from": user["email"], "to": new_email, "at": int(now.timestamp())}
    )


def finish_email_change(conn: Connection, secret: str, token: str, user: dict, now: datetime | None = None) -> str:
    """Move the logged-in `user` to the address the token names; returns it. Invalid when the token is
    forged, expired, for another account, already used, or the address has an account by now."""
    now = now or utcnow()
    try:
        data = _email_change_serializer(secret).loads(token or "")
        user_id, old, new, issued = int(data["user"]), data["from"], data["to"], int(data["at"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise Invalid("this link is not valid; ask for a new one", "bad_email_link") from None
    if not 0 <= now.timestamp() - issued <= EMAIL_CHANGE_TTL.total_seconds():
        raise Invalid("this link has expired; ask for a new one", "bad_email_link")
    if user_id != user["id"] or old != user["email"]:
        raise Invalid("this link is for another account, or was already used", "bad_email_link")
    if get_user_by_email(conn, new) is not None:
        raise Conflict(f"{new} has an account already", "email_taken")
    try:
        with atomic(conn):
            conn.execute(
                update(users)
                .where(users.c.id == user_id, users.c.email == old)
                .values(email=new, session_version=users.c.session_version + 1)
            )
    except IntegrityError:
        raise Conflict(f"{new} has an account already", "email_taken") from None
    return new


def export_data(conn: Connection, user_id: int) -> dict:
    """Everything the hub holds about the account, as JSON: profile, orders placed while logged in
    (with their tickets' state), API tokens (names, never the secrets), two-factor state."""
    user = conn.execute(select(users).where(users.c.id == user_id)).mappings().one()
    history = []
    for order in order_history(conn, user_id):
        row = conn.execute(select(orders).where(orders.c.id == order["id"])).mappings().one()
        history.append(
            {
                "id": row["id"],
                "event": order["event_title"],
                "event_starts_at": iso(order["starts_at"]),
                "status": row["status"],
                "buyer": {"name": row["buyer_name"], "email": row["buyer_email"]},
                "total": row["total"],  # minor units of currency
                "currency": row["currency"],
                "payment_method": row["payment_method"],
                "created_at": iso(row["created_at"]),
                "tickets": [
                    {"id": t.id, "status": t.status}
                    for t in conn.execute(
                        select(tickets.c.id, tickets.c.status)
                        .where(tickets.c.order_id == row["id"])
                        .order_by(tickets.c.id)
                    )
                ],
            }
        )
    return {
        "account": {
            "id": user["id"],
            "email": user["email"],
            "name": user["name"],
            "role": user["role"],
            "created_at": iso(user["created_at"]),
            "two_factor": totp_enabled(conn, user_id),
        },
        "orders": history,
        "api_tokens": [
            {"name": t["name"], "created_at": iso(t["created_at"]), "revoked_at": iso(t["revoked_at"])}
            for t in list_tokens(conn, user_id)
        ],
        "exported_at": iso(utcnow()),
    }


def delete_account(conn: Connection, user: dict, password: str) -> None:
    """Delete the account once its password is proven: its profile, order history links, API tokens,
    two-factor secret, reset links and webhook endpoints (with their delivery log) go. Its orders stay with the organizers who sold them (their
    sales records) and its tickets stay valid. An account that owns venues or events, or employs door
    staff, must hand them over first (an admin can)."""
    if authenticate(conn, user["email"], password) is None:
        raise Invalid("the password is not right", "wrong_password")
    user_id = user["id"]
    owns = (
        conn.execute(select(events.c.id).where(events.c.organizer_id == user_id).limit(1)).first()
        or conn.execute(select(venues.c.id).where(venues.c.owner_id == user_id).limit(1)).first()
        or conn.execute(select(users.c.id).where(users.c.staff_of == user_id).limit(1)).first()
    )
    if owns:
        raise Conflict(
            "this account owns venues, events or door-staff accounts; an admin must hand them over first",
            "account_in_use",
        )
    with atomic(conn):
        endpoints = select(webhook_endpoints.c.id).where(webhook_endpoints.c.organizer_id == user_id)
        conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.endpoint_id.in_(endpoints)))
        conn.execute(delete(webhook_endpoints).where(webhook_endpoints.c.organizer_id == user_id))
        for table in (account_orders, password_resets, user_totp, api_tokens):
            conn.execute(delete(table).where(table.c.user_id == user_id))
        conn.execute(delete(users).where(users.c.id == user_id))
