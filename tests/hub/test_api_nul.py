"""NUL characters anywhere in an API request get a clear 400 on both databases
(PostgreSQL text cannot store them) and nothing is stored."""

from __future__ import annotations

import json

import pytest

from .helpers import create_event, grid_venue


@pytest.mark.parametrize(
    "method, path, body",
    [
        (
            "POST",
            "/api/v1/venues",
            {"name": "Hall\u0000", "sections": [{"name": "A", "rows": [{"name": "1", "seats": 2}]}]},
        ),
        (
            "POST",
            "/api/v1/venues",
            {"name": "Hall", "sections": [{"name": "A", "rows": [{"name": "1", "seats": ["x\u0000"]}]}]},
        ),
        ("POST", "/api/v1/venues", {"name\u0000": "Hall"}),
        ("GET", "/api/v1/events?q=a%00b", None),
        ("GET", "/api/v1/events?category=%00", None),
        ("GET", "/api/v1/events/1/seats/A%00/1/1", None),
        (
            "POST",
            "/api/v1/orders",
            {
                "hold_id": 1,
                "hold_token": "t",
                "buyer": {"name": "\u0000", "email": "a@b.io"},
                "payment": {"method": "free"},
            },
        ),
    ],
)
def test_nul_characters_are_refused_with_a_clear_error(client, organizer, method, path, body):
    before = client.get("/api/v1/events").json
    kwargs = {"json": body} if body is not None else {}
    response = client.open(path, method=method, headers=organizer, **kwargs)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "nul_character"
    assert client.get("/api/v1/events").json == before


def test_nul_in_a_body_with_the_wrong_content_type_is_refused_too(client, organizer):
    response = client.post(
        "/api/v1/venues",
        headers=organizer,
        content_type="text/plain",
        data=json.dumps(grid_venue() | {"name": "Hall\u0000"}),
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "nul_character"


def test_ordinary_text_still_works(client, organizer):
    event = create_event(client, organizer, rows=1, seats=2)
    assert client.get(f"/api/v1/events?q={event['title'][:3]}").status_code == 200


def test_lone_surrogates_are_refused_with_a_clear_error(client, organizer):
    """JSON may spell a lone UTF-16 surrogate ("\\ud800"); no database can store one."""
    event = create_event(client, organizer, rows=1, seats=2)
    before = client.get(f"/api/v1/events/{event['id']}/seats").json
    for path, raw in [
        (f"/api/v1/events/{event['id']}/holds", '{"seats": [{"section": "A", "row": "1", "seat": "\\ud800"}]}'),
        (
            "/api/v1/venues",
            '{"name": "Hall \\udfff", "sections": [{"name": "A", "rows": [{"name": "1", "seats": 2}]}]}',
        ),
    ]:
        response = client.post(path, data=raw, content_type="application/json", headers=organizer)
        assert response.status_code == 400, path
        assert response.json["error"]["code"] == "invalid_text"
    assert client.get(f"/api/v1/events/{event['id']}/seats").json == before
    # a real (paired) astral character is fine
    venue = client.post(
        "/api/v1/venues",
        headers=organizer,
        data='{"name": "Hall \\ud83c\\udfb5", "sections": [{"name": "A", "rows": [{"name": "1", "seats": 1}]}]}',
        content_type="application/json",
    )
    assert venue.status_code == 201 and venue.json["name"] == "Hall \U0001f3b5"
