"""Every page route x every role: who gets in, who is sent to log in, who gets 403.

The table below is the specification; the test fails when a page route is
missing from it, so a new route cannot ship without a stated role rule.
"""

from __future__ import annotations

import pytest
from flask import url_for

from hub.services import accounts, promos, staff, webhooks
from hub.services.clock import utcnow
from hub.services.holds import hold_seats
from hub.services.orders import confirm_payment, purchase
from tests.hub.web.support import Browser, make_event

ANON, CUSTOMER, DOOR_STAFF, ORGANIZER, OTHER_ORGANIZER, ADMIN = (
    "anonymous",
    "customer",
    "door_staff",
    "organizer",
    "other_organizer",
    "admin",
)
EVERYONE = {ANON, CUSTOMER, DOOR_STAFF, ORGANIZER, OTHER_ORGANIZER, ADMIN}
LOGGED_IN = EVERYONE - {ANON}
STAFF = {ORGANIZER, OTHER_ORGANIZER, ADMIN}
OWNER = {ORGANIZER, ADMIN}  # the event's own organizer, and admins
DOOR = {DOOR_STAFF, ORGANIZER, OTHER_ORGANIZER, ADMIN}
SECRET = "secret"  # reachable only with a secret held by the buyer's session, whatever the role

ROUTES = {
    "store.events": ("GET", EVERYONE),
    "store.calendar": ("GET", EVERYONE),
    "store.event": ("GET", EVERYONE),
    "store.seats_json": ("GET", EVERYONE),
    "store.hold": ("POST", EVERYONE),
    "store.checkout": ("GET", SECRET),
    "store.release": ("POST", SECRET),
    "store.order": ("GET", EVERYONE),
    "store.ticket": ("GET", EVERYONE),
    "store.ticket_png": ("GET", EVERYONE),
    "store.ticket_pdf": ("GET", EVERYONE),
    "store.order_pdf": ("GET", EVERYONE),
    "store.ticket_pass": ("GET", EVERYONE),
    "store.order_ics": ("GET", EVERYONE),
    "store.order_status": ("GET", EVERYONE),  # the order link's token is the key, as for store.order
    "store.pay_card": ("POST", EVERYONE),
    "account.login": ("GET", EVERYONE),
    "account.login_2fa": ("GET", EVERYONE),
    "account.register": ("GET", EVERYONE),
    "account.reset_request": ("GET", EVERYONE),
    "account.reset": ("GET", EVERYONE),
    "account.register_finish": ("GET", EVERYONE),
    "account.logout": ("POST", EVERYONE),
    "account.orders": ("GET", LOGGED_IN),
    "account.two_factor": ("GET", STAFF),
    "account.profile": ("GET", LOGGED_IN),
    "account.change_password": ("POST", LOGGED_IN),
    "account.change_email": ("POST", LOGGED_IN),
    "account.confirm_email": ("GET", LOGGED_IN),
    "account.export": ("GET", LOGGED_IN),
    "account.delete": ("GET", LOGGED_IN),
    "manage.dashboard": ("GET", STAFF),
    "manage.venue_new": ("GET", STAFF),
    "manage.event_new": ("GET", STAFF),
    "manage.venue": ("GET", OWNER),
    "manage.venue_edit": ("GET", OWNER),
    "manage.event": ("GET", OWNER),
    "manage.event_edit": ("GET", OWNER),
    "manage.event_cancel": ("GET", OWNER),
    "manage.event_status_change": ("POST", OWNER),
    "manage.ticket_price": ("POST", OWNER),
    "manage.ticket_type_new": ("POST", OWNER),
    "manage.ticket_type_edit": ("POST", OWNER),
    "manage.promo_new": ("POST", OWNER),
    "manage.promo_delete": ("POST", OWNER),
    "manage.event_orders": ("GET", OWNER),
    "manage.order_refund": ("POST", OWNER),
    "manage.order_mark_paid": ("POST", OWNER),
    "manage.order_resend": ("POST", OWNER),
    "manage.ticket_reissue": ("POST", OWNER),
    "manage.users": ("GET", {ADMIN}),
    "manage.user_role": ("POST", {ADMIN}),
    "staff.staff": ("GET", STAFF),
    "staff.assign": ("POST", {ADMIN}),
    "staff.invite": ("POST", STAFF),
    "invite.accept": ("GET", EVERYONE),
    "door.status": ("GET", DOOR),
    "door.lookup": ("GET", DOOR),
    "dashboard.event": ("GET", {DOOR_STAFF, ORGANIZER, ADMIN}),
    "dashboard.panel": ("GET", {DOOR_STAFF, ORGANIZER, ADMIN}),
    "dashboard.live_json": ("GET", {DOOR_STAFF, ORGANIZER, ADMIN}),
    "dashboard.stream": ("GET", {DOOR_STAFF, ORGANIZER, ADMIN}),
    "reports.report": ("GET", OWNER),
    "reports.export_csv": ("GET", OWNER),
    "webhooks.endpoints": ("GET", STAFF),
    "webhooks.endpoint": ("GET", OWNER),
    "webhooks.send_again": ("POST", OWNER),
    "webhooks.remove": ("GET", OWNER),
    "web_static.static": ("GET", EVERYONE),
}
PAGE_BLUEPRINTS = {
    "store",
    "account",
    "manage",
    "staff",
    "invite",
    "door",
    "web_static",
    "dashboard",
    "reports",
    "webhooks",
}


