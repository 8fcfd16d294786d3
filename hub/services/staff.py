"""Door work: who may watch and act at which event's door.

Door-staff accounts work for one organizer (`users.staff_of`, set by whoever
adds them): they see that organizer's events only: door status, ticket
look-up, live dashboard, orders and box-office payments. An organizer adds
staff for their own events; an admin may assign staff to any organizer. Door
staff without an organizer (made before staff were scoped, or by an admin
leaving it open) work at no event, unless the hub is explicitly single-tenant
(SINGLE_TENANT): then at every event, as before. Organizers work at the doors of
their own events, admins at every door.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import aliased

from ..db import atomic
from ..schema import users
from ..schema_web import staff_invites
from .clock import iso, utcnow
from .errors import Conflict, Forbidden, Invalid, NotFound
from .events import event_row
from .roles import ADMIN, CUSTOMER, DOOR_STAFF, EMPLOYERS, ORGANIZER, owner_scope
from .tokens import same_secret, sha256_hex
from .users import check_employer, create_user, get_user_by_email
from .validate import normal_email


def works_for(user: dict, single_tenant: bool = False) -> int | None:
    """The organizer whose events `user` works at, or None for every event.

    Forbidden for door staff not assigned to an organizer on a multi-tenant hub, and for customers.
    """
    if user["role"] == ADMIN:
        return None
    if user["role"] == ORGANIZER:
        return owner_scope(user)  # a co-organizer works at the doors of the organizer they work with
    if user["role"] == DOOR_STAFF:
        if user["staff_of"] is not None:
            return user["staff_of"]
        if single_tenant:
            return None
        raise Forbidden(
            "this door-staff account is not assigned to an organizer yet; ask an admin to assign it", "staff_unassigned"
        )
    raise Forbidden("door work needs a staff account", "not_staff")


def check_door(conn: Connection, event_id: int, user: dict, single_tenant: bool = False) -> None:
    """The user may watch the event's door and act on its orders (404 for an unknown event)."""
    organizer_id = works_for(user, single_tenant)
    row = event_row(conn, event_id)
    if organizer_id is not None and row.organizer_id != organizer_id:
        raise Forbidden(f"event {event_id} belongs to another organizer", "not_your_event")


def door_staff(conn: Connection, organizer_id: int | None = None) -> list[dict]:
    """Door-staff accounts with the email of the organizer they work for; only one organizer's when given."""
    return _workers(conn, DOOR_STAFF, organizer_id)


def co_organizers(conn: Connection, organizer_id: int | None = None) -> list[dict]:
    """Organizer accounts working with an organizer (with that organizer's email); one organizer's when given."""
    return [w for w in _workers(conn, ORGANIZER, organizer_id) if w["staff_of"] is not None]


def _workers(conn: Connection, role: str, organizer_id: int | None) -> list[dict]:
    employer = aliased(users)
    query = (
        select(users.c.id, users.c.email, users.c.staff_of, employer.c.email.label("organizer_email"))
        .outerjoin(employer, employer.c.id == users.c.staff_of)
        .where(users.c.role == role)
        .order_by(users.c.email)
    )
    if organizer_id is not None:
        query = query.where(users.c.staff_of == organizer_id)
    return [dict(row) for row in conn.execute(query).mappings()]


def employers(conn: Connection) -> list[dict]:
    """Users door staff can work for (organizers and admins), by email."""
    rows = conn.execute(
        select(users.c.id, users.c.email, users.c.role).where(users.c.role.in_(EMPLOYERS)).order_by(users.c.email)
    ).mappings()
    return [dict(row) for row in rows]


def assign_staff(conn: Connection, staff_id: int, organizer_id: int | None) -> None:
    """Let a door-staff account work for `organizer_id` (None: no organizer)."""
    with atomic(conn):
        role = conn.execute(select(users.c.role).where(users.c.id == staff_id)).scalar()
        if role is None:
            raise NotFound(f"no user {staff_id}")
        if role != DOOR_STAFF:
            raise Invalid("only door-staff accounts work for an organizer", "not_door_staff")
        if organizer_id is not None:
            check_employer(conn, organizer_id)
        conn.execute(update(users).where(users.c.id == staff_id).values(staff_of=organizer_id))


# --- invitations -------------------------------------------------------------------------------
#
# An organizer (or admin) invites someone by email to work for them: as door staff, or as a
# co-organizer (an organizer account whose ``staff_of`` is the inviting organizer: it manages that
# organizer's venues and events, roles.owner_scope). The mailed link carries "<invite id>.<secret>";
# only the secret's SHA-256 is stored and it is compared in constant time. A link works once,
# for INVITE_TTL, and only for the invited address: a new account is made with it, or the
# invited person logs in with an existing customer account, which then takes the role.

INVITE_TTL = timedelta(days=7)
INVITE_ROLES = {DOOR_STAFF: "door staff", ORGANIZER: "co-organizer"}


