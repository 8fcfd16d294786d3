"""Card payments through Stripe against a real localstripe (API, webhooks), on SQLite and PostgreSQL.

The hub runs on a real server (live_server) so localstripe's webhooks reach it over HTTP. What the buyer's
browser does at Stripe (a card token from Stripe.js) is done here with localstripe's own API; what an
organizer does in the Stripe dashboard (a refund) with the official SDK. An event Stripe sends again is
taken from localstripe's event list and signed with the endpoint secret, as Stripe signs it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timedelta

import pytest
import requests
import stripe
from sqlalchemy import func, select

from common.signing import Keyring, verify_ticket
from hub.delivery.notify import build_message
from hub.schema import event_seats, orders, payment_events, tickets
from hub.schema_notifications import mail_jobs, notifications
from hub.schema_webhooks import webhook_deliveries
from hub.services import holds
from hub.services import orders as order_service
from hub.services.clock import iso, utcnow
from hub.services.errors import Conflict
from hub.services.payments import PaymentDeclined, providers_for
from hub.web.mailing import links as mail_links
from tests.support import LOCALSTRIPE_KEYS, register_stripe_webhook, stripe_card_token, wait_for

from .helpers import buy, create_event, seat

VISA = "4242424242424242"
# localstripe declines this one when it is charged (its 4000000000000002 is declined only when a card is
# saved to a customer, which the hub never does); Stripe declines both when charged
DECLINED = "4000000000000341"
SECRET = LOCALSTRIPE_KEYS["STRIPE_WEBHOOK_SECRET"]
DAY = timedelta(days=1)


@pytest.fixture
def app_config(app_config, localstripe):
    # (webhook endpoints on loopback: an integrator's receiver in these tests)
    return {**app_config, **LOCALSTRIPE_KEYS, "STRIPE_API_BASE": localstripe, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": True}


@pytest.fixture
def hub(live_server, localstripe):
    register_stripe_webhook(localstripe, f"{live_server}/payments/stripe/webhook")
    return live_server


@pytest.fixture
def dashboard(localstripe):
    """The organizer's own access to their Stripe account (what the Stripe dashboard does)."""
    return stripe.StripeClient(LOCALSTRIPE_KEYS["STRIPE_SECRET_KEY"], base_addresses={"api": localstripe})


@pytest.fixture
def event(client, organizer):
    return create_event(client, organizer, rows=1, seats=4, price=2500, service_fee=150)


def hold(client, event, *labels: str) -> dict:
    held = client.post(
        f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", label) for label in labels]}
    )
    assert held.status_code == 201, held.json
    return held.json


def card_order(client, event, *labels: str) -> dict:
    response = buy(client, hold(client, event, *labels), method="card")
    assert response.status_code == 201, response.json
    return response.json


def intent_id(order: dict) -> str:
    return order["payment"]["client_secret"].split("_secret_")[0]


def pay(app, localstripe: str, order: dict, number: str = VISA):
    with app.extensions["tickethub.engine"].connect() as conn:
        return order_service.pay_online(
            conn, order["id"], stripe_card_token(localstripe, number), app.extensions["tickethub.payments"]
        )


def read(client, order: dict) -> dict:
    response = client.get(f"/api/v1/orders/{order['id']}", headers={"X-Order-Token": order["access_token"]})
    assert response.status_code == 200, response.json
    return response.json


def seat_states(engine, event: dict) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(event_seats.c.status)
                .where(event_seats.c.event_id == event["id"])
                .order_by(event_seats.c.position)
            ).scalars()
        )


def recorded_events(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(payment_events)).scalar_one()


def event_recorded(engine, event_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(payment_events).where(payment_events.c.event_id == event_id)).first() is not None


