"""What was web-only, now in /api/v1 (#13): promo codes, event and ticket type edits, cancelling an
event (two steps: refund, cancel, revoke). The same rules as the manage pages (the same services)."""

from __future__ import annotations

import pytest

from hub.services import promos
from tests.hub.helpers import assert_documented, buy, create_event, ga_type, seat


def _other_organizer(make_user) -> dict:
    return make_user("organizer")[1]


# --- promo codes -------------------------------------------------------------------------------------


def test_promo_codes_are_created_listed_changed_and_deactivated(client, engine, organizer):
    event = create_event(client, organizer, price=2000)
    url = f"/api/v1/events/{event['id']}/promos"
    created = client.post(
        url, json={"code": "spring", "kind": "percent", "value": 20, "max_uses": 5}, headers=organizer
    )
    assert created.status_code == 201, created.json
    assert_documented(client, "post", "/api/v1/events/{event_id}/promos", created)
    promo = created.json
    assert (promo["code"], promo["kind"], promo["value"], promo["max_uses"], promo["used"]) == (
        "SPRING",
        "percent",
        20,
        5,
        0,
    )
    again = client.post(url, json={"code": "SPRING", "kind": "fixed", "value": 100}, headers=organizer)
    assert (again.status_code, again.json["error"]["code"]) == (409, "promo_code_taken")
    listed = client.get(url, headers=organizer)
    assert [p["code"] for p in listed.json["items"]] == ["SPRING"]
    assert_documented(client, "get", "/api/v1/events/{event_id}/promos", listed)

    changed = client.patch(f"{url}/{promo['id']}", json={"value": 30, "max_uses": 2}, headers=organizer)
    assert changed.status_code == 200 and (changed.json["value"], changed.json["max_uses"]) == (30, 2)
    assert_documented(client, "patch", "/api/v1/events/{event_id}/promos/{promo_id}", changed)
    with engine.connect() as conn:
        assert promos.quote(conn, event["id"], "spring", 2000)["discount"] == 600

    ended = client.post(f"{url}/{promo['id']}/deactivate", headers=organizer)
    assert ended.status_code == 200 and ended.json["valid_until"] is not None
    assert_documented(client, "post", "/api/v1/events/{event_id}/promos/{promo_id}/deactivate", ended)
    with engine.connect() as conn, pytest.raises(promos.Conflict) as refused:
        promos.quote(conn, event["id"], "spring", 2000)
    assert refused.value.code == "promo_expired"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"code": "X", "kind": "percent", "value": 10}, "invalid_promo_code"),
        ({"code": "BIG", "kind": "percent", "value": 101}, "invalid_promo_value"),
        ({"code": "ODD", "kind": "half", "value": 10}, "invalid_field"),
        ({"code": "ZERO", "kind": "fixed", "value": 0}, "invalid_field"),
        (
            {
                "code": "BACK",
                "kind": "fixed",
                "value": 5,
                "valid_from": "2031-01-02T00:00:00Z",
                "valid_until": "2031-01-01T00:00:00Z",
            },
            "invalid_promo_window",
        ),
        ({"code": "MORE", "kind": "fixed", "value": 5, "extra": 1}, "unknown_field"),
    ],
)
def test_a_bad_promo_code_is_refused_by_the_rule_the_page_uses(client, organizer, body, code):
    event = create_event(client, organizer)
    refused = client.post(f"/api/v1/events/{event['id']}/promos", json=body, headers=organizer)
    assert (refused.status_code, refused.json["error"]["code"]) == (422, code)
    assert client.get(f"/api/v1/events/{event['id']}/promos", headers=organizer).json["items"] == []


def test_a_promo_change_is_checked_as_a_new_code_is(client, organizer):
    event = create_event(client, organizer)
    url = f"/api/v1/events/{event['id']}/promos"
    promo = client.post(url, json={"code": "TEN", "kind": "percent", "value": 10}, headers=organizer).json
    for body, code in (({"value": 150}, "invalid_promo_value"), ({"kind": "fixed"}, "unknown_field")):
        refused = client.patch(f"{url}/{promo['id']}", json=body, headers=organizer)
        assert (refused.status_code, refused.json["error"]["code"]) == (422, code)
    assert client.get(url, headers=organizer).json["items"] == [promo]


