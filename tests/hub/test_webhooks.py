"""Outgoing webhooks (services.webhooks, hub/delivery/webhooks.py): an organizer's endpoint hears what
happens to their orders, signed, retried with backoff against a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from hub.delivery.webhooks import work_deliveries
from hub.schema_webhooks import webhook_deliveries
from hub.services import webhooks
from hub.services.clock import utcnow

from .helpers import buy, create_event, seat


class Receiver:
    """A real HTTP server on loopback that checks each delivery's signature with the endpoint's
    secret, as an integrator's would, and answers 500 to the first `fail_first` posts."""

    def __init__(self, fail_first: int = 0):
        self.secret: str | None = None
        self.now = None  # the receiver's clock (the tests pin the hub's)
        self.fail_first = fail_first
        self.posts: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signed = webhooks.verify_signature(
                    receiver.secret, self.headers.get(webhooks.SIGNATURE_HEADER, ""), body, receiver.now or utcnow()
                )
                receiver.posts.append(
                    {
                        "signed": signed,
                        "id": self.headers.get(webhooks.ID_HEADER),
                        "kind": self.headers.get(webhooks.KIND_HEADER),
                        "body": json.loads(body),
                    }
                )
                failing = len(receiver.posts) <= receiver.fail_first
                self.send_response(500 if failing else (204 if signed else 401))
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": True, "WEBHOOK_INTERVAL_SECONDS": 0}


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def _register(client, headers, url, kinds=("order.placed", "order.paid", "order.refunded")) -> dict:
    response = client.post("/api/v1/webhooks", json={"url": url, "kinds": list(kinds)}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def _hold(client, event_id, *seats):
    response = client.post(f"/api/v1/events/{event_id}/holds", json={"seats": list(seats)})
    assert response.status_code == 201, response.json
    return response.json


def _deliveries(engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                webhook_deliveries.c.status, webhook_deliveries.c.attempts, webhook_deliveries.c.next_attempt_at
            ).order_by(webhook_deliveries.c.id)
        ).all()
    return [tuple(row) for row in rows]


def test_subscribed_changes_are_delivered_signed_and_others_not(client, organizer, engine, receiver):
    endpoint = _register(client, organizer, receiver.url)
    receiver.secret = endpoint["secret"]
    assert endpoint["secret"].startswith("whsec_") and len(endpoint["secret"]) > 40
    assert "secret" not in client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=organizer).json
    event = create_event(client, organizer, rows=1, seats=3, price=1500)
    pending = buy(client, _hold(client, event["id"], seat("A", "1", "1")), method="box_office").json
    client.post(f"/api/v1/orders/{pending['id']}/confirm-payment", headers=organizer)
    [ticket] = client.get(f"/api/v1/orders/{pending['id']}", headers=organizer).json["tickets"]
    client.post(f"/api/v1/tickets/{ticket['ticket_id']}/reissue", headers=organizer)  # not subscribed
    client.post(f"/api/v1/orders/{pending['id']}/refund", headers=organizer)

    with engine.connect() as conn:
        counts = work_deliveries(conn, allow_private=True)
    assert counts == {"delivered": 3}
    assert [(p["kind"], p["signed"]) for p in receiver.posts] == [
        ("order.placed", True),
        ("order.paid", True),
        ("order.refunded", True),
    ]
    paid = receiver.posts[1]["body"]
    assert paid["kind"] == "order.paid" and paid["order"]["id"] == pending["id"]
    assert paid["order"]["status"] in ("paid", "refunded")  # the order as it is when posted
    assert paid["id"] == int(receiver.posts[1]["id"])
    assert "access_token" not in json.dumps(paid)  # no secrets of the buyer travel
    with engine.connect() as conn:
        assert work_deliveries(conn, allow_private=True) == {}  # nothing is posted twice


