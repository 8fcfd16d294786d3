"""Builders for hub tests: venues and events through the real API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.services.clock import iso


def grid_venue(rows: int = 10, seats: int = 10, sections=("A",)) -> dict:
    return {
        "name": "Test Hall",
        "sections": [
            {"name": s, "rows": [{"name": str(r + 1), "seats": seats} for r in range(rows)]} for s in sections
        ],
    }


def create_event(
    client,
    headers,
    *,
    rows: int = 10,
    seats: int = 10,
    sections=("A",),
    price: int = 0,
    ga_capacity: int | None = None,
    ga_price: int = 0,
    release_at: datetime | None = None,
    extra_types: list | None = None,
    **fields,
) -> dict:
    """A seated event (rows x seats per section) plus an optional GA ticket type; returns the event JSON."""
    venue = client.post("/api/v1/venues", json=grid_venue(rows, seats, sections), headers=headers)
    assert venue.status_code == 201, venue.json
    now = datetime.now(UTC)
    types = [{"name": "Seat", "kind": "seated", "price": price}]
    if ga_capacity:
        types.append({"name": "Standing", "kind": "ga", "price": ga_price, "capacity": ga_capacity})
    types += extra_types or []
    body = {
        "title": "Test Show",
        "artist": "Band",
        "location": "Hall",
        "description": "d",
        "category": "concert",
        "starts_at": iso(now + timedelta(days=10)),
        "ticket_release_at": iso(release_at or now - timedelta(hours=1)),
        "venue_id": venue.json["id"],
        "ticket_types": types,
        **fields,
    }
    event = client.post("/api/v1/events", json=body, headers=headers)
    assert event.status_code == 201, event.json
    return event.json


def ga_type(event: dict) -> int:
    return next(t["id"] for t in event["ticket_types"] if t["kind"] == "ga")


def buy(client, hold: dict, method: str = "free", **headers):
    return client.post(
        "/api/v1/orders",
        json={
            "hold_id": hold["hold_id"],
            "hold_token": hold["hold_token"],
            "buyer": {"name": "Buyer", "email": "buyer@example.org"},
            "payment": {"method": method},
        },
        headers=headers,
    )


def seat(section: str, row: str, label: str) -> dict:
    return {"section": section, "row": row, "seat": label}


def assert_documented(client, method: str, path: str, response) -> None:
    """`response` is what GET /api/v1/openapi.json says `method path` answers; schemathesis raises naming
    the first difference otherwise."""
    import schemathesis

    schema = schemathesis.openapi.from_dict(client.get("/api/v1/openapi.json").json)
    schema[path][method.upper()].validate_response(response)
