"""Orders and tickets: purchase, idempotency, payment providers, QR, refunds, re-issue, revocations."""
from __future__ import annotations

import io
import time

import numpy as np
import zxingcpp
from PIL import Image

from common.signing import Keyring, RevocationList, verify_ticket

from .helpers import buy, create_event, ga_type, seat


def hold_seats(client, event_id, *seats):
    response = client.post(f"/api/v1/events/{event_id}/holds", json={"seats": list(seats)})
    assert response.status_code == 201, response.json
    return response.json


def keyring(client) -> Keyring:
    return Keyring.from_document(client.get("/api/v1/keyring").json)


def test_purchase_issues_signed_tickets_for_the_held_seats(client, organizer):
    event = create_event(client, organizer, rows=2, seats=4, price=2500, service_fee=150,
                         extra_types=[{"name": "VIP", "kind": "seated", "price": 2500, "zones": [3]}])
    held = hold_seats(client, event["id"], seat("A", "2", "3"), seat("A", "2", "4"))
    response = buy(client, held, method="box_office")
    assert response.status_code == 201
    order = response.json
    assert (order["subtotal"], order["fees"], order["total"]) == (5000, 300, 5300)
    assert order["status"] == "pending" and order["tickets"] == []  # paid at the counter later

    _staff, staff = (None, organizer)
    paid = client.post(f"/api/v1/orders/{order['id']}/confirm-payment", headers=staff)
    assert paid.status_code == 200 and paid.json["status"] == "paid"
    tickets = paid.json["tickets"]
    assert [(t["seat"]["row"], t["seat"]["seat"], t["seat"]["index"]) for t in tickets] == [("2", "3", 6), ("2", "4", 7)]
    ring = keyring(client)
    for ticket in tickets:
        verdict = verify_ticket(ticket["code"], ring, time.time())
        assert verdict.valid, verdict.reason
        assert (verdict.ticket.event_id, verdict.ticket.ticket_id, verdict.ticket.seat) == (
            event["id"], ticket["ticket_id"], ticket["seat"]["index"])
        assert verdict.ticket.ticket_type == ticket["ticket_type_id"]
    again = client.post(f"/api/v1/orders/{order['id']}/confirm-payment", headers=staff)
    assert again.status_code == 409
    assert client.get(f"/api/v1/events/{event['id']}/seats/A/2/3").json["status"] == "sold"


def test_free_orders_are_paid_at_once_and_need_a_zero_total(client, organizer):
    event = create_event(client, organizer, rows=1, seats=2, price=100)
    held = hold_seats(client, event["id"], seat("A", "1", "1"))
    refused = buy(client, held, method="free")
    assert refused.status_code == 422 and refused.json["error"]["code"] == "payment_required"
    unknown = buy(client, held, method="bitcoin")
    assert unknown.status_code == 422 and unknown.json["error"]["code"] == "unknown_payment_method"
    # a refused payment sold nothing: the hold is still live and can be bought
    assert buy(client, held, method="box_office").status_code == 201


def test_ga_order_tickets_carry_zones_and_no_seat(client, organizer):
    event = create_event(client, organizer, rows=1, seats=1, extra_types=[
        {"name": "Pit", "kind": "ga", "price": 0, "capacity": 10, "zones": [2, 5]}])
    pit = ga_type(event)
    held = client.post(f"/api/v1/events/{event['id']}/holds", json={"ga": {"ticket_type": pit, "quantity": 2}}).json
    order = buy(client, held).json
    assert len(order["tickets"]) == 2 and all(t["seat"] is None for t in order["tickets"])
    verdict = verify_ticket(order["tickets"][0]["code"], keyring(client), time.time())
    assert verdict.valid and verdict.ticket.zones == frozenset({2, 5}) and verdict.ticket.seat is None
    assert client.get(f"/api/v1/events/{event['id']}").json["ticket_types"][1]["sold"] == 2


def test_idempotency_key_returns_the_first_order(client, organizer, engine):
    event = create_event(client, organizer, rows=1, seats=3)
    held = hold_seats(client, event["id"], seat("A", "1", "1"))
    first = buy(client, held, **{"Idempotency-Key": "retry-1"})
    second = buy(client, held, **{"Idempotency-Key": "retry-1"})
    assert first.status_code == second.status_code == 201
    assert first.json == second.json
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar() == 1
        assert conn.exec_driver_sql("SELECT count(*) FROM tickets").scalar() == 1
    # without the key, buying the same hold again is a conflict
    assert buy(client, held).json["error"]["code"] == "hold_purchased"
    # the same key for another hold is refused, not silently replayed
    other = hold_seats(client, event["id"], seat("A", "1", "2"))
    reused = buy(client, other, **{"Idempotency-Key": "retry-1"})
    assert reused.status_code == 409 and reused.json["error"]["code"] == "idempotency_key_reused"


