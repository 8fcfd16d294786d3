"""Holds: best available adjacent seats, GA quantities, TTL bounds, release time, rate limit."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hub.services.clock import iso

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
        assert holds.ga_available(conn, ga, now=datetime.now(timezone.utc) + timedelta(minutes=11)) == 2


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
    before = datetime.now(timezone.utc)
    response = client.post(f"/api/v1/events/{event['id']}/holds",
                           json={"seats": [seat("A", "1", "1")], "ttl_seconds": 60})
    expires = datetime.fromisoformat(response.json["expires_at"].replace("Z", "+00:00"))
    assert timedelta(seconds=59) < expires - before < timedelta(seconds=62)
    default = client.post(f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", "2")]}).json
    expires = datetime.fromisoformat(default["expires_at"].replace("Z", "+00:00"))
    assert timedelta(seconds=599) < expires - before < timedelta(seconds=602)


def test_no_holds_before_ticket_release(client, organizer):
    event = create_event(client, organizer, rows=1, seats=2,
                         release_at=datetime.now(timezone.utc) + timedelta(days=1))
    response = client.post(f"/api/v1/events/{event['id']}/holds", json={"best_available": {"count": 1}})
    assert response.status_code == 409 and response.json["error"]["code"] == "not_released"


def test_early_bird_price_applies_inside_its_sales_window(client, organizer):
    now = datetime.now(timezone.utc)
    event = create_event(client, organizer, rows=1, seats=3, price=5000, extra_types=[
        {"name": "Early bird", "kind": "seated", "price": 3000, "sales_start": iso(now - timedelta(days=1)),
         "sales_end": iso(now + timedelta(days=1))},
        {"name": "Last year's early bird", "kind": "seated", "price": 1000,
         "sales_start": iso(now - timedelta(days=400)), "sales_end": iso(now - timedelta(days=300))}])
    regular, early, expired = (t["id"] for t in event["ticket_types"])
    url = f"/api/v1/events/{event['id']}/holds"
    cheapest = client.post(url, json={"seats": [seat("A", "1", "1")]}).json
    assert cheapest["seats"][0]["ticket_type_id"] == early
    chosen = client.post(url, json={"seats": [seat("A", "1", "2")], "ticket_type": regular}).json
    assert chosen["seats"][0]["ticket_type_id"] == regular
    closed = client.post(url, json={"seats": [seat("A", "1", "3")], "ticket_type": expired})
    assert closed.status_code == 409 and closed.json["error"]["code"] == "not_on_sale"
    order = client.post("/api/v1/orders", json={
        "hold_id": cheapest["hold_id"], "hold_token": cheapest["hold_token"],
        "buyer": {"name": "B", "email": "b@example.org"}, "payment": {"method": "box_office"}}).json
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