def test_promo_codes_of_another_organizers_event_are_out_of_reach(client, organizer, make_user):
    mine = create_event(client, organizer)
    theirs_headers = _other_organizer(make_user)
    theirs = create_event(client, theirs_headers)
    promo = client.post(
        f"/api/v1/events/{mine['id']}/promos", json={"code": "MINE", "kind": "fixed", "value": 100}, headers=organizer
    ).json
    for method, url, body in (
        ("get", f"/api/v1/events/{mine['id']}/promos", None),
        ("post", f"/api/v1/events/{mine['id']}/promos", {"code": "STEAL", "kind": "fixed", "value": 1}),
        ("patch", f"/api/v1/events/{mine['id']}/promos/{promo['id']}", {"value": 1}),
        ("post", f"/api/v1/events/{mine['id']}/promos/{promo['id']}/deactivate", None),
    ):
        answer = getattr(client, method)(url, json=body, headers=theirs_headers)
        assert (answer.status_code, answer.json["error"]["code"]) == (403, "not_your_event"), url
    # their own event's URL with my promo's id: not found, not changed
    crossed = client.patch(
        f"/api/v1/events/{theirs['id']}/promos/{promo['id']}", json={"value": 1}, headers=theirs_headers
    )
    assert (crossed.status_code, crossed.json["error"]["code"]) == (404, "promo_not_found")
    assert client.post(f"/api/v1/events/{mine['id']}/promos", json={}).status_code == 401
    assert client.get(f"/api/v1/events/{mine['id']}/promos", headers=organizer).json["items"] == [promo]


# --- event and ticket type edits ---------------------------------------------------------------------


def test_an_event_is_edited_through_the_api(client, organizer):
    event = create_event(client, organizer, price=2500)
    url = f"/api/v1/events/{event['id']}"
    changed = client.patch(
        url, json={"title": "  Later Show ", "starts_at": "2031-03-01T19:00:00Z", "currency": "usd"}, headers=organizer
    )
    assert changed.status_code == 200, changed.json
    assert_documented(client, "patch", "/api/v1/events/{event_id}", changed)
    assert (changed.json["title"], changed.json["starts_at"], changed.json["currency"]) == (
        "Later Show",
        "2031-03-01T19:00:00Z",
        "USD",
    )
    for body, status, code in (
        ({"title": ""}, 422, "invalid_field"),
        ({"currency": "EURO"}, 422, "invalid_currency"),
        ({"venue_id": 1}, 422, "unknown_field"),
        ({"service_fee": -1}, 422, "invalid_field"),
    ):
        refused = client.patch(url, json=body, headers=organizer)
        assert (refused.status_code, refused.json["error"]["code"]) == (status, code), body
    assert client.get(url).json == changed.json


def test_the_currency_is_fixed_once_the_event_has_orders(client, organizer):
    event = create_event(client, organizer, price=0)
    held = client.post(f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", "1")]})
    order = buy(client, held.json).json
    assert order["currency"] == "EUR"
    url = f"/api/v1/events/{event['id']}"
    refused = client.patch(url, json={"currency": "JPY"}, headers=organizer)
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "currency_locked")
    assert client.patch(url, json={"currency": "eur", "title": "Same money"}, headers=organizer).status_code == 200
    assert client.get(url).json["currency"] == "EUR"