def test_a_receiver_that_fails_is_retried_with_backoff_then_delivered(client, organizer, engine):
    receiver = Receiver(fail_first=2)
    try:
        receiver.secret = _register(client, organizer, receiver.url, kinds=["order.placed"])["secret"]
        event = create_event(client, organizer, rows=1, seats=3, price=1500)
        buy(client, _hold(client, event["id"], seat("A", "1", "1")), method="box_office")
        start = utcnow()
        receiver.now = start
        first = timedelta(seconds=30)
        with engine.connect() as conn:
            assert work_deliveries(conn, start, allow_private=True, first_wait=first) == {"queued": 1}
            assert _deliveries(engine)[0][:2] == ("queued", 1)
            assert _deliveries(engine)[0][2] == start + first
            # not due yet: nothing is posted
            assert work_deliveries(conn, start + first - timedelta(seconds=1), allow_private=True) == {}
            receiver.now = start + first
            assert work_deliveries(conn, start + first, allow_private=True, first_wait=first) == {"queued": 1}
            assert _deliveries(engine)[0][2] == start + first + 2 * first  # doubled
            receiver.now = start + 3 * first
            assert work_deliveries(conn, start + 3 * first, allow_private=True, first_wait=first) == {"delivered": 1}
        assert len(receiver.posts) == 3 and all(p["signed"] for p in receiver.posts)
        assert len({p["id"] for p in receiver.posts}) == 1  # the same Webhook-Id on every retry
        log = client.get("/api/v1/webhooks/1/deliveries", headers=organizer).json["items"]
        assert [(d["status"], d["attempts"], d["last_status"]) for d in log] == [("delivered", 3, 204)]
    finally:
        receiver.close()


def test_a_delivery_that_never_succeeds_fails_after_a_day(client, organizer, engine):
    receiver = Receiver(fail_first=10**6)
    try:
        receiver.secret = _register(client, organizer, receiver.url, kinds=["order.placed"])["secret"]
        event = create_event(client, organizer, rows=1, seats=3, price=1500)
        buy(client, _hold(client, event["id"], seat("A", "1", "1")), method="box_office")
        now = utcnow()
        with engine.connect() as conn:
            while (state := _deliveries(engine)[0])[0] == "queued":
                now = max(now, state[2])
                work_deliveries(conn, now, allow_private=True)
        status, attempts, _ = _deliveries(engine)[0]
        assert status == "failed"
        assert now - utcnow() <= webhooks.RETRY_FOR  # gave up within the day it was promised
        assert 8 <= attempts <= 20  # doubling waits from 30 s, at most 6 h apart
        [entry] = client.get("/api/v1/webhooks/1/deliveries", headers=organizer).json["items"]
        assert entry["status"] == "failed" and entry["last_error"] == "HTTP 500"
    finally:
        receiver.close()


def test_send_again_queues_the_same_notification_once_more(client, organizer, engine, receiver):
    endpoint = _register(client, organizer, receiver.url, kinds=["order.placed"])
    receiver.secret = endpoint["secret"]
    event = create_event(client, organizer, rows=1, seats=3, price=1500)
    buy(client, _hold(client, event["id"], seat("A", "1", "1")), method="box_office")
    with engine.connect() as conn:
        work_deliveries(conn, allow_private=True)
    [first] = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=organizer).json["items"]
    again = client.post(f"/api/v1/webhooks/{endpoint['id']}/deliveries/{first['id']}/send-again", headers=organizer)
    assert again.status_code == 201 and again.json["status"] == "queued"
    with engine.connect() as conn:
        assert work_deliveries(conn, allow_private=True) == {"delivered": 1}
    assert [p["id"] for p in receiver.posts] == [receiver.posts[0]["id"]] * 2


def test_a_forged_or_stale_signature_fails_verification(receiver):
    now = utcnow()
    body = b'{"kind":"order.paid"}'
    header = webhooks.sign("whsec_right", int(now.timestamp()), body)
    assert webhooks.verify_signature("whsec_right", header, body, now)
    assert not webhooks.verify_signature("whsec_wrong", header, body, now)
    assert not webhooks.verify_signature("whsec_right", header, body + b" ", now)
    assert not webhooks.verify_signature("whsec_right", header, body, now + timedelta(minutes=6))  # a replay
    assert not webhooks.verify_signature("whsec_right", "t=x,v1=00", body, now)