def invite_staff(
    conn: Connection, inviter: dict, email: str, role: str, now: datetime | None = None
) -> tuple[dict, str]:
    """(invitation, token) for ``email`` to work for the inviter's organizer as ``role``."""
    now = now or utcnow()
    if role not in INVITE_ROLES:
        raise Invalid("invite door staff or a co-organizer", "invalid_role")
    if inviter["role"] not in EMPLOYERS:
        raise Forbidden("only organizers and admins invite staff", "not_staff")
    try:
        email = normal_email(email)
    except ValueError as exc:
        raise Invalid(f"not an email address: {exc}", "invalid_email") from None
    organizer_id = owner_scope(inviter) or inviter["id"]  # an admin's invitees work for the admin's events
    secret = secrets.token_urlsafe(32)
    with atomic(conn):
        invite_id = conn.execute(
            insert(staff_invites)
            .values(
                organizer_id=organizer_id,
                email=email,
                role=role,
                token_hash=sha256_hex(secret),
                created_at=now,
                expires_at=now + INVITE_TTL,
            )
            .returning(staff_invites.c.id)
        ).scalar_one()
    return get_invite(conn, invite_id), f"{invite_id}.{secret}"


def get_invite(conn: Connection, invite_id: int) -> dict:
    inviter = aliased(users)
    row = (
        conn.execute(
            select(staff_invites, inviter.c.email.label("organizer_email"))
            .join(inviter, inviter.c.id == staff_invites.c.organizer_id)
            .where(staff_invites.c.id == invite_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no invitation {invite_id}", "invite_not_found")
    out = {k: v for k, v in row.items() if k != "token_hash"}
    for key in ("created_at", "expires_at", "accepted_at"):
        out[key] = iso(out[key])
    out["role_label"] = INVITE_ROLES[out["role"]]
    return out


def list_invites(conn: Connection, organizer_id: int | None) -> list[dict]:
    """Invitations not yet accepted, newest first; one organizer's when given."""
    query = select(staff_invites.c.id).where(staff_invites.c.accepted_at.is_(None)).order_by(staff_invites.c.id.desc())
    if organizer_id is not None:
        query = query.where(staff_invites.c.organizer_id == organizer_id)
    return [get_invite(conn, i) for i in conn.execute(query.limit(200)).scalars()]


def live_invite(conn: Connection, token: str | None, now: datetime | None = None) -> dict:
    """The invitation a link's token opens: 404 for a wrong or unknown token (the same answer, so
    nothing is learnt by guessing), 409 once used or expired."""
    now = now or utcnow()
    invite_id, _, secret = (token or "").partition(".")
    row = None
    if invite_id.isdigit() and len(invite_id) < 19:
        row = conn.execute(select(staff_invites).where(staff_invites.c.id == int(invite_id))).first()
    if row is None or not same_secret(row.token_hash, sha256_hex(secret)):
        raise NotFound("this invitation link is not valid", "invite_not_found")
    if row.accepted_at is not None:
        raise Conflict("this invitation was already accepted", "invite_used")
    if row.expires_at <= now:
        raise Conflict("this invitation has expired; ask for a new one", "invite_expired")
    return get_invite(conn, row.id)


def accept_invite(
    conn: Connection,
    token: str,
    *,
    user: dict | None = None,
    password: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Accept an invitation, as the logged-in ``user`` (who must have the invited address) or by
    making the invited address's account with ``password``. Returns the account."""
    now = now or utcnow()
    with atomic(conn):
        invite = live_invite(conn, token, now)
        if user is None:
            if get_user_by_email(conn, invite["email"]) is not None:
                raise Conflict(f"{invite['email']} has an account: log in to accept", "login_to_accept")
            account = create_user(
                conn, invite["email"], password or "", invite["role"], now=now, staff_of=invite["organizer_id"]
            )
        else:
            if user["email"] != invite["email"]:
                raise Forbidden(f"this invitation is for {invite['email']}", "not_your_invite")
            if user["role"] != CUSTOMER and not (
                user["role"] == DOOR_STAFF and user.get("staff_of") in (None, invite["organizer_id"])
            ):
                raise Conflict("this account already has a staff role; ask an admin to change it", "already_staff")
            conn.execute(
                update(users)
                .where(users.c.id == user["id"])
                .values(role=invite["role"], staff_of=invite["organizer_id"])
            )
            account = {**user, "role": invite["role"], "staff_of": invite["organizer_id"]}
        taken = conn.execute(
            update(staff_invites)
            .where(staff_invites.c.id == invite["id"], staff_invites.c.accepted_at.is_(None))
            .values(accepted_at=now, user_id=account["id"])
        ).rowcount
        if taken != 1:
            raise Conflict("this invitation was already accepted", "invite_used")
    return account
