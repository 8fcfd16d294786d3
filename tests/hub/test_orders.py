"""Orders and tickets: purchase, idempotency, payment providers, QR, refunds, re-issue, revocations."""

from __future__ import annotations

import io
import time
import unicodedata

import numpy as np
import zxingcpp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
    event = create_event(
        client,
        organizer,
        rows=2,
        seats=4,
        price=2500,
        service_fee=150,
        extra_types=[{"name": "VIP", "kind": "seated", "price": 2500, "zones": [3]}],
    )
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
    assert [(t["seat"]["row"], t["seat"]["seat"], t["seat"]["index"]) for t in tickets] == [
        ("2", "3", 6),
        ("2", "4", 7),
    ]
    ring = keyring(client)
    for ticket in tickets:
        verdict = verify_ticket(ticket["code"], ring, time.time())
        assert verdict.valid, verdict.reason
        assert (verdict.ticket.event_id, verdict.ticket.ticket_id, verdict.ticket.seat) == (
            event["id"],
            ticket["ticket_id"],
            ticket["seat"]["index"],
        )
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
    event = create_event(
        client,
        organizer,
        rows=1,
        seats=1,
        extra_types=[{"name": "Pit", "kind": "ga", "price": 0, "capacity": 10, "zones": [2, 5]}],
    )
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
    # keys are scoped to their hold: the same key with another hold is that hold's own purchase
    other = hold_seats(client, event["id"], seat("A", "1", "2"))
    reused = buy(client, other, **{"Idempotency-Key": "retry-1"})
    assert reused.status_code == 201 and reused.json["id"] != first.json["id"]
    assert reused.json["hold_id"] == other["hold_id"]


def _reveals_nothing(response, order: dict) -> None:
    body = response.get_data(as_text=True)
    assert set(response.json) == {"error"}
    for secret in (
        order["access_token"],
        order["buyer"]["email"],
        order["buyer"]["name"],
        *(t["code"] for t in order["tickets"]),
    ):
        assert secret not in body


def test_a_replay_needs_the_hold_token_and_reveals_nothing_without_it(client, organizer):
    event = create_event(client, organizer, rows=1, seats=3)
    held = hold_seats(client, event["id"], seat("A", "1", "1"))
    victim = client.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": "checkout-1"},
        json={
            "hold_id": held["hold_id"],
            "hold_token": held["hold_token"],
            "buyer": {"name": "Vic Tim", "email": "victim@example.org"},
            "payment": {"method": "free"},
        },
    ).json
    assert victim["tickets"][0]["code"].startswith("TG1:")
    for wrong in ("x", held["hold_token"][:-1], "é" * 5):
        probe = client.post(
            "/api/v1/orders",
            headers={"Idempotency-Key": "checkout-1"},
            json={
                "hold_id": held["hold_id"],
                "hold_token": wrong,
                "buyer": {"name": "Mallory", "email": "m@example.org"},
                "payment": {"method": "free"},
            },
        )
        assert probe.status_code == 403 and probe.json["error"]["code"] == "bad_hold_token"
        _reveals_nothing(probe, victim)
    # the owner's retry still gets the first order back
    again = client.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": "checkout-1"},
        json={
            "hold_id": held["hold_id"],
            "hold_token": held["hold_token"],
            "buyer": {"name": "Vic Tim", "email": "victim@example.org"},
            "payment": {"method": "free"},
        },
    )
    assert again.status_code == 201 and again.json == victim


def test_a_key_someone_else_used_first_does_not_block_a_purchase(client, organizer, engine):
    event = create_event(client, organizer, rows=1, seats=3)
    mallory = buy(client, hold_seats(client, event["id"], seat("A", "1", "1")), **{"Idempotency-Key": "guess-me"})
    assert mallory.status_code == 201
    mine = hold_seats(client, event["id"], seat("A", "1", "2"))
    bought = buy(client, mine, **{"Idempotency-Key": "guess-me"})
    assert bought.status_code == 201, bought.json
    assert bought.json["hold_id"] == mine["hold_id"] and bought.json["id"] != mallory.json["id"]
    with engine.connect() as conn:
        keys = conn.exec_driver_sql("SELECT idempotency_key FROM orders ORDER BY id").scalars().all()
    assert len(set(keys)) == 2 and "guess-me" not in keys  # stored scoped to the hold, not as sent


