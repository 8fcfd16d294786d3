"""Holds: best available adjacent seats, GA quantities, TTL bounds, release time, rate limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.services import holds
from hub.services.clock import iso
from hub.services.errors import Conflict

from .helpers import buy, create_event, ga_type, seat


def best(client, event_id, count, **extra):
    return client.post(f"/api/v1/events/{event_id}/holds", json={"best_available": {"count": count, **extra}})


def test_best_available_picks_adjacent_seats_front_row_centre(client, organizer):
    event = create_event(client, organizer, rows=2, seats=9)
    first = best(client, event["id"], 3)
    assert first.status_code == 201
    assert [(s["row"], s["seat"]) for s in first.json["seats"]] == [("1", "4"), ("1", "5"), ("1", "6")]
    # 3+3 seats left in row 1 on either side: 4 adjacent seats must come from row 2
    second = best(client, event["id"], 4).json["seats"]
    assert {s["row"] for s in second} == {"2"}
    labels = [int(s["seat"]) for s in second]
    assert labels == list(range(labels[0], labels[0] + 4))
    third = best(client, event["id"], 3).json["seats"]
    assert {s["row"] for s in third} == {"1"}


def test_best_available_in_a_section_and_when_none_left(client, organizer):
    event = create_event(client, organizer, rows=1, seats=4, sections=("A", "B"))
    response = best(client, event["id"], 2, section="B")
    assert {s["section"] for s in response.json["seats"]} == {"B"}
    assert best(client, event["id"], 3, section="B").json["error"]["code"] == "seats_unavailable"
    assert best(client, event["id"], 2, section="Q").json["error"]["code"] == "unknown_section"
    assert best(client, event["id"], 4).status_code == 201  # all of section A
    assert best(client, event["id"], 1).status_code == 201
    assert best(client, event["id"], 2).status_code == 409


def test_ga_holds_respect_capacity_and_expire(app, client, organizer):
    from hub.services import holds

    event = create_event(client, organizer, rows=1, seats=1, ga_capacity=5)
    url = f"/api/v1/events/{event['id']}/holds"
    ga = ga_type(event)
    first = client.post(url, json={"ga": {"ticket_type": ga, "quantity": 3}})
    assert first.status_code == 201 and first.json["quantity"] == 3
    too_many = client.post(url, json={"ga": {"ticket_type": ga, "quantity": 3}})
    assert too_many.status_code == 409 and too_many.json["error"]["code"] == "sold_out"
    assert client.post(url, json={"ga": {"ticket_type": ga, "quantity": 2}}).status_code == 201
    assert buy(client, first.json).status_code == 201
    seated_type = event["ticket_types"][0]["id"]
    assert client.post(url, json={"ga": {"ticket_type": seated_type, "quantity": 1}}).status_code == 404
    # an expired GA hold gives its capacity back without a sweep
    with app.extensions["tickethub.engine"].connect() as conn:
        assert holds.ga_available(conn, ga) == 0
        assert holds.ga_available(conn, ga, now=datetime.now(UTC) + timedelta(minutes=11)) == 2


def test_hold_requests_are_validated(client, organizer):
    event = create_event(client, organizer, rows=1, seats=5)
    url = f"/api/v1/events/{event['id']}/holds"
    cases = [
        ({}, 422, "invalid_hold"),
        ({"seats": [seat("A", "1", "1")], "best_available": {"count": 1}}, 422, "invalid_hold"),
        ({"seats": [seat("A", "1", "1"), seat("A", "1", "1")]}, 422, "duplicate_seat"),
        ({"seats": [seat("A", "1", "1")], "ttl_seconds": 5}, 422, "invalid_ttl"),
        ({"seats": [seat("A", "1", "1")], "ttl_seconds": 99999}, 422, "invalid_ttl"),
        ({"best_available": {"count": 0}}, 422, "invalid_field"),
        ({"best_available": {"count": 21}}, 422, "invalid_quantity"),
        ({"seats": [{"section": "A", "row": 1, "seat": "1"}]}, 422, "invalid_field"),
        ({"seats": [seat("A", "1", "1")], "colour": "red"}, 422, "unknown_field"),
    ]
    for body, status, code in cases:
        response = client.post(url, json=body)
        assert (response.status_code, response.json["error"]["code"]) == (status, code), body
    assert client.post("/api/v1/events/999/holds", json={"best_available": {"count": 1}}).status_code == 404
    assert client.get(f"/api/v1/events/{event['id']}/seats").json["num_available"] == 5


def test_ttl_is_configurable_per_request(client, organizer):
    event = create_event(client, organizer, rows=1, seats=2)
    before = datetime.now(UTC)
    response = client.post(
        f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", "1")], "ttl_seconds": 60}
    )
    expires = datetime.fromisoformat(response.json["expires_at"].replace("Z", "+00:00"))
    assert timedelta(seconds=59) < expires - before < timedelta(seconds=62)
    default = client.post(f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", "2")]}).json
    expires = datetime.fromisoformat(default["expires_at"].replace("Z", "+00:00"))
    assert timedelta(seconds=599) < expires - before < timedelta(seconds=602)


def test_no_holds_before_ticket_release(client, organizer):
    event = create_event(client, organizer, rows=1, seats=2, release_at=datetime.now(UTC) + timedelta(days=1))
    response = client.post(f"/api/v1/events/{event['id']}/holds", json={"best_available": {"count": 1}})
    assert response.status_code == 409 and response.json["error"]["code"] == "not_released"


def test_early_bird_price_applies_inside_its_sales_window(client, organizer):
    now = datetime.now(UTC)
    event = create_event(
        client,
        organizer,
        rows=1,
        seats=3,
        price=5000,
        extra_types=[
            {
                "name": "Early bird",
                "kind": "seated",
                "price": 3000,
                "sales_start": iso(now - timedelta(days=1)),
                "sales_end": iso(now + timedelta(days=1)),
            },
            {
                "name": "Last year's early bird",
                "kind": "seated",
                "price": 1000,
                "sales_start": iso(now - timedelta(days=400)),
                "sales_end": iso(now - timedelta(days=300)),
            },
        ],
    )
    regular, early, expired = (t["id"] for t in event["ticket_types"])
    url = f"/api/v1/events/{event['id']}/holds"
    cheapest = client.post(url, json={"seats": [seat("A", "1", "1")]}).json
    assert cheapest["seats"][0]["ticket_type_id"] == early
    chosen = client.post(url, json={"seats": [seat("A", "1", "2")], "ticket_type": regular}).json
    assert chosen["seats"][0]["ticket_type_id"] == regular
    closed = client.post(url, json={"seats": [seat("A", "1", "3")], "ticket_type": expired})
    assert closed.status_code == 409 and closed.json["error"]["code"] == "not_on_sale"
    order = client.post(
        "/api/v1/orders",
        json={
            "hold_id": cheapest["hold_id"],
            "hold_token": cheapest["hold_token"],
            "buyer": {"name": "B", "email": "b@example.org"},
            "payment": {"method": "box_office"},
        },
    ).json
    assert order["subtotal"] == 3000 and order["status"] == "pending"


def test_holds_are_rate_limited_per_client(app, client, organizer):
    app.config["HOLD_RATE_LIMIT"] = "3 per minute"
    event = create_event(client, organizer, rows=1, seats=10)
    url = f"/api/v1/events/{event['id']}/holds"
    statuses = [client.post(url, json={"best_available": {"count": 1}}).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    limited = client.post(url, json={"best_available": {"count": 1}})
    assert limited.json["error"]["code"] == "too_many_requests"
    other = client.post(url, json={"best_available": {"count": 1}}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 201
    assert client.get(f"/api/v1/events/{event['id']}/seats").status_code == 200  # only holds are limited
    assert limited.headers["Retry-After"] and limited.headers["X-RateLimit-Limit"] == "3"


def test_only_rate_limited_endpoints_run_a_limit_check(app):
    """Flask-Limiter's check before every request looks for application-wide and default limits; the
    hub has none, and that check was about 6 % of the hub's CPU in a sell-out. The endpoints' own
    limits are checked by their wrappers (the test above)."""
    limiter = app.extensions["tickethub.limiter"]
    assert limiter._check_request_limit not in app.before_request_funcs.get(None, [])


def test_one_anonymous_client_cannot_hold_a_whole_event(client, organizer):
    """The probe: 20 seats per hold, many holds a minute, held the whole hall. Now a client's live
    holds total at most HOLD_MAX_SEATS_PER_CLIENT (40 by default) tickets."""
    event = create_event(client, organizer, rows=8, seats=28)  # 224 seats, like the demo hall
    url = f"/api/v1/events/{event['id']}/holds"
    answers = [client.post(url, json={"best_available": {"count": 20}}) for _ in range(12)]
    assert [a.status_code for a in answers[:3]] == [201, 201, 429]
    refused = answers[2]
    assert refused.json["error"]["code"] == "hold_limit_reached"
    assert "at most 40 at a time" in refused.json["error"]["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 600  # when the client's first hold runs out
    assert {a.status_code for a in answers[2:]} == {429}
    assert client.get(f"/api/v1/events/{event['id']}/seats").json["num_available"] == 224 - 40
    # not even one more seat
    assert client.post(url, json={"best_available": {"count": 1}}).status_code == 429
    # others are other clients: another address, and a signed-in API user (even from the same address)
    assert (
        client.post(
            url, json={"best_available": {"count": 20}}, environ_base={"REMOTE_ADDR": "203.0.113.9"}
        ).status_code
        == 201
    )
    assert client.post(url, json={"best_available": {"count": 20}}, headers=organizer).status_code == 201
    # releasing or buying a hold frees the share
    first = answers[0].json
    assert (
        client.delete(f"/api/v1/holds/{first['hold_id']}", headers={"X-Hold-Token": first["hold_token"]}).status_code
        == 204
    )
    again = client.post(url, json={"best_available": {"count": 20}})
    assert again.status_code == 201
    assert buy(client, again.json).status_code == 201
    assert client.post(url, json={"best_available": {"count": 20}}).status_code == 201


def test_ga_places_count_against_the_same_share(app, client, organizer):
    app.config["HOLD_MAX_SEATS_PER_CLIENT"] = 5
    event = create_event(client, organizer, rows=1, seats=10, ga_capacity=50)
    url = f"/api/v1/events/{event['id']}/holds"
    assert client.post(url, json={"best_available": {"count": 3}}).status_code == 201
    over = client.post(url, json={"ga": {"ticket_type": ga_type(event), "quantity": 3}})
    assert over.status_code == 429 and over.json["error"]["code"] == "hold_limit_reached"
    assert client.post(url, json={"ga": {"ticket_type": ga_type(event), "quantity": 2}}).status_code == 201
    big = client.post(
        url, json={"ga": {"ticket_type": ga_type(event), "quantity": 6}}, environ_base={"REMOTE_ADDR": "203.0.113.10"}
    )
    assert (
        big.status_code == 429 and big.json["error"]["message"] == "One customer can hold at most 5 tickets at a time."
    )


def test_anonymous_holds_are_short(client, organizer):
    event = create_event(client, organizer, rows=1, seats=4)
    url = f"/api/v1/events/{event['id']}/holds"
    hour = client.post(url, json={"seats": [seat("A", "1", "1")], "ttl_seconds": 3600})
    assert hour.status_code == 422 and hour.json["error"]["code"] == "invalid_ttl"
    assert "between 30 and 900" in hour.json["error"]["message"]
    assert client.post(url, json={"seats": [seat("A", "1", "1")], "ttl_seconds": 900}).status_code == 201
    staff = client.post(url, json={"seats": [seat("A", "1", "2")], "ttl_seconds": 3600}, headers=organizer)
    assert staff.status_code == 201


def test_expired_holds_leave_the_share_without_a_sweep(client, organizer, engine):
    from hub.services import holds
    from hub.services.errors import LimitReached

    event = create_event(client, organizer, rows=1, seats=1, ga_capacity=50)
    policy = holds.HoldPolicy(max_per_client=5)
    now = datetime.now(UTC)
    who = holds.client_identity(None, "198.51.100.1")
    with engine.connect() as conn:
        holds.hold_ga(conn, event["id"], ga_type(event), 3, policy=policy, client=who, now=now)
        try:
            holds.hold_ga(conn, event["id"], ga_type(event), 3, policy=policy, client=who, now=now)
        except LimitReached as exc:
            assert exc.code == "hold_limit_reached" and exc.headers == {"Retry-After": "600"}
        else:
            raise AssertionError("a sixth place was held")
        later = now + timedelta(seconds=601)
        assert (
            holds.hold_ga(conn, event["id"], ga_type(event), 5, policy=policy, client=who, now=later)["quantity"] == 5
        )
        # holds made without a client (the demo data, staff tools) count against nobody
        assert holds.hold_ga(conn, event["id"], ga_type(event), 5, policy=policy, now=later)["quantity"] == 5


def test_client_identity_groups_an_ipv6_64_and_unwraps_mapped_ipv4():
    from hub.services.holds import client_identity

    assert client_identity(7, "192.0.2.1") == "user:7"
    assert client_identity(None, "192.0.2.1") == client_identity(None, "::ffff:192.0.2.1") == "ip:192.0.2.1"
    assert client_identity(None, "2001:db8::1") == client_identity(None, "2001:db8::ffff:1") == "ip:2001:db8::/64"
    assert client_identity(None, "2001:db8:0:1::1") != client_identity(None, "2001:db8::1")
    assert client_identity(None, None) is None


def test_migrations_give_holds_their_client_column_and_index(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    from hub.db import make_engine
    from hub.schema import holds, metadata

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
            columns = {c["name"] for c in inspect(conn).get_columns("holds")}
            indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("holds")}
    finally:
        engine.dispose()
    assert "client" in columns and indexes["ix_holds_client"] == ["client", "status"]
    about_holds = [d for d in diffs if holds in _tables_of(d)]
    assert about_holds == []


def _tables_of(diff) -> set:
    items = diff if isinstance(diff, list) else [diff]
    found = set()
    for item in items:
        for part in item[1:]:
            table = getattr(part, "table", None)
            if table is not None:
                found.add(table)
    return found


def test_a_hold_is_proven_by_its_token_before_its_state_is_told(app, client, organizer):
    """One rule (holds.find_hold / live_hold) for reading, releasing and buying a hold: no such hold is 404,
    a wrong token is 403 whatever the hold's state, and only then is a dead hold 409 with its state."""
    from hub.services import orders
    from hub.services.errors import ServiceError

    event = create_event(client, organizer, rows=1, seats=3)
    now = datetime.now(UTC)
    signer = app.extensions["tickethub.keys"].current()
    buyer = {"name": "B", "email": "b@example.org"}

    def code_of(action) -> str:
        with pytest.raises(ServiceError) as refused:
            action()
        return refused.value.code

    with app.extensions["tickethub.engine"].connect() as conn:
        short = holds.hold_seats(conn, event["id"], [("A", "1", "1")], ttl_seconds=60, now=now)
        hold_id, token = short["hold_id"], short["hold_token"]
        gone = now + timedelta(seconds=60)
        attempts = {
            "live_hold": lambda t, at, i=hold_id: holds.live_hold(conn, i, t, at),
            "get": lambda t, at, i=hold_id: holds.get_hold(conn, i, t, at),
            "release": lambda t, at, i=hold_id: holds.release_hold(conn, i, t, at),
            "purchase": lambda t, at, i=hold_id: orders.purchase(conn, i, t, buyer, "free", signer, now=at),
        }
        for name, attempt in attempts.items():
            assert code_of(lambda: attempt("not-the-token", gone)) == "bad_hold_token", name
            assert code_of(lambda: attempt(None, now)) == "bad_hold_token", name
        assert code_of(lambda: holds.live_hold(conn, hold_id + 99, token, now)) == "hold_not_found"
        assert holds.live_hold(conn, hold_id, token, now).id == hold_id
        assert holds.get_hold(conn, hold_id, token, gone)["status"] == "expired"
        for name in ("live_hold", "release", "purchase"):
            assert code_of(lambda: attempts[name](token, gone)) == "hold_expired", name
        holds.release_hold(conn, hold_id, token, now)
        for name in ("live_hold", "release", "purchase"):
            assert code_of(lambda: attempts[name](token, now)) == "hold_released", name


