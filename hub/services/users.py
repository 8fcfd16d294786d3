"""Users, roles and API tokens (stored as SHA-256 hashes only, revocable)."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from ..db import atomic
from ..schema import api_tokens, users
from .clock import utcnow
from .errors import Conflict, Invalid, NotFound
from .roles import DOOR_STAFF, EMPLOYERS, ORGANIZER, ROLES
from .validate import normal_email

TOKEN_PREFIX = "th_"


def _normal_email(email: str) -> str:
    """An account's address: the one address rule (validate.normal_email), compared lower-case."""
    try:
        return normal_email(email or "").lower()
    except ValueError as exc:
        raise Invalid(f"not an email address: {exc}", "invalid_email") from None


def create_user(
    conn: Connection, email: str, password: str, role: str, now: datetime | None = None, staff_of: int | None = None
) -> dict:
    """A new user; door staff and co-organizers may be given the organizer they work for
    (`staff_of`, see services.staff)."""
    _check_role(role)
    if not password or len(password) < 8:
        raise Invalid("the password needs at least 8 characters", "weak_password")
    if staff_of is not None and role not in (DOOR_STAFF, ORGANIZER):
        raise Invalid("only door staff and co-organizers work for an organizer", "invalid_role")
    email = _normal_email(email)
    try:
        with atomic(conn):
            if staff_of is not None:
                check_employer(conn, staff_of)
            user_id = conn.execute(
                insert(users)
                .values(
                    email=email,
                    password_hash=_hash_password(password),
                    role=role,
                    created_at=now or utcnow(),
                    staff_of=staff_of,
                )
                .returning(users.c.id)
            ).scalar_one()
    except IntegrityError:
        raise Conflict(f"a user with email {email} exists", "email_taken") from None
    return {"id": user_id, "email": email, "role": role, "staff_of": staff_of}


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", "invalid_role")


def list_users(conn: Connection) -> list[dict]:
    rows = conn.execute(
        select(users.c.id, users.c.email, users.c.role, users.c.created_at).order_by(users.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def set_role(conn: Connection, user_id: int, role: str) -> None:
    """Give a user another role; only door staff keep the organizer they work for."""
    _check_role(role)
    with atomic(conn):
        values = {"role": role} if role == DOOR_STAFF else {"role": role, "staff_of": None}
        conn.execute(update(users).where(users.c.id == user_id).values(**values))


def check_employer(conn: Connection, user_id: int) -> None:
    """Door staff work for an organizer or an admin (roles.EMPLOYERS), nobody else."""
    if conn.execute(select(users.c.role).where(users.c.id == user_id)).scalar() not in EMPLOYERS:
        raise Invalid(f"user {user_id} is not an organizer or admin", "not_an_organizer")


def _hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


@functools.cache
def _dummy_hash() -> str:
    """A hash to check passwords against for unknown emails: the same work as for a real account."""
    return _hash_password(secrets.token_urlsafe(16))


def get_user_by_email(conn: Connection, email: str) -> dict | None:
    row = conn.execute(select(users).where(users.c.email == (email or "").strip().lower())).mappings().first()
    return dict(row) if row else None


def get_user(conn: Connection, user_id: int) -> dict | None:
    row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
    return dict(row) if row else None


def authenticate(conn: Connection, email: str, password: str) -> dict | None:
    """The user when the password matches, else None. An unknown email costs the same hash check
    as a wrong password, so the answer's timing does not tell which emails have accounts."""
    user = get_user_by_email(conn, email)
    matches = check_password_hash(user["password_hash"] if user else _dummy_hash(), password or "")
    return user if user and matches else None


def set_password(conn: Connection, user_id: int, password: str) -> None:
    if not password or len(password) < 8:
        raise Invalid("the password needs at least 8 characters", "weak_password")
    with atomic(conn):
        conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(password_hash=_hash_password(password), session_version=users.c.session_version + 1)
        )


def end_sessions(conn: Connection, user_id: int) -> int:
    """End every session of the user (logout, 2FA change): the new session version."""
    with atomic(conn):
        return conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(session_version=users.c.session_version + 1)
            .returning(users.c.session_version)
        ).scalar_one()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(conn: Connection, user_id: int, name: str = "", now: datetime | None = None) -> tuple[int, str]:
    """Create an API token; return (token id, token). Only the hash is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with atomic(conn):
        if get_user(conn, user_id) is None:
            raise NotFound(f"no user {user_id}")
        token_id = conn.execute(
            insert(api_tokens)
            .values(
                user_id=user_id,
                token_hash=hash_token(token),
                name=name[:100],
                created_at=now or utcnow(),
            )
            .returning(api_tokens.c.id)
        ).scalar_one()
    return token_id, token


def revoke_token(conn: Connection, token_id: int, now: datetime | None = None) -> bool:
    with atomic(conn):
        result = conn.execute(
            update(api_tokens)
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now or utcnow())
        )
    return result.rowcount == 1


def list_tokens(conn: Connection, user_id: int) -> list[dict]:
    rows = conn.execute(
        select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.created_at, api_tokens.c.revoked_at)
        .where(api_tokens.c.user_id == user_id)
        .order_by(api_tokens.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def user_for_token(conn: Connection, token: str) -> dict | None:
    """The user owning a live (unrevoked) token, or None."""
    if not token:
        return None
    row = (
        conn.execute(
            select(users.c.id, users.c.email, users.c.role, users.c.staff_of)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == hash_token(token), api_tokens.c.revoked_at.is_(None))
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None