def test_non_ascii_access_tokens_are_refused_not_a_server_error(client, organizer):
    event = create_event(client, organizer, rows=1, seats=2)
    order = buy(client, hold_seats(client, event["id"], seat("A", "1", "1"))).json
    ticket_id = order["tickets"][0]["ticket_id"]
    for token in ("é", "é" * 40, "☃", order["access_token"] + "é"):
        for path in (
            f"/api/v1/orders/{order['id']}",
            f"/api/v1/tickets/{ticket_id}",
            f"/api/v1/tickets/{ticket_id}/qr.png",
        ):
            response = client.get(path, query_string={"access_token": token})
            assert response.status_code == 403 and response.json["error"]["code"] == "bad_access_token", path
    assert (
        client.get(f"/api/v1/orders/{order['id']}", query_string={"access_token": order["access_token"]}).status_code
        == 200
    )


def test_each_ticket_of_an_order_links_its_own_qr_images(client, organizer):
    """The links are built from one url_for per kind; each must still name its own ticket."""
    event = create_event(client, organizer, rows=1, seats=12)
    order = buy(client, hold_seats(client, event["id"], *[seat("A", "1", str(n)) for n in range(1, 12)])).json
    assert len(order["tickets"]) == 11
    for ticket in order["tickets"]:
        query = f"access_token={order['access_token']}"
        assert ticket["qr_url"] == f"/api/v1/tickets/{ticket['ticket_id']}/qr.png?{query}"
        assert ticket["qr_svg_url"] == f"/api/v1/tickets/{ticket['ticket_id']}/qr.svg?{query}"
    single = client.get(
        f"/api/v1/tickets/{order['tickets'][-1]['ticket_id']}", query_string={"access_token": order["access_token"]}
    ).json
    assert single["qr_url"] == order["tickets"][-1]["qr_url"]


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
    ga_hold = client.post(
        f"/api/v1/events/{event['id']}/holds", json={"ga": {"ticket_type": ga_type(event), "quantity": 2}}
    ).json
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
    good = {
        "hold_id": held["hold_id"],
        "hold_token": held["hold_token"],
        "buyer": {"name": "B", "email": "b@example.org"},
        "payment": {"method": "free"},
    }
    for change, code in (
        ({"hold_id": "1"}, "invalid_field"),
        ({"buyer": {"name": "B"}}, "missing_field"),
        ({"buyer": {"name": "B", "email": "nope"}}, "invalid_email"),
        ({"extra": True}, "unknown_field"),
        ({"hold_id": 999999}, "hold_not_found"),
    ):
        response = client.post("/api/v1/orders", json={**good, **change})
        assert 400 <= response.status_code < 500 and response.json["error"]["code"] == code, change
    assert client.post("/api/v1/orders", json=good).status_code == 201


