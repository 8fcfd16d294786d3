"""Rotating the hub's ticket signing key while it runs."""

from __future__ import annotations

import time

from click.testing import CliRunner

from common.signing import Keyring, verify_ticket
from hub.cli import main as tickethub

from .helpers import buy, create_event, seat


def _buy_one(client, event_id, row, label):
    held = client.post(f"/api/v1/events/{event_id}/holds", json={"seats": [seat("A", row, label)]})
    assert held.status_code == 201, held.json
    order = buy(client, held.json)
    assert order.status_code == 201, order.json
    return order.json["tickets"][0]["code"]


def test_new_key_signs_new_tickets_old_ones_verify_until_retired(app, client, organizer):
    event = create_event(client, organizer, rows=1, seats=4)
    old_code = _buy_one(client, event["id"], "1", "1")
    old_kid = verify_ticket(old_code, Keyring.from_document(client.get("/api/v1/keyring").json), time.time()).ticket.kid

    keys_dir = str(app.config["KEYS_DIR"])
    new_kid = CliRunner().invoke(tickethub, ["keys", "new", "--dir", keys_dir]).output.strip()
    assert new_kid != old_kid

    new_code = _buy_one(client, event["id"], "1", "2")
    ring = Keyring.from_document(client.get("/api/v1/keyring").json)
    assert {e.kid for e in ring} == {old_kid, new_kid}
    assert verify_ticket(new_code, ring, time.time()).ticket.kid == new_kid  # the running hub switched
    assert verify_ticket(old_code, ring, time.time()).valid  # old tickets still pass

    retired = CliRunner().invoke(tickethub, ["keys", "retire", "--dir", keys_dir, old_kid])
    assert retired.exit_code == 0, retired.output
    ring = Keyring.from_document(client.get("/api/v1/keyring").json)
    assert verify_ticket(old_code, ring, time.time()).reason.value == "unknown_key"
    assert verify_ticket(new_code, ring, time.time()).valid
