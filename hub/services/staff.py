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

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import aliased

from ..db import atomic
from ..schema import users
from .errors import Forbidden, Invalid, NotFound
from .events import event_row
from .roles import ADMIN, DOOR_STAFF, EMPLOYERS, ORGANIZER
from .users import check_employer


def works_for(user: dict, single_tenant: bool = False) -> int | None:
    """The organizer whose events `user` works at, or None for every event.

    Forbidden for door staff not assigned to an organizer on a multi-tenant hub, and for customers.
    """
    if user["role"] == ADMIN:
        return None
    if user["role"] == ORGANIZER:
        return user["id"]
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
    employer = aliased(users)
    query = (
        select(users.c.id, users.c.email, users.c.staff_of, employer.c.email.label("organizer_email"))
        .outerjoin(employer, employer.c.id == users.c.staff_of)
        .where(users.c.role == DOOR_STAFF)
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