def stripe_event(localstripe: str, kind: str, intent: str) -> bytes:
    """The event localstripe sent about `intent`, as Stripe would send it again."""
    auth = {"Authorization": f"Bearer {LOCALSTRIPE_KEYS['STRIPE_SECRET_KEY']}"}
    listed = requests.get(f"{localstripe}/v1/events", params={"type": kind, "limit": 100}, headers=auth, timeout=10)
    found = [e for e in listed.json()["data"] if e["data"]["object"]["id"] == intent]
    assert len(found) == 1, found
    return json.dumps(found[0]).encode()


def deliver(hub: str, payload: bytes, secret: str = SECRET) -> requests.Response:
    """POST an event to the hub's webhook, signed like Stripe signs it (t=<unix time>,v1=HMAC-SHA256)."""
    stamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return requests.post(
        f"{hub}/payments/stripe/webhook",
        data=payload,
        headers={"Stripe-Signature": f"t={stamp},v1={signature}", "Content-Type": "application/json"},
        timeout=30,
    )


def test_card_order_is_pending_until_the_succeeded_webhook_issues_its_tickets(
    app, client, hub, localstripe, event, organizer
):
    engine = app.extensions["tickethub.engine"]
    held = hold(client, event, "1", "2")
    first = buy(client, held, method="card", **{"Idempotency-Key": "checkout-1"})
    assert first.status_code == 201, first.json
    order = first.json
    assert order["status"] == "pending" and order["tickets"] == []
    assert order["total"] == 5300 and order["payment"]["method"] == "card"
    assert order["payment"]["publishable_key"] == LOCALSTRIPE_KEYS["STRIPE_PUBLISHABLE_KEY"]
    # a retried purchase gets the same order and the same PaymentIntent, never a second one
    again = buy(client, held, method="card", **{"Idempotency-Key": "checkout-1"})
    assert again.json["id"] == order["id"]
    assert again.json["payment"]["client_secret"] == order["payment"]["client_secret"]
    # staff cannot mark a card order paid: only Stripe says it is
    confirm = client.post(f"/api/v1/orders/{order['id']}/confirm-payment", headers=organizer)
    assert confirm.status_code == 409 and confirm.json["error"]["code"] == "paid_online"

    intent = pay(app, localstripe, order)
    assert intent.status == "succeeded"  # Stripe took the money; the hub waits for Stripe's webhook
    paid = wait_for(lambda: (o := read(client, order))["status"] == "paid" and o, 30, "the succeeded webhook")
    assert paid["payment"] == {"method": "card", "status": "paid", "refunded": 0, "error": None}
    ring = Keyring.from_document(client.get("/api/v1/keyring").json)
    assert [t["seat"]["seat"] for t in paid["tickets"]] == ["1", "2"]
    for ticket in paid["tickets"]:
        assert verify_ticket(ticket["code"], ring, time.time()).valid
    assert seat_states(engine, event) == ["sold", "sold", "available", "available"]

    # Stripe sends the same event again: nothing changes, no second set of tickets
    recorded = recorded_events(engine)
    replay = deliver(hub, stripe_event(localstripe, "payment_intent.succeeded", intent_id(order)))
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"
    assert read(client, order) == paid
    assert recorded_events(engine) == recorded


