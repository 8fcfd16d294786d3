"""The organizer's gate page (/manage/devices): create with QR, rename, reassign, revoke."""

from __future__ import annotations

import base64
import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.services import devices as device_service
from hub.services import users
from tests.hub.helpers import create_event
from tests.hub.web.support import Browser


def login(app, engine, email: str, role: str = "organizer") -> tuple[Browser, dict]:
    with engine.connect() as conn:
        user = users.create_user(conn, email, "correct horse", role)
        _tid, token = users.create_token(conn, user["id"], "t")
    web = Browser(app.test_client())
    web.login(email)
    return web, {"Authorization": f"Bearer {token}"}


def test_organizer_creates_renames_reassigns_and_revokes_a_gate(app, engine, client):
    web, api = login(app, engine, "gates@example.org")
    first = create_event(client, api, rows=1, seats=2)
    second = create_event(client, api, rows=1, seats=2, title="Second Show")
    page = web.get("/manage/devices")
    assert page.status_code == 200 and "No gates yet." in page.get_data(as_text=True)

    created = web.post(
        "/manage/devices", {"name": "Gate North", "event_id": str(first["id"]), "zones": "1, 2", "direction": "entry"}
    )
    html = created.get_data(as_text=True)
    assert created.status_code == 201 and "Gate North" in html
    token = re.search(r"--token (te_[\w-]+)", html).group(1)
    qr = re.search(r'src="(data:image/svg\+xml[^"]+)"', html)
    assert qr is not None
    [device] = device_service.list_devices(engine.connect(), first["id"])
    assert device["zones"] == [1, 2] and device["status"] == "pending"

    moved = web.post(
        f"/manage/devices/{device['id']}",
        {"name": "Gate South", "event_id": str(second["id"]), "zones": "", "direction": "exit"},
    )
    assert moved.status_code == 303
    with engine.connect() as conn:
        after = device_service.get_device(conn, device["id"])
    assert (after["name"], after["event_id"], after["zones"], after["direction"]) == (
        "Gate South",
        second["id"],
        [],
        "exit",
    )
    listing = web.get("/manage/devices").get_data(as_text=True)
    assert "Gate South" in listing and "Second Show" in listing

    bad = web.post(
        f"/manage/devices/{device['id']}",
        {"name": "", "event_id": str(second["id"]), "zones": "x", "direction": "exit"},
    )
    assert bad.status_code == 422 and "must not be empty" in bad.get_data(as_text=True)

    assert web.post(f"/manage/devices/{device['id']}/revoke", {}).status_code == 303
    raw = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    enrol = client.post("/api/v1/enrol", json={"token": token, "public_key": base64.b64encode(raw).decode()})
    assert enrol.status_code == 401
    assert "revoked" in web.get("/manage/devices").get_data(as_text=True)


def test_other_organizers_and_customers_cannot_touch_a_gate(app, engine, client):
    owner_web, api = login(app, engine, "owner@example.org")
    event = create_event(client, api, rows=1, seats=1)
    owner_web.post("/manage/devices", {"name": "Mine", "event_id": str(event["id"]), "zones": "", "direction": "entry"})
    [device] = device_service.list_devices(engine.connect(), event["id"])
    stranger, _ = login(app, engine, "stranger@example.org")
    assert "Mine" not in stranger.get("/manage/devices").get_data(as_text=True)
    assert stranger.post(f"/manage/devices/{device['id']}/revoke", {}).status_code == 403
    customer, _ = login(app, engine, "buyer@example.org", "customer")
    assert customer.get("/manage/devices").status_code == 403
    assert Browser(app.test_client()).get("/manage/devices").status_code == 302  # to the login page


def test_the_gate_list_shows_last_sync_clock_offset_and_backlog(app, engine, client):
    import json
    import time
    from datetime import datetime

    from tests.hub.test_sync import FakeGate

    web, api = login(app, engine, "offsets@example.org")
    event = create_event(client, api, rows=1, seats=2)
    gate = FakeGate(client, api, event["id"], "Gate Ahead", clock_offset=7200)  # two hours ahead
    row = re.compile(rf'<tr data-device="{gate.id}">(.*?)</tr>', re.S)
    before = row.search(web.get("/manage/devices").get_data(as_text=True)).group(1)
    assert "never" in before
    body = json.dumps({"sent_at": gate.now(), "last_rtt_ms": 2, "backlog": 7, "scans": [gate.scan(1)]}).encode()
    assert gate.push([], body=body).status_code == 200
    cells = re.findall(r"<td>(.*?)</td>", row.search(web.get("/manage/devices").get_data(as_text=True)).group(1))
    last_sync, offset, backlog = cells[3], cells[4], cells[5]
    assert abs(datetime.fromisoformat(last_sync.replace("Z", "+00:00")).timestamp() - time.time()) < 600
    assert offset.endswith(" s") and abs(float(offset[:-2]) + 7200) < 5
    assert backlog == "7"