@pytest.fixture
def world(app, engine, make_account):
    """One of everything a route can point at, owned by ORGANIZER."""
    people = {role: make_account(role.replace("other_", ""), f"{role}@example.org") for role in EVERYONE - {ANON}}
    spare = make_account("customer", "spare@example.org")
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        endpoint = webhooks.create_endpoint(
            conn,
            {"url": "http://127.0.0.1:9/hook", "kinds": ["order.placed"]},
            people[ORGANIZER]["id"],
            utcnow(),
            allow_private=True,
        )
        event = make_event(conn, people[ORGANIZER]["id"])
        held = hold_seats(conn, event["id"], [("A", "1", "1")])
        order = purchase(
            conn, held["hold_id"], held["hold_token"], {"name": "B", "email": "b@example.org"}, "box_office", signer
        )
        order = confirm_payment(conn, order["id"], signer)
        promo = promos.create_promo(conn, event["id"], "TENOFF", "percent", 10)
        accounts.link_order(conn, order["id"], people[CUSTOMER]["id"])
        staff.assign_staff(conn, people[DOOR_STAFF]["id"], people[ORGANIZER]["id"])  # works at ORGANIZER's door
        delivery_id = webhooks.deliveries(conn, endpoint["id"], None)["items"][0]["id"]  # its order.placed
    args = {
        "event_id": event["id"],
        "venue_id": event["venue_id"],
        "order_id": order["id"],
        "token": order["access_token"],
        "ticket_id": order["tickets"][0]["ticket_id"],
        "hold_id": held["hold_id"],
        "promo_id": promo["id"],
        "type_id": event["ticket_types"][0]["id"],
        "user_id": spare["id"],
        "filename": "hub.css",
        "kind": "orders",
        "endpoint_id": endpoint["id"],
        "delivery_id": delivery_id,
    }
    return people, args


def _url(app, endpoint: str, args: dict) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        return url_for(endpoint, **{name: args[name] for name in rule.arguments})


def test_every_page_route_is_in_the_table(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.split(".")[0] in PAGE_BLUEPRINTS}
    assert endpoints == set(ROUTES)


def test_route_by_role_matrix(app, world):
    people, args = world
    clients = {ANON: Browser(app.test_client())}
    for role, user in people.items():
        clients[role] = Browser(app.test_client())
        clients[role].login(user["email"])
    failures = []
    # logout last, so every other route is tried while still logged in
    for endpoint, (method, allowed) in sorted(ROUTES.items(), key=lambda item: item[0] == "account.logout"):
        url = _url(app, endpoint, args)
        for role, web in clients.items():
            if method == "POST":
                web.get("/account/login" if role == ANON else "/calendar")  # a page with a fresh CSRF token
            response = web.get(url) if method == "GET" else web.post(url, {"role": "customer", "price": "30"})
            location = response.headers.get("Location", "")
            sent_to_login = "/account/login?next=" in location
            if allowed == SECRET:
                ok = response.status_code == 403
            elif role in allowed:
                ok = response.status_code not in (401, 403) and not sent_to_login and response.status_code < 500
            elif role == ANON:
                ok = sent_to_login if method == "GET" else response.status_code == 401
            else:
                ok = response.status_code == 403
            if not ok:
                failures.append(f"{method} {endpoint} as {role}: {response.status_code} {location}")
    assert failures == []