def test_ticket_types_are_added_and_changed_through_the_api(client, organizer, make_user):
    event = create_event(client, organizer, price=2500, ga_capacity=3)
    url = f"/api/v1/events/{event['id']}/ticket-types"
    added = client.post(url, json={"name": "Balcony", "kind": "ga", "price": 1500, "capacity": 50}, headers=organizer)
    assert added.status_code == 201, added.json
    assert_documented(client, "post", "/api/v1/events/{event_id}/ticket-types", added)
    assert (added.json["name"], added.json["capacity"], added.json["sold"]) == ("Balcony", 50, 0)
    no_capacity = client.post(url, json={"name": "Pit", "kind": "ga", "price": 1}, headers=organizer)
    assert (no_capacity.status_code, no_capacity.json["error"]["code"]) == (422, "missing_field")

    standing = ga_type(event)
    held = client.post(f"/api/v1/events/{event['id']}/holds", json={"ga": {"ticket_type": standing, "quantity": 2}})
    assert buy(client, held.json).status_code == 201
    changed = client.patch(
        f"{url}/{standing}",
        json={"name": "Floor", "price": 1800, "sales_end": "2031-01-01T00:00:00Z"},
        headers=organizer,
    )
    assert changed.status_code == 200, changed.json
    assert_documented(client, "patch", "/api/v1/events/{event_id}/ticket-types/{ticket_type_id}", changed)
    assert (changed.json["name"], changed.json["price"], changed.json["sales_end"]) == (
        "Floor",
        1800,
        "2031-01-01T00:00:00Z",
    )
    seated = event["ticket_types"][0]["id"]
    for type_id, body, status, code in (
        (standing, {"capacity": 1}, 409, "capacity_below_sold"),  # two are sold
        (seated, {"capacity": 10}, 422, "invalid_field"),  # a seated type's capacity is its seats
        (standing, {"sales_start": "2031-02-01T00:00:00Z"}, 422, "invalid_field"),  # after its sales_end
        (standing, {"kind": "seated"}, 422, "unknown_field"),
        (standing, {"price": -1}, 422, "invalid_field"),
        (10**6, {"price": 1}, 404, "ticket_type_not_found"),
    ):
        refused = client.patch(f"{url}/{type_id}", json=body, headers=organizer)
        assert (refused.status_code, refused.json["error"]["code"]) == (status, code), body
    assert client.patch(f"{url}/{standing}", json={"capacity": 2}, headers=organizer).json["capacity"] == 2
    other = _other_organizer(make_user)
    forbidden = client.patch(f"{url}/{standing}", json={"price": 1}, headers=other)
    assert (forbidden.status_code, forbidden.json["error"]["code"]) == (403, "not_your_event")
    assert (
        client.post(url, json={"name": "X", "kind": "ga", "price": 1, "capacity": 1}, headers=other).status_code == 403
    )
    assert [t["price"] for t in client.get(f"/api/v1/events/{event['id']}").json["ticket_types"]] == [2500, 1800, 1500]


# --- cancelling an event -----------------------------------------------------------------------------


def _orders_of_each_kind(client, event: dict, organizer: dict) -> tuple[dict, dict]:
    """A paid order of two seats (box office, then confirmed) and a pending one of one seat."""
    held = client.post(
        f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", "1"), seat("A", "1", "2")]}
    ).json
    paid = buy(client, held, "box_office").json
    paid = client.post(f"/api/v1/orders/{paid['id']}/confirm-payment", headers=organizer).json
    held = client.post(f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "2", "1")]}).json
    pending = buy(client, held, "box_office").json
    assert (paid["status"], pending["status"]) == ("paid", "pending")
    return paid, pending


def test_cancelling_an_event_takes_two_steps_and_refunds_cancels_and_revokes(client, organizer):
    event = create_event(client, organizer, price=2500)
    paid, pending = _orders_of_each_kind(client, event, organizer)
    url = f"/api/v1/events/{event['id']}"
    live_hold = client.post(f"{url}/holds", json={"seats": [seat("A", "3", "1")]}).json

    preview = client.get(f"{url}/cancellation", headers=organizer)
    assert_documented(client, "get", "/api/v1/events/{event_id}/cancellation", preview)
    assert {k: preview.json[k] for k in ("paid_orders", "pending_orders", "valid_tickets", "refund_total")} == {
        "paid_orders": 1,
        "pending_orders": 1,
        "valid_tickets": 2,
        "refund_total": 5000,
    }
    assert "€50.00" in preview.json["consequences"] and "QR codes stop working" in preview.json["consequences"]
    for body in ({}, {"confirm": "test show"}, {"confirm": "yes"}):  # step one: nothing happens, it says what would
        refused = client.post(f"{url}/cancel", json=body, headers=organizer)
        assert (refused.status_code, refused.json["error"]["code"]) == (422, "confirmation_required")
        assert "refunds 1 paid order(s) (€50.00)" in refused.json["error"]["message"]
    assert client.get(url).json["cancelled_at"] is None
    assert client.get(f"/api/v1/orders/{paid['id']}", headers=organizer).json["status"] == "paid"

    done = client.post(f"{url}/cancel", json={"confirm": "Test Show"}, headers=organizer)
    assert done.status_code == 200, done.json
    assert_documented(client, "post", "/api/v1/events/{event_id}/cancel", done)
    assert (done.json["refunded"], done.json["cancelled"]) == ([paid["id"]], [pending["id"]])
    assert done.json["event"]["cancelled_at"] is not None
    after = client.get(f"/api/v1/orders/{paid['id']}", headers=organizer).json
    assert after["status"] == "refunded" and {t["status"] for t in after["tickets"]} == {"revoked"}
    assert client.get(f"/api/v1/orders/{pending['id']}", headers=organizer).json["status"] == "cancelled"
    # gates refuse the tickets: they are on the event's revocation list
    revoked = {r["ticket_id"] for r in client.get(f"{url}/revocations").json["revocations"]}
    assert revoked == {t["ticket_id"] for t in paid["tickets"]}
    # no more sales: neither a new hold nor the hold made before the cancellation
    refused = client.post(f"{url}/holds", json={"seats": [seat("A", "4", "1")]})
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "event_cancelled")
    late = buy(client, live_hold)
    assert late.status_code == 409, late.json
    # once more: nothing left to do, nothing done twice
    again = client.post(f"{url}/cancel", json={"confirm": "Test Show"}, headers=organizer)
    assert (again.status_code, again.json["refunded"], again.json["cancelled"]) == (200, [], [])
    assert client.get(f"{url}/cancellation", headers=organizer).json["paid_orders"] == 0


