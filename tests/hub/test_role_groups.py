"""The role groups (hub.services.roles): every check, form and command takes its roles from there."""

from __future__ import annotations

import pytest

from hub.services import roles
from hub.services.errors import Invalid
from hub.services.users import create_user

NAMED_GROUPS = {frozenset(group) for group in (roles.ROLES, roles.STAFF, roles.DOOR)}


def test_every_route_admits_a_named_role_group_or_one_role(app):
    seen = {}
    for endpoint, view in app.view_functions.items():
        admitted = getattr(view, "required_roles", None) or getattr(view, "allowed_roles", None)
        if admitted is not None:
            seen[endpoint] = frozenset(admitted)
    assert seen, "no route with a role check found"
    stray = {
        endpoint: sorted(group)
        for endpoint, group in seen.items()
        if group not in NAMED_GROUPS and not (len(group) == 1 and group <= set(roles.ROLES))
    }
    assert stray == {}
    assert seen["api.events.create_venue"] == frozenset(roles.STAFF)  # the API and the pages agree
    assert seen["manage.venue_new"] == frozenset(roles.STAFF)
    assert seen["api.orders.confirm_payment"] == seen["door.status"] == frozenset(roles.DOOR)


def test_groups_are_made_of_roles_and_staff_are_the_employers():
    assert set(roles.STAFF) < set(roles.DOOR) < set(roles.ROLES)
    assert roles.EMPLOYERS == roles.TWO_FACTOR == roles.STAFF
    assert len(set(roles.ROLES)) == len(roles.ROLES) == 4


def test_forms_and_the_cli_offer_exactly_the_roles_a_user_can_have(app):
    from hub.commands.users import users_create
    from hub.web.forms import RoleForm, StaffUserForm

    cli_choices = next(p for p in users_create.params if p.name == "role").type.choices
    assert tuple(cli_choices) == roles.ROLES
    with app.test_request_context():
        for form in (RoleForm(), StaffUserForm()):
            assert tuple(_value(c) for c in form.role.choices) == roles.ROLES


def _value(choice):
    return choice[0] if isinstance(choice, tuple) else choice.value


def test_create_user_takes_each_role_and_no_other(engine):
    with engine.connect() as conn:
        for n, role in enumerate(roles.ROLES):
            assert create_user(conn, f"u{n}@example.org", "long enough", role)["role"] == role
        with pytest.raises(Invalid) as refused:
            create_user(conn, "boss@example.org", "long enough", "superuser")
        assert refused.value.code == "invalid_role"


def test_door_staff_work_only_for_an_employer_however_they_are_made(engine):
    with engine.connect() as conn:
        customer = create_user(conn, "c@example.org", "long enough", roles.CUSTOMER)
        organizer = create_user(conn, "o@example.org", "long enough", roles.ORGANIZER)
        with pytest.raises(Invalid) as refused:
            create_user(conn, "d@example.org", "long enough", roles.DOOR_STAFF, staff_of=customer["id"])
        assert refused.value.code == "not_an_organizer"
        with pytest.raises(Invalid):
            create_user(conn, "d@example.org", "long enough", roles.DOOR_STAFF, staff_of=10**9)  # nobody
        made = create_user(conn, "d@example.org", "long enough", roles.DOOR_STAFF, staff_of=organizer["id"])
        assert made["staff_of"] == organizer["id"]


def test_a_new_role_drops_the_employer_unless_it_is_door_staff(engine):
    from hub.services.users import get_user, list_users, set_role

    with engine.connect() as conn:
        organizer = create_user(conn, "o@example.org", "long enough", roles.ORGANIZER)
        door = create_user(conn, "d@example.org", "long enough", roles.DOOR_STAFF, staff_of=organizer["id"])
        set_role(conn, door["id"], roles.DOOR_STAFF)
        assert get_user(conn, door["id"])["staff_of"] == organizer["id"]
        set_role(conn, door["id"], roles.CUSTOMER)
        assert get_user(conn, door["id"])["staff_of"] is None
        with pytest.raises(Invalid) as refused:
            set_role(conn, door["id"], "superuser")
        assert refused.value.code == "invalid_role"
        assert [(u["email"], u["role"]) for u in list_users(conn)] == [
            ("o@example.org", roles.ORGANIZER),
            ("d@example.org", roles.CUSTOMER),
        ]


def test_owner_scope_is_an_organizers_own_id_and_nothing_for_an_admin():
    assert roles.owner_scope({"id": 7, "role": roles.ORGANIZER}) == 7
    assert roles.owner_scope({"id": 1, "role": roles.ADMIN}) is None