def test_ga_places_left_count_sales_and_live_holds_but_not_holds_that_ran_out(app, client, organizer):
    from hub.services import orders

    event = create_event(client, organizer, rows=1, seats=1, ga_capacity=6)
    ga = ga_type(event)
    now = datetime.now(UTC)
    with app.extensions["tickethub.engine"].connect() as conn:
        sold = holds.hold_ga(conn, event["id"], ga, 1, now=now)
        orders.purchase(
            conn,
            sold["hold_id"],
            sold["hold_token"],
            {"name": "B", "email": "b@example.org"},
            "free",
            app.extensions["tickethub.keys"].current(),
            now=now,
        )
        holds.hold_ga(conn, event["id"], ga, 2, ttl_seconds=60, now=now - timedelta(minutes=5))  # ran out
        holds.hold_ga(conn, event["id"], ga, 2, now=now)
        assert holds.ga_available(conn, ga, now) == 6 - 1 - 2
        with pytest.raises(Conflict) as refused:
            holds.hold_ga(conn, event["id"], ga, 4, now=now)
        assert (refused.value.code, refused.value.message) == ("sold_out", "only 3 tickets of 'Standing' are available")
        holds.hold_ga(conn, event["id"], ga, 3, now=now)
        assert holds.ga_available(conn, ga, now) == 0
