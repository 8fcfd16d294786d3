"""Orders that expire (services.orders): an unpaid order has a payment deadline; past it the sweep expires
it, its seats and GA places go back on sale and the buyer is mailed; a payment confirmed later succeeds
only if the places are still free. Clocks are pinned: every step passes its own `now`."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hub.scheduler import sweep_once
from hub.schema import event_seats, orders, tickets
from hub.schema_notifications import mail_jobs, notifications
from hub.schema_web import mail_log
from hub.services import event_admin, holds
from hub.services import orders as order_service
from hub.services.clock import iso, utcnow
from hub.services.errors import Conflict, Invalid
from hub.web.mailing import mail_queue_once

from .helpers import create_event, ga_type

BUYER = {"name": "Ada Lovelace", "email": "ada@example.org"}
DAY = timedelta(days=1)


@pytest.fixture
def t0():
    """The pinned start of each story: a moment in the past, so the event is on sale at every step."""
    return utcnow().replace(microsecond=0) - 4 * DAY


@pytest.fixture
def show(client, organizer, t0):
    """A seated event (one row of 4) with 2 GA places, on sale since before t0, 10 days from now."""
    return create_event(client, organizer, rows=1, seats=4, price=900, ga_capacity=2, release_at=t0 - DAY)


def _signer(app):
    return app.extensions["tickethub.keys"].current()


def _place(app, conn, event, labels=("1",), *, ga=0, at, method="box_office", config=None) -> dict:
    if ga:
        held = holds.hold_ga(conn, event["id"], ga_type(event), ga, now=at)
    else:
        held = holds.hold_seats(conn, event["id"], [("A", "1", label) for label in labels], now=at)
    return order_service.purchase(
        conn, held["hold_id"], held["hold_token"], BUYER, method, _signer(app), now=at, config=config
    )


def _kinds(conn, order_id) -> list[str]:
    return list(
        conn.execute(
            select(notifications.c.kind).where(notifications.c.order_id == order_id).order_by(notifications.c.id)
        ).scalars()
    )


def _seats_of(conn, order_id) -> int:
    return conn.execute(
        select(func.count()).select_from(event_seats).where(event_seats.c.order_id == order_id)
    ).scalar_one()


def test_the_deadline_comes_from_the_event_the_settings_and_the_start(app, client, organizer, engine, show, t0):
    with engine.connect() as conn:
        default = _place(app, conn, show, ["1"], at=t0)
        assert default["payment_due_at"] == iso(t0 + timedelta(minutes=3 * 24 * 60))  # PAYMENT_DEADLINE_BOX_OFFICE
        shorter = _place(app, conn, show, ["2"], at=t0, config={"PAYMENT_DEADLINE_BOX_OFFICE_MINUTES": 90})
        assert shorter["payment_due_at"] == iso(t0 + timedelta(minutes=90))
    with engine.connect() as conn:  # the event's own deadline (an edit, as the organizer's page makes it) wins
        event_admin.update_event(conn, show["id"], {"payment_deadlines": {"box_office": 45}})
        own = _place(app, conn, show, ["3"], at=t0, config={"PAYMENT_DEADLINE_BOX_OFFICE_MINUTES": 90})
        assert own["payment_due_at"] == iso(t0 + timedelta(minutes=45))
        with pytest.raises(Invalid):
            event_admin.update_event(conn, show["id"], {"payment_deadlines": {"box_office": 0}})
    assert client.get(f"/api/v1/events/{show['id']}").json["payment_deadlines"] == {"box_office": 45}
    created = create_event(client, organizer, rows=1, seats=1, payment_deadlines={"card": 10})
    assert created["payment_deadlines"] == {"card": 10}


def test_never_past_the_start_and_no_later_payment_once_it_began(app, client, organizer, engine, t0):
    starts = t0 + timedelta(hours=5)
    event = create_event(client, organizer, rows=1, seats=2, price=900, release_at=t0 - DAY, starts_at=iso(starts))
    with engine.connect() as conn:
        order = _place(app, conn, event, ["1"], at=t0)
        assert order["payment_due_at"] == iso(starts)  # not 3 days: the event starts first
        with pytest.raises(Conflict) as refused:
            _place(app, conn, event, ["2"], at=starts)
        assert refused.value.code == "pay_now_required"


def test_the_sweep_expires_overdue_orders_frees_their_places_and_mails_the_buyer(app, client, engine, show, t0):
    with engine.connect() as conn:
        seated = _place(app, conn, show, ["1", "2"], at=t0)
        standing = _place(app, conn, show, ga=2, at=t0)
        later = _place(app, conn, show, ["3"], at=t0 + 2 * DAY)  # due a day from now: not yet
        due = t0 + 3 * DAY
        assert order_service.expire_overdue(conn, due - timedelta(seconds=1)) == []
    assert mail_queue_once(app) == {"outbox": 3}  # "please pay by"; no SMTP here: kept in the outbox folder
    # the background sweep, at the real time (a day past the deadline)
    assert sweep_once(app) == 2
    assert client.get(f"/api/v1/events/{show['id']}/seats").json["num_available"] == 3
    assert client.get(f"/api/v1/events/{show['id']}").json["ticket_types"][1]["sold"] == 0
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(orders.c.id, orders.c.status)).all())
        assert statuses == {seated["id"]: "expired", standing["id"]: "expired", later["id"]: "pending"}
        assert _kinds(conn, seated["id"]) == ["order.placed", "order.expired"]
        assert _seats_of(conn, seated["id"]) == 0
    assert sweep_once(app) == 0  # once
    assert (
        client.get(f"/api/v1/orders/{seated['id']}?access_token={seated['access_token']}").json["status"] == "expired"
    )

    assert mail_queue_once(app) == {"outbox": 2}
    with engine.connect() as conn:
        kinds = (
            conn.execute(select(mail_log.c.kind).where(mail_log.c.order_id == seated["id"]).order_by(mail_log.c.id))
            .scalars()
            .all()
        )
    assert kinds == ["order_received", "expired"]
    texts = [path.read_text() for path in _outbox(app)]
    assert any("was not paid by" in text and f"order {seated['id']}" in text for text in texts)


def _outbox(app):
    from pathlib import Path

    return list((Path(app.instance_path) / "outbox").glob("*.eml"))


def test_a_late_payment_takes_the_seats_back_only_while_they_are_free(app, engine, show, t0):
    after = t0 + 3 * DAY + timedelta(minutes=1)
    with engine.connect() as conn:
        late = _place(app, conn, show, ["1", "2"], at=t0)
        resold = _place(app, conn, show, ["3", "4"], at=t0)
        assert [o["id"] for o in order_service.expire_overdue(conn, after)] == [late["id"], resold["id"]]
        # someone else buys one of the seats `resold` gave back
        other = _place(app, conn, show, ["4"], at=after)

        paid = order_service.confirm_payment(conn, late["id"], _signer(app), now=after + timedelta(minutes=1))
        assert paid["status"] == "paid"
        assert [(t["seat"]["seat"], t["status"]) for t in paid["tickets"]] == [("1", "valid"), ("2", "valid")]
        assert _seats_of(conn, late["id"]) == 2
        assert _kinds(conn, late["id"]) == ["order.placed", "order.expired", "order.paid"]

        before = _kinds(conn, resold["id"])
        with pytest.raises(Conflict) as taken:
            order_service.confirm_payment(conn, resold["id"], _signer(app), now=after + timedelta(minutes=1))
        assert taken.value.code == "order_expired_places_taken"
        # nothing changed: still expired, seat 3 still free, seat 4 still the other buyer's, no tickets, no mail
        assert order_service.get_order(conn, resold["id"])["status"] == "expired"
        assert _seats_of(conn, resold["id"]) == 0
        assert _seats_of(conn, other["id"]) == 1
        assert _kinds(conn, resold["id"]) == before
        assert (
            conn.execute(
                select(func.count()).select_from(tickets).where(tickets.c.order_id == resold["id"])
            ).scalar_one()
            == 0
        )
        with pytest.raises(Conflict) as closed:
            order_service.refund(conn, resold["id"], now=after)
        assert closed.value.code == "order_closed"


def test_a_late_payment_of_general_admission_needs_free_places(app, engine, show, t0):
    after = t0 + 3 * DAY + timedelta(minutes=1)
    with engine.connect() as conn:
        first = _place(app, conn, show, ga=1, at=t0)
        second = _place(app, conn, show, ga=1, at=t0)
        order_service.expire_overdue(conn, after)
        _place(app, conn, show, ga=1, at=after)  # one of the two places sold again
        assert order_service.confirm_payment(conn, first["id"], _signer(app), now=after)["status"] == "paid"
        with pytest.raises(Conflict) as taken:
            order_service.confirm_payment(conn, second["id"], _signer(app), now=after)
        assert taken.value.code == "order_expired_places_taken"


def test_the_api_answers_409_for_a_late_payment_whose_seats_are_gone(app, client, organizer, engine, show, t0):
    after = t0 + 3 * DAY + timedelta(minutes=1)
    with engine.connect() as conn:
        late = _place(app, conn, show, ["1"], at=t0)
        order_service.expire_overdue(conn, after)
        _place(app, conn, show, ["1"], at=after)
    answer = client.post(f"/api/v1/orders/{late['id']}/confirm-payment", headers=organizer)
    assert answer.status_code == 409 and answer.json["error"]["code"] == "order_expired_places_taken"


RACE_ROUNDS = 6


def test_the_sweep_and_a_payment_racing_never_sell_a_seat_twice(app, engine, show, t0):
    """Sweep, the late payment and another buyer of the same seat, at once: whoever wins, the seat
    belongs to exactly one order, which holds exactly one valid ticket for it."""
    rng = random.Random(13)
    after = t0 + 3 * DAY + timedelta(minutes=1)
    outcomes = set()
    for round_ in range(RACE_ROUNDS):
        label = str(round_ % 4 + 1)
        at = t0 + timedelta(minutes=round_)  # each round's order is overdue at its own `after`
        with engine.connect() as conn:
            late = _place(app, conn, show, [label], at=at)
        now = after + timedelta(minutes=round_)
        barrier = threading.Barrier(3)
        results: dict[str, object] = {}

        def sweep():
            with engine.connect() as conn:
                barrier.wait()
                results["sweep"] = [o["id"] for o in order_service.expire_overdue(conn, now)]

        def pay():
            with engine.connect() as conn:
                barrier.wait()
                try:
                    results["pay"] = order_service.confirm_payment(conn, late["id"], _signer(app), now=now)["status"]
                except Conflict as exc:
                    results["pay"] = exc.code

        def rival():
            with engine.connect() as conn:
                barrier.wait()
                try:
                    results["rival"] = _place(app, conn, show, [label], at=now, method="box_office")["id"]
                except Conflict as exc:
                    results["rival"] = exc.code

        threads = [threading.Thread(target=f) for f in rng.sample([sweep, pay, rival], 3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with engine.connect() as conn:
            outcomes.add((results["pay"], isinstance(results["rival"], int), tuple(_kinds(conn, late["id"]))))
            owners = conn.execute(
                select(event_seats.c.order_id, event_seats.c.status)
                .join(orders, orders.c.id == event_seats.c.order_id)
                .where(event_seats.c.event_id == show["id"], event_seats.c.position == int(label) - 1)
            ).all()
            valid = conn.execute(
                select(func.count())
                .select_from(tickets)
                .where(tickets.c.event_id == show["id"], tickets.c.status == "valid", tickets.c.order_id == late["id"])
            ).scalar_one()
            status = order_service.get_order(conn, late["id"])["status"]
            if results["pay"] == "paid":
                assert status == "paid" and valid == 1 and owners == [(late["id"], "sold")]
                assert results["rival"] == "seats_unavailable"
            else:
                assert results["pay"] == "order_expired_places_taken" and status == "expired" and valid == 0
                assert owners == [(results["rival"], "sold")]
            # clear the seat for the next round
            if status == "paid":
                order_service.refund(conn, late["id"], now=now)
            else:
                order_service.refund(conn, results["rival"], now=now)
            assert conn.execute(select(func.count()).select_from(mail_jobs)).scalar_one() > 0
    placed, expired, paid = "order.placed", "order.expired", "order.paid"
    assert outcomes <= {
        ("paid", False, (placed, paid)),  # paid before the sweep came
        ("paid", False, (placed, expired, paid)),  # swept, then the seat taken back before the rival
        ("order_expired_places_taken", True, (placed, expired)),  # swept and the rival was faster
    }