def test_qr_png_and_svg_carry_the_ticket_text(client, organizer):
    event = create_event(client, organizer, rows=1, seats=2)
    order = buy(client, hold_seats(client, event["id"], seat("A", "1", "1"))).json
    ticket = order["tickets"][0]
    png = client.get(ticket["qr_url"])
    assert png.status_code == 200 and png.mimetype == "image/png"
    image = np.asarray(Image.open(io.BytesIO(png.data)).convert("L"))
    [decoded] = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert decoded.text == ticket["code"]
    svg = client.get(ticket["qr_svg_url"])
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    # without the order's access token the QR and the order are not shown
    assert client.get(f"/api/v1/tickets/{ticket['ticket_id']}/qr.png").status_code == 403
    assert client.get(f"/api/v1/tickets/{ticket['ticket_id']}/qr.png?access_token=x").status_code == 403
    assert client.get(f"/api/v1/orders/{order['id']}").status_code == 403
    mine = client.get(f"/api/v1/orders/{order['id']}", headers={"X-Order-Token": order["access_token"]})
    assert mine.status_code == 200 and mine.json["tickets"][0]["code"] == ticket["code"]
    assert client.get(f"/api/v1/orders/{order['id']}", headers=organizer).status_code == 200


def test_refund_frees_seats_and_revokes_tickets(client, organizer, make_user):
    event = create_event(client, organizer, rows=1, seats=3, ga_capacity=2)
    order = buy(client, hold_seats(client, event["id"], seat("A", "1", "1"), seat("A", "1", "2"))).json
    ga_hold = client.post(f"/api/v1/events/{event['id']}/holds",
                          json={"ga": {"ticket_type": ga_type(event), "quantity": 2}}).json
    ga_order = buy(client, ga_hold).json
    _bob, bob = make_user("organizer")
    assert client.post(f"/api/v1/orders/{order['id']}/refund").status_code == 401
    assert client.post(f"/api/v1/orders/{order['id']}/refund", headers=bob).status_code == 403

    refunded = client.post(f"/api/v1/orders/{order['id']}/refund", headers=organizer)
    assert refunded.status_code == 200 and refunded.json["status"] == "refunded"
    assert {t["status"] for t in refunded.json["tickets"]} == {"revoked"}
    assert client.get(f"/api/v1/events/{event['id']}/seats").json["num_available"] == 3
    assert client.post(f"/api/v1/orders/{order['id']}/refund", headers=organizer).status_code == 409
    client.post(f"/api/v1/orders/{ga_order['id']}/refund", headers=organizer)
    assert client.get(f"/api/v1/events/{event['id']}").json["ticket_types"][1]["sold"] == 0

    revs = client.get(f"/api/v1/events/{event['id']}/revocations?since=0").json
    revoked_ids = [t["ticket_id"] for t in refunded.json["tickets"] + ga_order["tickets"]]
    assert [r["ticket_id"] for r in revs["revocations"]] == revoked_ids
    seqs = [r["seq"] for r in revs["revocations"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4 and revs["seq"] == seqs[-1]
    # the signed document verifies with the public keyring alone, and lists the same tickets
    signed = RevocationList.from_document(revs["document"], keyring(client))
    assert all(signed.is_revoked(event["id"], t) for t in revoked_ids)
    later = client.get(f"/api/v1/events/{event['id']}/revocations?since={seqs[1]}").json
    assert [r["seq"] for r in later["revocations"]] == seqs[2:]
    assert client.get(f"/api/v1/events/{event['id']}/revocations?since=-1").status_code == 400
    # the freed seats sell again
    assert buy(client, hold_seats(client, event["id"], seat("A", "1", "1"))).status_code == 201


def test_reissue_revokes_the_old_text(client, organizer, make_user):
    event = create_event(client, organizer, rows=1, seats=1)
    old = buy(client, hold_seats(client, event["id"], seat("A", "1", "1"))).json["tickets"][0]
    _bob, bob = make_user("organizer")
    assert client.post(f"/api/v1/tickets/{old['ticket_id']}/reissue", headers=bob).status_code == 403
    response = client.post(f"/api/v1/tickets/{old['ticket_id']}/reissue", headers=organizer)
    assert response.status_code == 201
    new = response.json
    assert new["ticket_id"] != old["ticket_id"] and new["code"] != old["code"]
    assert new["seat"] == old["seat"] and new["replaces_id"] == old["ticket_id"]
    assert verify_ticket(new["code"], keyring(client), time.time()).ticket.ticket_id == new["ticket_id"]
    revs = client.get(f"/api/v1/events/{event['id']}/revocations").json["revocations"]
    assert [(r["ticket_id"], r["reason"]) for r in revs] == [(old["ticket_id"], "reissued")]
    assert client.post(f"/api/v1/tickets/{old['ticket_id']}/reissue", headers=organizer).status_code == 409


def test_orders_require_valid_bodies(client, organizer):
    event = create_event(client, organizer, rows=1, seats=1)
    held = hold_seats(client, event["id"], seat("A", "1", "1"))
    good = {"hold_id": held["hold_id"], "hold_token": held["hold_token"],
            "buyer": {"name": "B", "email": "b@example.org"}, "payment": {"method": "free"}}
    for change, code in (({"hold_id": "1"}, "invalid_field"), ({"buyer": {"name": "B"}}, "missing_field"),
                         ({"buyer": {"name": "B", "email": "nope"}}, "invalid_email"),
                         ({"extra": True}, "unknown_field"), ({"hold_id": 999999}, "hold_not_found")):
        response = client.post("/api/v1/orders", json={**good, **change})
        assert 400 <= response.status_code < 500 and response.json["error"]["code"] == code, change
    assert client.post("/api/v1/orders", json=good).status_code == 201
