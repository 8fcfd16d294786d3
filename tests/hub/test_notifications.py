"""The outbox (services.notifications): every change of an order or ticket publishes one notification in
its own transaction, whichever route made it, and queues the buyer's mail."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from hub.db import make_engine
from hub.schema import metadata
from hub.schema_notifications import mail_jobs, notifications
from hub.services import notifications as outbox
from hub.services.clock import utcnow

from .helpers import buy, create_event, ga_type, seat
from .test_sync import FakeGate


def _hold(client, event_id, *seats):
    response = client.post(f"/api/v1/events/{event_id}/holds", json={"seats": list(seats)})
    assert response.status_code == 201, response.json
    return response.json


def _published(engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(notifications.c.kind, notifications.c.order_id, notifications.c.ticket_id, mail_jobs.c.status)
            .outerjoin(mail_jobs, mail_jobs.c.notification_id == notifications.c.id)
            .order_by(notifications.c.id)
        ).all()
    return [tuple(row) for row in rows]


def test_each_order_change_publishes_one_notification_and_queues_its_mail(client, organizer, engine):
    event = create_event(client, organizer, rows=1, seats=4, price=1500, ga_capacity=3)
    pending = buy(client, _hold(client, event["id"], seat("A", "1", "1")), method="box_office").json
    assert pending["payment_due_at"] is not None
    ga = client.post(f"/api/v1/events/{event['id']}/holds", json={"ga": {"ticket_type": ga_type(event), "quantity": 1}})
    free = buy(client, ga.json).json  # GA is free here
    other = buy(client, _hold(client, event["id"], seat("A", "1", "2")), method="box_office").json

    paid = client.post(f"/api/v1/orders/{pending['id']}/confirm-payment", headers=organizer).json
    [ticket] = paid["tickets"]
    new = client.post(f"/api/v1/tickets/{ticket['ticket_id']}/reissue", headers=organizer).json
    assert client.post(f"/api/v1/orders/{pending['id']}/refund", headers=organizer).status_code == 200
    assert client.post(f"/api/v1/orders/{other['id']}/refund", headers=organizer).json["status"] == "cancelled"

    assert _published(engine) == [
        ("order.placed", pending["id"], None, "queued"),
        ("order.paid", free["id"], None, "queued"),
        ("order.placed", other["id"], None, "queued"),
        ("order.paid", pending["id"], None, "queued"),
        ("ticket.reissued", pending["id"], new["ticket_id"], "queued"),
        ("order.refunded", pending["id"], None, "queued"),
        ("order.cancelled", other["id"], None, "queued"),
    ]
    with engine.connect() as conn:
        history = outbox.for_order(conn, pending["id"])
    assert history[0]["data"] == {"payment_method": "box_office", "payment_due_at": pending["payment_due_at"]}
    assert history[2]["data"] == {"replaces": ticket["ticket_id"]}
    assert history[3]["data"] == {
        "revoked": [new["ticket_id"]],
        "amount": pending["total"],
        "refunded": pending["total"],
        "whole": True,
        "order_status": "paid",
    }
    assert {h["event_id"] for h in history} == {event["id"]}


def test_a_refused_change_publishes_nothing(client, organizer, engine):
    event = create_event(client, organizer, rows=1, seats=1)
    order = buy(client, _hold(client, event["id"], seat("A", "1", "1"))).json
    before = _published(engine)
    assert client.post(f"/api/v1/orders/{order['id']}/confirm-payment", headers=organizer).status_code == 409
    assert client.post(f"/api/v1/orders/{order['id']}/refund", headers=organizer).status_code == 200
    assert client.post(f"/api/v1/orders/{order['id']}/refund", headers=organizer).status_code == 409
    assert _published(engine) == [*before, ("order.refunded", order["id"], None, "queued")]


def test_publish_needs_a_known_kind_an_order_and_an_open_transaction(client, organizer, engine):
    event = create_event(client, organizer, rows=1, seats=1)
    order = buy(client, _hold(client, event["id"], seat("A", "1", "1"))).json
    with engine.connect() as conn:
        with pytest.raises(RuntimeError):
            outbox.publish(conn, outbox.ORDER_PAID, order_id=order["id"], now=utcnow())
        with conn.begin():
            with pytest.raises(ValueError):
                outbox.publish(conn, "order.teleported", order_id=order["id"], now=utcnow())
            with pytest.raises(ValueError):
                outbox.publish(conn, outbox.ORDER_PAID, now=utcnow())
            # a kind nobody is mailed about queues no mail
            admitted = outbox.publish(
                conn, outbox.TICKET_ADMITTED, ticket_id=order["tickets"][0]["ticket_id"], now=utcnow()
            )
        row = conn.execute(select(notifications).where(notifications.c.id == admitted)).mappings().one()
        assert (row["order_id"], row["event_id"]) == (order["id"], event["id"])
        assert conn.execute(select(mail_jobs).where(mail_jobs.c.notification_id == admitted)).first() is None


def test_migration_creates_the_outbox_tables_as_described(sqlite_template):
    engine = make_engine(f"sqlite:///{sqlite_template}")
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    engine.dispose()
    ours = {"notifications", "mail_jobs", "orders", "events"}
    assert [d for d in diffs if _table(d) in ours] == []


def _table(diff) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        table = getattr(part, "table", None)
        if table is not None:
            return table.name
        if getattr(part, "name", None) in {"notifications", "mail_jobs"}:
            return part.name
        if isinstance(part, str):
            return part
    return None


def test_a_gate_admission_publishes_ticket_admitted_once(client, organizer, engine):
    event = create_event(client, organizer, rows=1, seats=2)
    order = buy(client, _hold(client, event["id"], seat("A", "1", "1"), seat("A", "1", "2"))).json
    first, second = (t["ticket_id"] for t in order["tickets"])
    gate, other = FakeGate(client, organizer, event["id"], "Gate A"), FakeGate(client, organizer, event["id"], "B")
    admitted = gate.scan(first)
    batch = [admitted, gate.scan(second, verdict="revoked"), gate.scan(999_999)]  # a refusal, a stranger
    assert gate.push(batch).status_code == 200
    assert gate.push(batch).status_code == 200  # a retry stores and publishes nothing new
    assert other.push([other.scan(first, at=admitted["wall_time"] + 1)]).status_code == 200  # a double: not again
    with engine.connect() as conn:
        rows = (
            conn.execute(select(notifications).where(notifications.c.kind == outbox.TICKET_ADMITTED)).mappings().all()
        )
        assert conn.execute(select(mail_jobs).where(mail_jobs.c.notification_id == rows[0]["id"])).first() is None
    [row] = rows
    data = outbox.notification_json(row)
    assert (data["order_id"], data["ticket_id"], data["event_id"]) == (order["id"], first, event["id"])
    assert data["data"]["scan_id"] == admitted["scan_id"] and data["data"]["device_id"] == gate.id
