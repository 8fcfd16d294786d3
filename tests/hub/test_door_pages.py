"""The organizer's pages set what the gates enforce (#15): the event's door page (window, time zone, names
at ADMIT, supervisor PIN, ticket types' own validity) and the gate page (re-entry, further events)."""

from __future__ import annotations

from common.pin import check_pin
from hub.services import devices as device_service
from hub.services.events import event_row, get_event
from tests.hub.helpers import create_event
from tests.hub.test_devices_pages import login


def test_the_door_page_sets_window_zone_names_and_pin(app, engine, client):
    web, api = login(app, engine, "door@example.org")
    event = create_event(client, api, rows=1, seats=1, ga_capacity=5)
    page = web.get(f"/manage/events/{event['id']}/door")
    assert page.status_code == 200 and "off (no PIN set)" in page.get_data(as_text=True)
    assert f"/manage/events/{event['id']}/door" in web.get(f"/manage/events/{event['id']}").get_data(as_text=True)

    saved = web.post(
        f"/manage/events/{event['id']}/door",
        {
            "doors_open_at": "2031-05-01T17:30",
            "ends_at": "2031-05-01T23:00",
            "timezone": "Europe/Vienna",
            "door_shows_names": "on",
            "supervisor_pin": "90210",
        },
    )
    assert saved.status_code == 303
    with engine.connect() as conn:
        row = event_row(conn, event["id"])
    assert (row.doors_open_at.isoformat(), row.ends_at.isoformat(), row.timezone) == (
        "2031-05-01T17:30:00+00:00",
        "2031-05-01T23:00:00+00:00",
        "Europe/Vienna",
    )
    assert row.door_shows_names and check_pin("90210", row.supervisor_pin_hash)
    html = web.get(f"/manage/events/{event['id']}/door").get_data(as_text=True)
    assert "90210" not in html and row.supervisor_pin_hash not in html and "Undo and override at the door: on" in html

    # saved again without a PIN: the PIN stays; then removed
    assert web.post(f"/manage/events/{event['id']}/door", {"timezone": "Europe/Vienna"}).status_code == 303
    with engine.connect() as conn:
        row = event_row(conn, event["id"])
    assert row.supervisor_pin_hash and row.doors_open_at is None and not row.door_shows_names
    assert web.post(f"/manage/events/{event['id']}/door", {"clear_pin": "on"}).status_code == 303
    with engine.connect() as conn:
        assert event_row(conn, event["id"]).supervisor_pin_hash is None

    for bad, words in [
        ({"timezone": "Mars/Olympus"}, "not a time zone this system knows"),
        ({"supervisor_pin": "12"}, "must be 4 to 12 digits"),
        ({"doors_open_at": "2031-05-02T10:00", "ends_at": "2031-05-02T09:00"}, "must be after doors_open_at"),
    ]:
        refused = web.post(f"/manage/events/{event['id']}/door", bad)
        assert refused.status_code == 422 and words in refused.get_data(as_text=True)


def test_the_door_page_sets_a_ticket_types_validity(app, engine, client):
    web, api = login(app, engine, "types@example.org")
    event = create_event(client, api, rows=1, seats=1, ga_capacity=5)
    standing = next(t for t in event["ticket_types"] if t["name"] == "Standing")
    url = f"/manage/events/{event['id']}/door/ticket-types/{standing['id']}"
    assert web.post(url, {"valid_from": "2031-05-01T22:00", "valid_until": ""}).status_code == 303
    with engine.connect() as conn:
        [saved] = [t for t in get_event(conn, event["id"])["ticket_types"] if t["id"] == standing["id"]]
    assert (saved["valid_from"], saved["valid_until"]) == ("2031-05-01T22:00:00Z", None)
    refused = web.post(url, {"valid_from": "2031-05-01T22:00", "valid_until": "2031-05-01T21:00"})
    assert refused.status_code == 422 and "valid_until must be after valid_from" in refused.get_data(as_text=True)


def test_only_the_events_organizer_sees_or_changes_its_door(app, engine, client):
    _owner, api = login(app, engine, "owner-door@example.org")
    event = create_event(client, api, rows=1, seats=1)
    stranger, _ = login(app, engine, "stranger-door@example.org")
    assert stranger.get(f"/manage/events/{event['id']}/door").status_code == 403
    assert stranger.post(f"/manage/events/{event['id']}/door", {"supervisor_pin": "1234"}).status_code == 403
    with engine.connect() as conn:
        assert event_row(conn, event["id"]).supervisor_pin_hash is None
    customer, _ = login(app, engine, "buyer-door@example.org", "customer")
    assert customer.get(f"/manage/events/{event['id']}/door").status_code == 403


def test_the_gate_page_sets_re_entry_and_further_events(app, engine, client):
    web, api = login(app, engine, "festival@example.org")
    first = create_event(client, api, rows=1, seats=1)
    second = create_event(client, api, rows=1, seats=1, title="Day Two")
    created = web.post(
        "/manage/devices",
        {
            "name": "Festival gate",
            "event_id": str(first["id"]),
            "reentry": "reentry",
            "more_event_ids": [str(second["id"])],
        },
    )
    assert created.status_code == 201
    [device] = device_service.list_devices(engine.connect(), first["id"])
    assert (device["reentry"], device["more_event_ids"]) == ("reentry", [second["id"]])
    changed = web.post(
        f"/manage/devices/{device['id']}",
        {
            "name": "Festival gate",
            "event_id": str(first["id"]),
            "zones": "",
            "direction": "entry",
            "reentry": "unlimited",
        },
    )
    assert changed.status_code == 303
    with engine.connect() as conn:
        after = device_service.get_device(conn, device["id"])
    assert (after["reentry"], after["more_event_ids"]) == ("unlimited", [])
    refused = web.post(
        f"/manage/devices/{device['id']}",
        {"name": "Festival gate", "event_id": str(first["id"]), "reentry": "sometimes"},
    )
    assert refused.status_code == 422 and "must be one of single, reentry, unlimited" in refused.get_data(as_text=True)