def test_only_the_events_organizer_or_an_admin_cancels_it(client, organizer, admin, make_user):
    event = create_event(client, organizer)
    url = f"/api/v1/events/{event['id']}"
    other = _other_organizer(make_user)
    for method, path in (("get", "/cancellation"), ("post", "/cancel")):
        answer = getattr(client, method)(url + path, json={"confirm": "Test Show"}, headers=other)
        assert (answer.status_code, answer.json["error"]["code"]) == (403, "not_your_event")
    assert client.post(f"{url}/cancel", json={"confirm": "Test Show"}).status_code == 401
    door, door_headers = make_user("door_staff")
    assert client.post(f"{url}/cancel", json={"confirm": "Test Show"}, headers=door_headers).status_code == 403
    assert client.get(url).json["cancelled_at"] is None
    assert client.post(f"{url}/cancel", json={"confirm": "Test Show"}, headers=admin).status_code == 200


def test_purchases_racing_a_cancellation_end_refused_or_refunded(app, client, engine, organizer):
    """Buyers complete holds while the organizer cancels: once both are done no order of the event is
    paid or pending and no ticket is valid. A purchase under way when the cancellation starts finishes
    first and is refunded with the rest; one after it finds its hold released."""
    import threading

    from hub.services import ServiceError, event_admin, orders

    event = create_event(client, organizer, ga_capacity=1000)  # free: each purchase is paid at once
    standing = ga_type(event)
    held = [
        client.post(f"/api/v1/events/{event['id']}/holds", json={"ga": {"ticket_type": standing, "quantity": 1}}).json
        for _ in range(24)
    ]
    signer = app.extensions["tickethub.keys"].current()
    start = threading.Barrier(5)
    sold, refused, failures = [], [], []

    def buyer(mine: list[dict]) -> None:
        try:
            with engine.connect() as conn:
                start.wait()
                for hold in mine:
                    try:
                        order = orders.purchase(
                            conn,
                            hold["hold_id"],
                            hold["hold_token"],
                            {"name": "B", "email": "b@example.org"},
                            "free",
                            signer,
                        )
                    except ServiceError as exc:
                        refused.append(exc.code)
                    else:
                        sold.append(order["id"])
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=buyer, args=(held[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    with engine.connect() as conn:
        start.wait()
        result = event_admin.cancel_event(conn, event["id"], "Test Show")
    for thread in threads:
        thread.join(60)
    assert failures == [] and len(sold) + len(refused) == len(held)
    assert set(refused) <= {"hold_released", "hold_expired", "event_cancelled"}, refused
    assert sorted(result["refunded"]) == sorted(sold)  # every sale that got through is refunded by the cancel
    with engine.connect() as conn:
        preview = event_admin.cancellation_preview(conn, event["id"])
    assert (preview["paid_orders"], preview["pending_orders"], preview["valid_tickets"]) == (0, 0, 0), (
        len(sold),
        result,
    )


def test_a_hold_made_as_the_event_is_cancelled_buys_nothing(client, engine, organizer):
    """A hold that slipped in while the cancellation was being marked (so the release missed it) still
    cannot become an order: the purchase's price refuses a cancelled event."""
    from hub.services import event_status

    event = create_event(client, organizer, ga_capacity=10)
    seated = client.post(f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", "1")]}).json
    standing = client.post(
        f"/api/v1/events/{event['id']}/holds", json={"ga": {"ticket_type": ga_type(event), "quantity": 1}}
    ).json
    with engine.connect() as conn:  # the cancellation's mark alone, as cancel_event sets it first
        event_status.set_status(conn, event["id"], event_status.CANCELLED)
    for hold in (seated, standing):
        refused = buy(client, hold)
        assert (refused.status_code, refused.json["error"]["code"]) == (409, "event_cancelled")
    assert client.get(f"/api/v1/events/{event['id']}/orders", headers=organizer).json["total"] == 0
