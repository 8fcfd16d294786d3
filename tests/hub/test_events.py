"""Venues, events, listing, ownership and the seat map."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.services.clock import iso

from .helpers import create_event, grid_venue


def test_venue_from_counts_and_labels(client, organizer):
    body = {
        "name": "Club",
        "sections": [
            {"name": "Floor", "rows": [{"name": "A", "seats": 3}, {"name": "B", "seats": ["101", "102A"]}]},
            {"name": "Box", "rows": [{"name": "1", "seats": ["L", "R"]}]},
        ],
    }
    response = client.post("/api/v1/venues", json=body, headers=organizer)
    assert response.status_code == 201
    venue = response.json
    assert venue["id"] > 0 and venue["num_seats"] == 7
    assert venue["sections"][0]["rows"][0]["seats"] == ["1", "2", "3"]
    assert venue["sections"][0]["rows"][1]["seats"] == ["101", "102A"]
    assert client.get(f"/api/v1/venues/{venue['id']}", headers=organizer).json == venue


@pytest.mark.parametrize(
    "body, code",
    [
        ({"name": "X", "sections": []}, "invalid_field"),
        ({"name": "X", "sections": [{"name": "A", "rows": [{"name": "1", "seats": 0}]}]}, "invalid_field"),
        ({"name": "X", "sections": [{"name": "A", "rows": [{"name": "1", "seats": ["1", "1"]}]}]}, "duplicate_seat"),
        (
            {"name": "X", "sections": [{"name": "A", "rows": [{"name": "1", "seats": 2}, {"name": "1", "seats": 2}]}]},
            "duplicate_row",
        ),
        ({"name": "X", "sections": [{"name": "A", "rows": [{"name": "1", "seats": "2"}]}]}, "invalid_field"),
        ({"name": "X", "sections": [{"name": "A", "rows": [{"name": "1", "seats": 2, "extra": 1}]}]}, "unknown_field"),
        # names are path segments of /seats/{section}/{row}/{seat}: a '/' would make the seat unreachable
        ({"name": "X", "sections": [{"name": "A/B", "rows": [{"name": "1", "seats": 2}]}]}, "invalid_field"),
        ({"name": "X", "sections": [{"name": "A", "rows": [{"name": "1/2", "seats": 2}]}]}, "invalid_field"),
        ({"name": "X", "sections": [{"name": "A", "rows": [{"name": "1", "seats": ["4/5"]}]}]}, "invalid_field"),
    ],
)
def test_bad_venue_is_refused_with_a_reason(client, organizer, body, code):
    response = client.post("/api/v1/venues", json=body, headers=organizer)
    assert response.status_code == 422
    assert response.json["error"]["code"] == code


def test_event_has_ticket_types_and_a_seat_map(client, organizer):
    event = create_event(
        client,
        organizer,
        rows=2,
        seats=3,
        ga_capacity=50,
        service_fee=100,
        extra_types=[{"name": "VIP", "kind": "seated", "price": 9000, "sections": ["A"], "zones": [2, 1]}],
    )
    assert [t["kind"] for t in event["ticket_types"]] == ["seated", "ga", "seated"]
    assert event["ticket_types"][2]["zones"] == [1, 2]
    assert event["ticket_types"][1]["capacity"] == 50 and event["service_fee"] == 100
    assert event["starts_at"].endswith("Z")
    seat_map = client.get(f"/api/v1/events/{event['id']}/seats").json
    assert seat_map["num_available"] == 6
    assert [(s["section"], s["row"], s["seat"], s["index"]) for s in seat_map["seats"][:4]] == [
        ("A", "1", "1", 0),
        ("A", "1", "2", 1),
        ("A", "1", "3", 2),
        ("A", "2", "1", 3),
    ]
    labels = client.get(f"/api/v1/events/{event['id']}/seat-labels").json["labels"]
    assert labels[3] == "Section A, Row 2, Seat 1"
    assert client.get(f"/api/v1/events/{event['id']}").json == event


def test_seated_types_limited_to_sections_sell_only_those_seats(client, organizer):
    venue = client.post("/api/v1/venues", json=grid_venue(1, 2, ("A", "B")), headers=organizer).json
    body = {
        "title": "Only A",
        "starts_at": "2031-01-01T20:00:00Z",
        "venue_id": venue["id"],
        "ticket_types": [{"name": "A seats", "kind": "seated", "price": 0, "sections": ["A"]}],
    }
    event = client.post("/api/v1/events", json=body, headers=organizer).json
    assert {s["section"] for s in client.get(f"/api/v1/events/{event['id']}/seats").json["seats"]} == {"A"}
    body["ticket_types"][0]["sections"] = ["Nope"]
    response = client.post("/api/v1/events", json=body, headers=organizer)
    assert response.status_code == 422 and response.json["error"]["code"] == "unknown_section"


@pytest.mark.parametrize(
    "change, code",
    [
        ({"ticket_types": []}, "invalid_field"),
        ({"starts_at": "tomorrow"}, "invalid_field"),
        ({"ticket_types": [{"name": "GA", "kind": "ga", "price": 0}]}, "missing_field"),
        ({"ticket_types": [{"name": "S", "kind": "seated", "price": -1}]}, "invalid_field"),
        ({"ticket_types": [{"name": "S", "kind": "box", "price": 1}]}, "invalid_field"),
        ({"ticket_types": [{"name": "S", "kind": "seated", "price": 1, "zones": [17]}]}, "invalid_field"),
        (
            {
                "ticket_types": [
                    {
                        "name": "S",
                        "kind": "seated",
                        "price": 1,
                        "sales_start": "2030-01-02T00:00:00Z",
                        "sales_end": "2030-01-01T00:00:00Z",
                    }
                ]
            },
            "invalid_field",
        ),
        ({"venue_id": None}, "missing_field"),
        ({"colour": "red"}, "unknown_field"),
        ({"title": 5}, "invalid_field"),
        # valid ISO 8601 whose UTC time is outside years 1..9999 (the database stores UTC)
        ({"starts_at": "9999-12-31T23:59:59-14:00"}, "invalid_field"),
        ({"ticket_release_at": "0001-01-01T00:00:00+14:00"}, "invalid_field"),
    ],
)
def test_bad_event_is_refused_with_a_reason(client, organizer, change, code):
    venue = client.post("/api/v1/venues", json=grid_venue(1, 2), headers=organizer).json
    body = {
        "title": "T",
        "starts_at": "2031-01-01T20:00:00Z",
        "venue_id": venue["id"],
        "ticket_types": [{"name": "S", "kind": "seated", "price": 0}],
        **change,
    }
    if body.get("venue_id") is None:
        body.pop("venue_id")
    response = client.post("/api/v1/events", json=body, headers=organizer)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == code


@pytest.mark.parametrize(
    "change",
    [
        {"title": "x" * 5000},  # PostgreSQL's column holds 300
        {"title": "   "},
        {"artist": "a" * 301},
        {"category": "c" * 101},
        {"description": "d" * 10_001},
        {"starts_at": "tomorrow"},
        {"ticket_release_at": "0001-01-01T00:00:00+14:00"},
        {"service_fee": -1},
        {"service_fee": True},
    ],
)
def test_an_edit_refuses_what_creating_an_event_refuses(client, engine, organizer, change):
    from hub.services.errors import Invalid
    from hub.services.event_admin import update_event

    event = create_event(client, organizer)
    body = {k: v for k, v in event.items() if k not in ("id", "organizer_id", "ticket_types", "cancelled_at")}
    body["ticket_types"] = [{"name": "S", "kind": "seated", "price": 0}]
    created = client.post("/api/v1/events", json={**body, **change}, headers=organizer)
    assert created.status_code == 422
    with engine.connect() as conn:
        with pytest.raises(Invalid) as refused:
            update_event(conn, event["id"], change)
    assert (refused.value.code, refused.value.message) == (
        created.json["error"]["code"],
        created.json["error"]["message"],
    )
    assert client.get(f"/api/v1/events/{event['id']}").json == event


def test_a_ticket_type_added_later_is_checked_as_one_made_with_the_event(client, engine, organizer):
    from hub.services.errors import Invalid
    from hub.services.event_admin import add_ticket_type

    event = create_event(client, organizer)
    backwards = {
        "name": "Late",
        "kind": "ga",
        "price": 100,
        "capacity": 5,
        "sales_start": "2030-01-02T00:00:00Z",
        "sales_end": "2030-01-01T00:00:00Z",
    }
    with engine.connect() as conn, pytest.raises(Invalid, match="sales_end must be after sales_start"):
        add_ticket_type(conn, event["id"], backwards)
    assert client.get(f"/api/v1/events/{event['id']}").json == event


@pytest.mark.parametrize("price", [-1, 10**9 + 1, True, 12.5])
def test_a_new_price_is_checked_by_the_ticket_type_rule(client, engine, organizer, price):
    from hub.services.errors import Invalid
    from hub.services.event_admin import update_ticket_type

    event = create_event(client, organizer)
    with engine.connect() as conn, pytest.raises(Invalid):
        update_ticket_type(conn, event["id"], event["ticket_types"][0]["id"], {"price": price})
    assert client.get(f"/api/v1/events/{event['id']}").json == event


def test_unknown_venue_is_404(client, organizer):
    body = {
        "title": "T",
        "starts_at": "2031-01-01T20:00:00Z",
        "venue_id": 999,
        "ticket_types": [{"name": "S", "kind": "seated", "price": 0}],
    }
    assert client.post("/api/v1/events", json=body, headers=organizer).status_code == 404


def test_list_events_paginates_sorts_and_filters(client, organizer):
    base = datetime(2031, 3, 1, tzinfo=UTC)
    for i, (title, category) in enumerate(
        [("Cello night", "classical"), ("Arena rock", "rock"), ("Brass band", "classical"), ("Drum solo", "rock")]
    ):
        body = {
            "title": title,
            "category": category,
            "starts_at": iso(base + timedelta(days=i)),
            "artist": "Someone",
            "ticket_types": [{"name": "GA", "kind": "ga", "price": 0, "capacity": 5}],
        }
        assert client.post("/api/v1/events", json=body, headers=organizer).status_code == 201
    page = client.get("/api/v1/events?limit=2&offset=1&sort=starts_at").json
    assert page["total"] == 4 and [e["title"] for e in page["items"]] == ["Arena rock", "Brass band"]
    assert [e["title"] for e in client.get("/api/v1/events?sort=title").json["items"]] == [
        "Arena rock",
        "Brass band",
        "Cello night",
        "Drum solo",
    ]
    assert [e["title"] for e in client.get("/api/v1/events?sort=-starts_at&limit=1").json["items"]] == ["Drum solo"]
    assert [e["title"] for e in client.get("/api/v1/events?category=classical").json["items"]] == [
        "Cello night",
        "Brass band",
    ]
    assert [e["title"] for e in client.get("/api/v1/events?q=BAND").json["items"]] == ["Brass band"]
    window = client.get("/api/v1/events?from=2031-03-02T00:00:00Z&to=2031-03-04T00:00:00Z").json
    assert [e["title"] for e in window["items"]] == ["Arena rock", "Brass band"]
    for bad in (
        "limit=0",
        "limit=x",
        "offset=-1",
        "sort=price",
        "from=yesterday",
        "from=9999-12-31T23:59:59-14:00",
        "to=0001-01-01T00:00:00%2B14:00",
    ):
        response = client.get(f"/api/v1/events?{bad}")
        assert 400 <= response.status_code < 500 and "error" in response.json, bad


def test_search_text_is_literal_not_a_like_pattern(client, organizer):
    for title in ("100% Rock", "1000 Voices", "snake_case live", "snakes and cases"):
        body = {
            "title": title,
            "starts_at": "2031-03-01T20:00:00Z",
            "ticket_types": [{"name": "GA", "kind": "ga", "price": 0, "capacity": 5}],
        }
        assert client.post("/api/v1/events", json=body, headers=organizer).status_code == 201

    def search(q: str) -> list[str]:
        return [e["title"] for e in client.get("/api/v1/events", query_string={"q": q, "sort": "title"}).json["items"]]

    assert search("100%") == ["100% Rock"]
    assert search("snake_") == ["snake_case live"]
    assert search("%") == ["100% Rock"] and search("_") == ["snake_case live"]
    assert search("\\") == []


def test_roles_and_ownership(client, make_user):
    _alice, alice = make_user("organizer")
    _bob, bob = make_user("organizer")
    _staff, staff = make_user("door_staff")
    _carol, customer = make_user("customer")
    _root, admin = make_user("admin")
    event = create_event(client, alice, rows=1, seats=2)

    assert client.post("/api/v1/venues", json=grid_venue()).status_code == 401
    assert client.post("/api/v1/venues", json=grid_venue(), headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/api/v1/venues", json=grid_venue(), headers={"Authorization": "Basic eDp5"}).status_code == 401
    for headers in (staff, customer):
        response = client.post("/api/v1/venues", json=grid_venue(), headers=headers)
        assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert client.get(f"/api/v1/events/{event['id']}/orders", headers=alice).status_code == 200
    assert client.get(f"/api/v1/events/{event['id']}/orders", headers=admin).status_code == 200
    response = client.get(f"/api/v1/events/{event['id']}/orders", headers=bob)
    assert response.status_code == 403 and response.json["error"]["code"] == "not_your_event"
    assert client.get(f"/api/v1/venues/{event['venue_id']}", headers=bob).status_code == 403
    mine = client.get("/api/v1/events?mine=true", headers=bob).json
    assert mine["total"] == 0
    assert client.get("/api/v1/events?mine=true", headers=alice).json["total"] == 1
    assert client.get("/api/v1/events?mine=true").status_code == 401
    assert client.get("/api/v1/me", headers=staff).json["role"] == "door_staff"


def test_revoked_api_token_is_refused(client, engine, make_user):
    from hub.services import users

    user, headers = make_user("organizer")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with engine.connect() as conn:
        [token] = users.list_tokens(conn, user["id"])
        assert users.revoke_token(conn, token["id"])
        stored = conn.exec_driver_sql("SELECT token_hash FROM api_tokens").scalars().all()
    assert headers["Authorization"].split()[1] not in stored  # only the hash is stored
    assert client.get("/api/v1/me", headers=headers).status_code == 401