def test_endpoints_are_the_organizers_own(client, organizer, make_user, admin, receiver):
    endpoint = _register(client, organizer, receiver.url)
    other = make_user("organizer")[1]
    assert client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=other).json["error"]["code"] == "not_your_webhook"
    assert client.get("/api/v1/webhooks", headers=other).json["items"] == []
    assert client.delete(f"/api/v1/webhooks/{endpoint['id']}", headers=other).status_code == 403
    assert client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=other).status_code == 403
    assert [e["id"] for e in client.get("/api/v1/webhooks", headers=admin).json["items"]] == [endpoint["id"]]
    assert client.get("/api/v1/webhooks").status_code == 401


def test_other_organizers_events_are_not_delivered(client, organizer, make_user, engine, receiver):
    _register(client, organizer, receiver.url, kinds=["order.placed"])
    other = make_user("organizer")[1]
    event = create_event(client, other, rows=1, seats=3, price=1500)
    buy(client, _hold(client, event["id"], seat("A", "1", "1")), method="box_office")
    with engine.connect() as conn:
        assert work_deliveries(conn, allow_private=True) == {}
    assert receiver.posts == []


def test_a_removed_endpoint_gets_nothing_more(client, organizer, engine, receiver):
    endpoint = _register(client, organizer, receiver.url, kinds=["order.placed"])
    event = create_event(client, organizer, rows=1, seats=3, price=1500)
    buy(client, _hold(client, event["id"], seat("A", "1", "1")), method="box_office")
    assert client.delete(f"/api/v1/webhooks/{endpoint['id']}", headers=organizer).status_code == 204
    buy(client, _hold(client, event["id"], seat("A", "1", "2")), method="box_office")
    with engine.connect() as conn:
        assert work_deliveries(conn, allow_private=True) == {}
    assert receiver.posts == []
    [queued_then_removed] = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=organizer).json["items"]
    assert queued_then_removed["status"] == "failed" and queued_then_removed["last_error"] == "endpoint removed"


@pytest.mark.parametrize(
    "body, code",
    [
        ({"url": "ftp://example.org/x", "kinds": ["order.paid"]}, "invalid_url"),
        ({"url": "https://user:pw@example.org/x", "kinds": ["order.paid"]}, "invalid_url"),
        ({"url": "https://example.org/x", "kinds": ["order.teleported"]}, "invalid_field"),
        ({"url": "https://example.org/x", "kinds": []}, "invalid_field"),
        ({"url": "https://example.org/x"}, "missing_field"),
    ],
)
def test_bad_endpoints_are_refused_with_a_reason(client, organizer, body, code):
    response = client.post("/api/v1/webhooks", json=body, headers=organizer)
    assert response.status_code == 422 and response.json["error"]["code"] == code


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://[::1]/x", "http://169.254.169.254/"]
)
def test_internal_addresses_are_refused_unless_allowed(app, organizer, url):
    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = False
    response = app.test_client().post("/api/v1/webhooks", json={"url": url, "kinds": ["order.paid"]}, headers=organizer)
    assert response.status_code == 422 and response.json["error"]["code"] == "webhook_address_not_public"


def test_gate_admissions_reach_subscribed_webhooks_once(client, organizer, engine, receiver):
    from tests.hub.test_sync import FakeGate

    endpoint = _register(client, organizer, receiver.url, kinds=["ticket.admitted"])
    receiver.secret = endpoint["secret"]
    event = create_event(client, organizer, rows=1, seats=3, price=0)
    order = buy(client, _hold(client, event["id"], seat("A", "1", "1"), seat("A", "1", "2"))).json
    first, second = (t["ticket_id"] for t in order["tickets"])
    gate = FakeGate(client, organizer, event["id"], "Gate A")
    admitted = gate.scan(first)
    body = gate.push_body([admitted, gate.scan(second, verdict="refused", reason="already_used")])
    assert gate.push([], body).status_code == 200
    assert gate.push([], body).status_code == 200  # a retried push announces nothing twice
    with engine.connect() as conn:
        assert work_deliveries(conn, allow_private=True) == {"delivered": 1}
    [post] = receiver.posts
    assert post["kind"] == "ticket.admitted" and post["signed"]
    assert post["body"]["ticket_id"] == first and post["body"]["data"]["scan_id"] == admitted["scan_id"]
    assert post["body"]["data"]["device_id"] == gate.id
