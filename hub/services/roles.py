"""The roles a hub user has, and the groups of them that the hub's checks use.

Every role check (API `require_role`, page `roles(...)`, services, forms, the
`tickethub users` command) takes its roles from here; which event a staff
member may act on is a further check (services.events.check_owner,
services.staff.check_door). Pure data, so the CLI can import it cheaply.
"""

from __future__ import annotations

ADMIN, ORGANIZER, DOOR_STAFF, CUSTOMER = "admin", "organizer", "door_staff", "customer"

ROLES = (ADMIN, ORGANIZER, DOOR_STAFF, CUSTOMER)  # every role; users.role holds one of these
STAFF = (ADMIN, ORGANIZER)  # own venues, events and gates: the manage pages and the staff API
DOOR = (*STAFF, DOOR_STAFF)  # work at event doors (which doors: services.staff)
EMPLOYERS = STAFF  # door staff work for one of these (users.staff_of)
TWO_FACTOR = STAFF  # accounts that change events and money may turn on two-factor login


def owner_scope(user: dict) -> int | None:
    """Whose venues, events and gates a staff user sees: an organizer their own (their id), a
    co-organizer (an organizer account with ``staff_of``, invited by services.staff) those of the
    organizer they work with, an admin everyone's (None). Lists take it as their owner filter."""
    if user["role"] == ADMIN:
        return None
    return user.get("staff_of") or user["id"]