def test_declined_card_shows_why_and_keeps_the_seats_held_for_another_try(app, client, hub, localstripe, event):
    engine = app.extensions["tickethub.engine"]
    order = card_order(client, event, "3")
    with pytest.raises(PaymentDeclined) as declined:
        pay(app, localstripe, order, DECLINED)
    assert declined.value.status == 402 and declined.value.message == "Your card was declined."
    failed = wait_for(lambda: (o := read(client, order))["payment"]["error"] and o, 30, "the payment_failed webhook")
    assert failed["status"] == "pending" and failed["tickets"] == []
    assert failed["payment"]["error"] == "Your card was declined."
    assert seat_states(engine, event)[2] == "sold"  # still the buyer's: nobody else can take it meanwhile
    taken = client.post(f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", "3")]})
    assert taken.status_code == 409

    # Stripe's payment_failed webhook tells the buyer why, once, with the way back to the order
    failures = wait_for(
        lambda: [t for t in story(engine, order["id"]) if t[0] == "order.payment_failed"], 30, "the failure's notice"
    )
    assert failures == [("order.payment_failed", {"message": "Your card was declined."}, 0, "queued")]
    with engine.connect() as conn:
        notice = (
            conn.execute(
                select(notifications).where(
                    notifications.c.order_id == order["id"], notifications.c.kind == "order.payment_failed"
                )
            )
            .mappings()
            .one()
        )
        with app.app_context():
            text = build_message(conn, notice, mail_links(app)).get_body(("plain",)).get_content()
    assert "did not go through: Your card was declined." in text and f"/orders/{order['id']}/" in text

    # another card pays it; the error is gone
    assert pay(app, localstripe, order).status == "succeeded"
    paid = wait_for(lambda: (o := read(client, order))["status"] == "paid" and o, 30, "the succeeded webhook")
    assert paid["payment"]["error"] is None and len(paid["tickets"]) == 1


def test_webhook_with_a_bad_signature_is_refused_and_changes_nothing(app, client, hub, localstripe, event):
    engine = app.extensions["tickethub.engine"]
    # a real succeeded event for a real order, but the hub never got it (its webhook pointed elsewhere)
    register_stripe_webhook(localstripe, "http://127.0.0.1:9/nowhere")
    order = card_order(client, event, "1")
    assert pay(app, localstripe, order).status == "succeeded"
    payload = wait_for(
        lambda: stripe_event(localstripe, "payment_intent.succeeded", intent_id(order)), 30, "localstripe's event"
    )
    wrong_secret = deliver(hub, payload, secret="whsec_someone_else")
    unsigned = requests.post(f"{hub}/payments/stripe/webhook", data=payload, timeout=10)
    # signed, then changed on the way: the signature no longer matches the body
    stamp = int(time.time())
    signature = hmac.new(SECRET.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    changed = payload.replace(b'"amount": 2650', b'"amount": 1')
    assert changed != payload
    tampered = requests.post(
        f"{hub}/payments/stripe/webhook",
        data=changed,
        headers={"Stripe-Signature": f"t={stamp},v1={signature}"},
        timeout=10,
    )
    for response in (wrong_secret, unsigned, tampered):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_signature"
    unchanged = read(client, order)
    assert unchanged["status"] == "pending" and unchanged["tickets"] == []
    assert not event_recorded(engine, json.loads(payload)["id"])

    # the same event, properly signed, is what pays it
    assert deliver(hub, payload).json()["outcome"] == "paid"
    assert read(client, order)["status"] == "paid"


def test_payment_that_succeeds_after_the_order_was_cancelled_is_refunded_and_never_oversold(
    app, client, hub, localstripe, event, organizer, dashboard
):
    engine = app.extensions["tickethub.engine"]
    register_stripe_webhook(localstripe, "http://127.0.0.1:9/nowhere")  # the webhook is late
    order = card_order(client, event, "2")
    assert pay(app, localstripe, order).status == "succeeded"
    # meanwhile the order was cancelled (as an expired one is) and its seat sold to someone else
    cancelled = client.post(f"/api/v1/orders/{order['id']}/refund", headers=organizer)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    other = buy(client, hold(client, event, "2"), method="box_office")
    assert other.status_code == 201

    payload = wait_for(
        lambda: stripe_event(localstripe, "payment_intent.succeeded", intent_id(order)), 30, "localstripe's event"
    )
    answer = deliver(hub, payload)
    assert answer.status_code == 200 and answer.json()["outcome"] == "refunded_late"
    late = read(client, order)
    assert late["status"] == "cancelled" and late["tickets"] == []
    assert late["payment"]["refunded"] == late["total"] == 2650
    charge = dashboard.v1.payment_intents.retrieve(intent_id(order), {"expand": ["latest_charge"]}).latest_charge
    assert charge.amount_refunded == late["total"]  # the money went back at Stripe
    with engine.connect() as conn:
        sold_to = conn.execute(
            select(event_seats.c.order_id).where(event_seats.c.event_id == event["id"], event_seats.c.position == 1)
        ).scalar_one()
    assert sold_to == other.json["id"]  # the seat stays the other buyer's
    # and again: still one refund
    assert deliver(hub, payload).json()["outcome"] == "duplicate"


def test_partial_and_whole_refunds_go_through_stripe(app, client, hub, localstripe, event, organizer, dashboard):
    engine = app.extensions["tickethub.engine"]
    order = card_order(client, event, "1", "2")
    intent = intent_id(order)
    assert pay(app, localstripe, order).status == "succeeded"
    wait_for(lambda: read(client, order)["status"] == "paid", 30, "the succeeded webhook")

    too_much = client.post(f"/api/v1/orders/{order['id']}/refund", headers=organizer, json={"amount": 5301})
    assert too_much.status_code == 422 and too_much.json["error"]["code"] == "invalid_refund_amount"

    part = client.post(f"/api/v1/orders/{order['id']}/refund", headers=organizer, json={"amount": 1000})
    assert part.status_code == 200, part.json
    assert part.json["status"] == "paid" and part.json["payment"]["refunded"] == 1000
    assert all(t["status"] == "valid" for t in part.json["tickets"])  # a partial refund keeps the tickets
    charge = dashboard.v1.payment_intents.retrieve(intent, {"expand": ["latest_charge"]}).latest_charge
    assert charge.amount_refunded == 1000

    # the organizer gives back 300 more in the Stripe dashboard; Stripe's charge.refunded tells the hub
    dashboard.v1.refunds.create({"payment_intent": intent, "amount": 300})
    charge_id = dashboard.v1.payment_intents.retrieve(intent).latest_charge
    charge_id = charge_id if isinstance(charge_id, str) else charge_id.id
    charge = requests.get(
        f"{localstripe}/v1/charges/{charge_id}",
        headers={"Authorization": f"Bearer {LOCALSTRIPE_KEYS['STRIPE_SECRET_KEY']}"},
        timeout=10,
    ).json()
    assert charge["amount_refunded"] == 1300
    refunded_event = {
        "id": "evt_dashboard_refund_1",
        "object": "event",
        "type": "charge.refunded",
        "created": int(time.time()),
        "api_version": "2017-08-15",
        "data": {"object": charge},
    }
    payload = json.dumps(refunded_event).encode()
    assert deliver(hub, payload).json()["outcome"] == "refunded"
    assert read(client, order)["payment"]["refunded"] == 1300
    assert deliver(hub, payload).json()["outcome"] == "duplicate"

    whole = client.post(f"/api/v1/orders/{order['id']}/refund", headers=organizer)
    assert whole.status_code == 200, whole.json
    assert whole.json["status"] == "refunded" and whole.json["payment"]["refunded"] == 5300
    assert all(t["status"] == "revoked" for t in whole.json["tickets"])
    assert seat_states(engine, event) == ["available"] * 4
    charge = dashboard.v1.payment_intents.retrieve(intent, {"expand": ["latest_charge"]}).latest_charge
    assert charge.amount_refunded == 5300
    again = client.post(f"/api/v1/orders/{order['id']}/refund", headers=organizer)
    assert again.status_code == 409
    # each refund Stripe confirmed told the buyer (and integrators) once, whichever side made it
    told = [(kind, data) for kind, data, _, mailed in story(engine, order["id"]) if mailed == "queued"]
    assert told == [
        ("order.placed", {"payment_method": "card", "payment_due_at": order["payment_due_at"]}),
        ("order.paid", {}),
        ("order.refunded", {"amount": 1000, "refunded": 1000, "whole": False, "order_status": "paid"}),
        ("order.refunded", {"amount": 300, "refunded": 1300, "whole": False, "order_status": "paid"}),
        (
            "order.refunded",
            {
                "amount": 4000,
                "refunded": 5300,
                "whole": True,
                "order_status": "paid",
                "revoked": [t["ticket_id"] for t in whole.json["tickets"]],
            },
        ),
    ]


def test_the_same_event_delivered_many_times_at_once_pays_once(app, client, hub, localstripe, event):
    import threading

    from hub.schema import tickets

    engine = app.extensions["tickethub.engine"]
    register_stripe_webhook(localstripe, "http://127.0.0.1:9/nowhere")  # only the racing deliveries reach the hub
    order = card_order(client, event, "1", "2")
    assert pay(app, localstripe, order).status == "succeeded"
    payload = wait_for(
        lambda: stripe_event(localstripe, "payment_intent.succeeded", intent_id(order)), 30, "localstripe's event"
    )
    start = threading.Barrier(8)
    outcomes = []

    def deliver_at_once():
        start.wait()
        response = deliver(hub, payload)
        outcomes.append((response.status_code, response.json()["outcome"]))

    threads = [threading.Thread(target=deliver_at_once) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == 8 and all(status == 200 for status, _ in outcomes)
    assert sorted(outcome for _, outcome in outcomes).count("paid") == 1, outcomes
    assert {outcome for _, outcome in outcomes} <= {"paid", "already_paid", "duplicate"}
    with engine.connect() as conn:
        issued = conn.execute(select(func.count()).select_from(tickets).where(tickets.c.order_id == order["id"]))
        assert issued.scalar_one() == 2
    assert event_recorded(engine, json.loads(payload)["id"])
    assert read(client, order)["status"] == "paid"


def test_a_signed_body_that_is_no_event_is_refused(hub):
    answer = deliver(hub, b'{"object": "event"}')
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "malformed_event"
    assert deliver(hub, b"not json").status_code == 400


def test_stripe_unreachable_at_purchase_cancels_the_order_and_frees_its_seats(app_config, organizer_headers_app):
    app, client, organizer = organizer_headers_app
    event = create_event(client, organizer, rows=1, seats=2, price=1000)
    response = buy(client, hold(client, event, "1"), method="card")
    assert response.status_code == 502 and response.json["error"]["code"] == "payment_provider_error"
    seats = client.get(f"/api/v1/events/{event['id']}/seats").json["seats"]
    assert seats[0]["status"] == "available"  # nothing charged, nothing kept: the seat is on sale again
    listed = client.get(f"/api/v1/events/{event['id']}/orders", headers=organizer).json["items"]
    assert [o["status"] for o in listed] == ["cancelled"]


@pytest.fixture
def organizer_headers_app(app_config, make_user):
    """A hub whose Stripe address refuses connections (nothing listens on port 9 of loopback)."""
    from hub import create_app

    down = create_app({**app_config, "STRIPE_API_BASE": "http://127.0.0.1:9"})
    yield down, down.test_client(), make_user("organizer")[1]
    down.extensions["tickethub.engine"].dispose()


# --- card orders in the order lifecycle: deadlines, expiry, a late success (clocks pinned: every step its `now`)

BUYER = {"name": "Ada Lovelace", "email": "ada@example.org"}


@pytest.fixture
def t0():
    """The pinned start of each story: days in the past, so the event is on sale at every step."""
    return utcnow().replace(microsecond=0) - timedelta(days=4)


@pytest.fixture
def show(client, organizer, t0):
    """Four seats at EUR 25.00 + 1.50, on sale since before t0, and an integrator listening to every order kind."""
    created = create_event(client, organizer, rows=1, seats=4, price=2500, service_fee=150, release_at=t0 - DAY)
    kinds = ["order.placed", "order.paid", "order.payment_failed", "order.expired", "order.refunded"]
    hooked = client.post(
        "/api/v1/webhooks", headers=organizer, json={"url": "http://127.0.0.1:9/hooks", "kinds": kinds}
    )
    assert hooked.status_code == 201, hooked.json
    return created


def place(app, conn, event: dict, label: str, at, method: str = "card") -> dict:
    held = holds.hold_seats(conn, event["id"], [("A", "1", label)], now=at)
    return order_service.purchase(
        conn,
        held["hold_id"],
        held["hold_token"],
        BUYER,
        method,
        app.extensions["tickethub.keys"].current(),
        now=at,
        providers=app.extensions["tickethub.payments"],
        config=app.config,
    )


def story(engine, order_id: int) -> list[tuple[str, dict, int, str]]:
    """The order's notifications: kind, payload, webhook deliveries queued for it, its mail job's state."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(notifications.c.id, notifications.c.kind, notifications.c.payload)
            .where(notifications.c.order_id == order_id)
            .order_by(notifications.c.id)
        ).all()
        told = []
        for row in rows:
            hooks = conn.execute(
                select(func.count())
                .select_from(webhook_deliveries)
                .where(webhook_deliveries.c.notification_id == row.id)
            ).scalar_one()
            mailed = conn.execute(select(mail_jobs.c.status).where(mail_jobs.c.notification_id == row.id)).scalar_one()
            told.append((row.kind, json.loads(row.payload or "{}"), hooks, mailed))
        return told


def intent_status(dashboard, order: dict) -> str:
    return dashboard.v1.payment_intents.retrieve(intent_id(order)).status


def test_an_unpaid_card_order_expires_at_its_deadline_and_its_payment_is_cancelled_at_stripe(
    app, app_config, engine, localstripe, show, t0, dashboard
):
    with engine.connect() as conn:
        order = place(app, conn, show, "1", t0)
    due = t0 + timedelta(minutes=app.config["PAYMENT_DEADLINE_CARD_MINUTES"])  # minutes, not box office's days
    assert order["status"] == "pending" and order["payment_due_at"] == iso(due)
    assert intent_status(dashboard, order) == "requires_payment_method"

    unreachable = providers_for({**app_config, **LOCALSTRIPE_KEYS, "STRIPE_API_BASE": "http://127.0.0.1:9"})
    with engine.connect() as conn:
        assert order_service.expire_overdue(conn, now=due - timedelta(seconds=1), providers=unreachable) == []
        # past the deadline it expires even though Stripe cannot be reached; the payment is still to cancel
        expired = order_service.expire_overdue(conn, now=due, providers=unreachable)
        assert expired == [{"id": order["id"], "event_id": show["id"]}]
        assert conn.execute(select(orders.c.payment_cancel_due).where(orders.c.id == order["id"])).scalar_one()
    assert intent_status(dashboard, order) == "requires_payment_method"
    assert seat_states(engine, show)[0] == "available"
    # the buyer can no longer pay it here
    with engine.connect() as conn, pytest.raises(Conflict) as refused:
        order_service.pay_online(
            conn, order["id"], stripe_card_token(localstripe), app.extensions["tickethub.payments"], now=due
        )
    assert refused.value.code == "order_not_payable"

    # the next sweep reaches Stripe: the PaymentIntent is cancelled and nothing is left to do
    with engine.connect() as conn:
        assert order_service.expire_overdue(conn, now=due + timedelta(minutes=1), providers=unreachable) == []
        assert (
            order_service.expire_overdue(
                conn, now=due + timedelta(minutes=2), providers=app.extensions["tickethub.payments"]
            )
            == []
        )
        assert not conn.execute(select(orders.c.payment_cancel_due).where(orders.c.id == order["id"])).scalar_one()
    assert intent_status(dashboard, order) == "canceled"
    assert [(kind, hooks, mailed) for kind, _, hooks, mailed in story(engine, order["id"])] == [
        ("order.placed", 1, "queued"),
        ("order.expired", 1, "queued"),
    ]


def test_a_card_payment_after_expiry_whose_seat_was_resold_is_refunded_and_mailed_never_oversold(
    app, client, engine, hub, localstripe, show, t0, dashboard
):
    register_stripe_webhook(localstripe, "http://127.0.0.1:9/nowhere")  # Stripe's webhook is held up
    providers = app.extensions["tickethub.payments"]
    with engine.connect() as conn:
        order = place(app, conn, show, "2", t0)
        due = datetime.fromisoformat(order["payment_due_at"])
        # the buyer pays just before the deadline; the webhook saying so comes long after
        paying = order_service.pay_online(
            conn, order["id"], stripe_card_token(localstripe), providers, now=due - timedelta(minutes=1)
        )
        assert paying.status == "succeeded"
        assert order_service.expire_overdue(conn, now=due, providers=providers) == [
            {"id": order["id"], "event_id": show["id"]}
        ]
        # Stripe would not cancel a payment that succeeded: nothing is left to cancel, the webhook refunds it
        assert not conn.execute(select(orders.c.payment_cancel_due).where(orders.c.id == order["id"])).scalar_one()
        rival = place(app, conn, show, "2", due + timedelta(minutes=5), method="box_office")
    assert intent_status(dashboard, order) == "succeeded"

    payload = wait_for(
        lambda: stripe_event(localstripe, "payment_intent.succeeded", intent_id(order)), 30, "localstripe's event"
    )
    answer = deliver(hub, payload)
    assert answer.status_code == 200 and answer.json()["outcome"] == "refunded_late"
    late = read(client, order)
    assert late["status"] == "expired" and late["tickets"] == []
    assert late["payment"]["refunded"] == late["total"] == 2650
    charge = dashboard.v1.payment_intents.retrieve(intent_id(order), {"expand": ["latest_charge"]}).latest_charge
    assert charge.amount_refunded == 2650  # the money went back at Stripe
    with engine.connect() as conn:
        sold_to = conn.execute(
            select(event_seats.c.order_id).where(event_seats.c.event_id == show["id"], event_seats.c.position == 1)
        ).scalar_one()
        assert sold_to == rival["id"]  # the seat stays the rival's: sold once
        assert (
            conn.execute(
                select(func.count()).select_from(tickets).where(tickets.c.order_id == order["id"])
            ).scalar_one()
            == 0
        )
    told = story(engine, order["id"])
    assert [(kind, hooks, mailed) for kind, _, hooks, mailed in told] == [
        ("order.placed", 1, "queued"),
        ("order.expired", 1, "queued"),
        ("order.refunded", 1, "queued"),
    ]
    assert told[2][1] == {"amount": 2650, "refunded": 2650, "whole": False, "order_status": "expired"}
    # the buyer's mail says in plain words what happened to the money
    with engine.connect() as conn:
        refunded = (
            conn.execute(
                select(notifications).where(notifications.c.order_id == order["id"]).order_by(notifications.c.id.desc())
            )
            .mappings()
            .first()
        )
        with app.app_context():
            message = build_message(conn, refunded, mail_links(app))
    text = message.get_body(("plain",)).get_content()
    assert "€26.50" in text and "arrived after the order" in text and "refunded the payment in full" in text
    # Stripe sends it again: still one refund, one mail
    assert deliver(hub, payload).json()["outcome"] == "duplicate"
    assert len(story(engine, order["id"])) == 3


def test_a_card_payment_after_expiry_whose_seat_is_still_free_pays_the_order(
    app, client, engine, hub, localstripe, show, t0
):
    register_stripe_webhook(localstripe, "http://127.0.0.1:9/nowhere")
    providers = app.extensions["tickethub.payments"]
    with engine.connect() as conn:
        order = place(app, conn, show, "3", t0)
        due = datetime.fromisoformat(order["payment_due_at"])
        order_service.pay_online(
            conn, order["id"], stripe_card_token(localstripe), providers, now=due - timedelta(minutes=1)
        )
        order_service.expire_overdue(conn, now=due, providers=providers)
    assert read(client, order)["status"] == "expired" and seat_states(engine, show)[2] == "available"

    payload = wait_for(
        lambda: stripe_event(localstripe, "payment_intent.succeeded", intent_id(order)), 30, "localstripe's event"
    )
    assert deliver(hub, payload).json()["outcome"] == "paid"
    paid = read(client, order)
    assert paid["status"] == "paid" and paid["payment"]["refunded"] == 0
    assert [t["seat"]["seat"] for t in paid["tickets"]] == ["3"]
    assert seat_states(engine, show)[2] == "sold"  # its seat taken back
    assert [(kind, hooks, mailed) for kind, _, hooks, mailed in story(engine, order["id"])] == [
        ("order.placed", 1, "queued"),
        ("order.expired", 1, "queued"),
        ("order.paid", 1, "queued"),
    ]


def test_the_sweep_a_late_card_success_and_a_rival_buyer_racing_sell_each_seat_once(
    app, client, engine, hub, localstripe, show, t0
):
    """Per seat: a card order paid at Stripe just before its deadline, then, all at the same pinned moment
    past it, the sweep, Stripe's succeeded event (applied as the webhook route applies it) and another
    buyer wanting the seat race (for seats 2 and 4 the sweep has already run, so the event and the rival
    race for the freed seat). Whoever wins, the seat is sold once: the card order has its ticket, or the
    rival has the seat and the card payment went back."""
    register_stripe_webhook(localstripe, "http://127.0.0.1:9/nowhere")  # the event is applied by the race
    providers = app.extensions["tickethub.payments"]
    provider, signer = providers["card"], app.extensions["tickethub.keys"].current()
    for label in ("1", "2", "3", "4"):
        with engine.connect() as conn:
            order = place(app, conn, show, label, t0)
            due = datetime.fromisoformat(order["payment_due_at"])
            order_service.pay_online(
                conn, order["id"], stripe_card_token(localstripe), providers, now=due - timedelta(minutes=1)
            )
        payload = wait_for(
            lambda o=order: stripe_event(localstripe, "payment_intent.succeeded", intent_id(o)), 30, "the event"
        )
        stamp = int(time.time())
        signature = hmac.new(SECRET.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
        event = provider.parse_event(payload, f"t={stamp},v1={signature}")
        at = due + timedelta(minutes=1)
        swept_first = label in ("2", "4")
        start = threading.Barrier(2 if swept_first else 3)
        results: dict[str, object] = {}

        def sweep(at=at):
            if not swept_first:
                start.wait()
            with engine.connect() as conn:
                results["sweep"] = order_service.expire_overdue(conn, now=at, providers=providers)

        if swept_first:
            sweep()

        def webhook(at=at, event=event):
            start.wait()
            with engine.connect() as conn:
                results["webhook"] = order_service.apply_payment_event(conn, provider, event, signer, now=at).outcome

        def rival(at=at, label=label):
            start.wait()
            with engine.connect() as conn:
                try:
                    results["rival"] = place(app, conn, show, label, at, method="box_office")
                except Conflict as lost:
                    results["rival"] = lost.code

        threads = [
            threading.Thread(target=job) for job in ((webhook, rival) if swept_first else (sweep, webhook, rival))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert set(results) == {"sweep", "webhook", "rival"}, results

        final = read(client, order)
        with engine.connect() as conn:
            owner = conn.execute(
                select(event_seats.c.order_id, event_seats.c.status).where(
                    event_seats.c.event_id == show["id"], event_seats.c.position == int(label) - 1
                )
            ).one()
        if isinstance(results["rival"], dict):  # the rival got the seat: the card payment went back
            assert owner == (results["rival"]["id"], "sold")
            assert results["webhook"] == "refunded_late"
            assert final["status"] == "expired" and final["tickets"] == []
            assert final["payment"]["refunded"] == final["total"]
        else:  # the card order kept or took back its seat; the rival was refused
            assert results["rival"] in ("seat_unavailable", "seats_unavailable", "hold_expired"), results["rival"]
            assert owner == (order["id"], "sold")
            assert results["webhook"] == "paid"
            assert final["status"] == "paid" and final["payment"]["refunded"] == 0
            assert [t["seat"]["seat"] for t in final["tickets"]] == [label]