def test_buyer_names_and_addresses_that_would_break_mail_are_refused(client, organizer, engine):
    event = create_event(client, organizer, rows=1, seats=2)
    held = hold_seats(client, event["id"], seat("A", "1", "1"))
    cases = [
        ({"name": "Ada\r\nBcc: everyone@example.org", "email": "ada@example.org"}, "control_characters"),
        ({"name": "Ada\u2028Lovelace", "email": "ada@example.org"}, "control_characters"),
        ({"name": "Ada", "email": "ada@example.org\r\nBcc: everyone@example.org"}, "invalid_email"),
        ({"name": "Ada", "email": "ada@example.org, bob@example.org"}, "invalid_email"),
        ({"name": "Ada", "email": "Ada <ada@example.org>"}, "invalid_email"),
        ({"name": "Ada", "email": "ada@localhost"}, "invalid_email"),
        ({"name": "Ada", "email": "a" * 65 + "@example.org"}, "invalid_email"),
        ({"name": "Ada", "email": "ada@" + "b" * 64 + ".org"}, "invalid_email"),
        ({"name": "Ada", "email": "jö@example.org"}, "invalid_email"),
    ]
    for buyer, code in cases:
        response = client.post(
            "/api/v1/orders",
            json={
                "hold_id": held["hold_id"],
                "hold_token": held["hold_token"],
                "buyer": buyer,
                "payment": {"method": "free"},
            },
        )
        assert response.status_code == 422 and response.json["error"]["code"] == code, buyer
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar() == 0
    # an internationalised domain is kept in the form mail servers understand
    bought = client.post(
        "/api/v1/orders",
        json={
            "hold_id": held["hold_id"],
            "hold_token": held["hold_token"],
            "buyer": {"name": "Jörg", "email": "joerg@Bücher.example"},
            "payment": {"method": "free"},
        },
    )
    assert bought.status_code == 201 and bought.json["buyer"] == {
        "name": "Jörg",
        "email": "joerg@xn--bcher-kva.example",
    }


_ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=80)
_ADDRESSLIKE = st.one_of(
    st.emails(),
    _ANY_TEXT,
    st.builds(lambda a, b: f"{a}@{b}", _ANY_TEXT, _ANY_TEXT),
    st.builds(lambda e, t: e + t, st.emails(), _ANY_TEXT),
)


@given(name=_ANY_TEXT, email=_ADDRESSLIKE)
@settings(max_examples=400, deadline=None)
def test_any_accepted_buyer_can_be_mailed(name, email):
    from hub import mail
    from hub.services.errors import Invalid
    from hub.services.orders import BUYER_SPEC
    from hub.services.validate import has_control_characters

    try:
        buyer = BUYER_SPEC({"name": name, "email": email}, "buyer")
    except Invalid as exc:
        assert exc.code in ("invalid_field", "control_characters", "invalid_email")
        return
    assert not has_control_characters(buyer["name"] + buyer["email"]) and buyer["email"].isascii()
    message = mail.event_reminder(
        to=buyer["email"],
        buyer_name=buyer["name"],
        order_code="1",
        event_title="Show",
        when="Fri 01 Jan 2027, 20:00 UTC",
        venue="Hall",
        order_url="http://hub.test/o/1",
    )
    assert b"\nBcc:" not in message.as_bytes()


@given(name=_ANY_TEXT, email=_ADDRESSLIKE)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_buyers_never_give_a_server_error_nor_store_control_characters(client, organizer, engine, name, email):
    events = client.get("/api/v1/events?mine=true", headers=organizer).json["items"]  # one for all examples
    event = (
        client.get(f"/api/v1/events/{events[0]['id']}").json
        if events
        else create_event(client, organizer, rows=1, seats=1, ga_capacity=100_000)
    )
    held = client.post(
        f"/api/v1/events/{event['id']}/holds", json={"ga": {"ticket_type": ga_type(event), "quantity": 1}}
    ).json
    response = client.post(
        "/api/v1/orders",
        json={
            "hold_id": held["hold_id"],
            "hold_token": held["hold_token"],
            "buyer": {"name": name, "email": email},
            "payment": {"method": "free"},
        },
    )
    assert response.status_code in (201, 400, 422), response.json
    if response.status_code != 201:
        client.delete(f"/api/v1/holds/{held['hold_id']}", headers={"X-Hold-Token": held["hold_token"]})
        return
    with engine.connect() as conn:
        stored = conn.exec_driver_sql(
            f"SELECT buyer_name, buyer_email FROM orders WHERE id = {int(response.json['id'])}"
        ).one()
    assert not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in stored[0] + stored[1])


def test_without_stripe_keys_card_is_not_offered(client, organizer):
    event = create_event(client, organizer, rows=1, seats=2, price=1000)
    held = hold_seats(client, event["id"], seat("A", "1", "1"))
    response = buy(client, held, method="card")
    assert response.status_code == 422 and response.json["error"]["code"] == "unknown_payment_method"
    assert client.post("/payments/stripe/webhook", data=b"{}").status_code == 404
