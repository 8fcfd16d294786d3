"""Shared parts of the race tests: a sales worker (run in threads or processes) and the invariants.

The worker talks to the services directly with its own engine, like a server
process would; the thread race goes through a real HTTP server instead.
"""

from __future__ import annotations

import random

from sqlalchemy import text

SEATS = [("A", str(row), str(seat)) for row in range(1, 11) for seat in range(1, 11)]  # 100 seats
GA_CAPACITY = 100


def attempt_sale(rng: random.Random, hold_fn, buy_fn, release_fn, change_fn=None) -> tuple[str, list]:
    """One customer: hold something (single seat, adjacent block or GA), then buy it or walk away.
    With `change_fn(hold, seats)` (a cart: the hold's seats changed in place; None when refused), a seat
    hold is changed for one to three random seats half of the time first.

    Returns (outcome, seats bought) where outcome is "sold", "released" or "refused".
    """
    kind = rng.choice(["single", "block", "ga"])
    if kind == "single":
        request = {"seats": [dict(zip(("section", "row", "seat"), rng.choice(SEATS)))]}
    elif kind == "block":
        request = {"best_available": {"count": rng.randint(2, 4)}}
    else:
        request = {"ga": {"quantity": rng.randint(1, 3)}}
    hold = hold_fn(request)
    if hold is None:
        return "refused", []
    if change_fn is not None and hold["kind"] == "seats" and rng.random() < 0.5:
        wanted = [dict(zip(("section", "row", "seat"), s)) for s in rng.sample(SEATS, rng.randint(1, 3))]
        hold = change_fn(hold, wanted) or hold
    if rng.random() < 0.15:
        release_fn(hold)
        return "released", []
    order = buy_fn(hold)
    if order is None:
        return "refused", []
    return "sold", [
        (t["seat"]["section"], t["seat"]["row"], t["seat"]["seat"]) if t["seat"] else ("GA",) for t in order["tickets"]
    ]


def process_worker(
    url: str, keys_dir: str, event_id: int, ga_type_id: int, seed: int, rounds: int, barrier, results
) -> None:
    """Entry point of one racing process: its own engine, the same database."""
    from hub.db import make_engine
    from hub.services import ServiceError, holds, orders
    from hub.services.signing import HubKeys

    engine = make_engine(url, pool_size=2)
    signer = HubKeys(keys_dir).current()
    rng = random.Random(seed)
    outcomes = []
    with engine.connect() as conn:

        def hold_fn(request):
            try:
                if "seats" in request:
                    s = request["seats"][0]
                    return holds.hold_seats(conn, event_id, [(s["section"], s["row"], s["seat"])])
                if "best_available" in request:
                    return holds.hold_best_available(conn, event_id, request["best_available"]["count"])
                return holds.hold_ga(conn, event_id, ga_type_id, request["ga"]["quantity"])
            except ServiceError as exc:
                assert exc.status == 409, exc.message
                return None

        def buy_fn(hold):
            try:
                return orders.purchase(
                    conn, hold["hold_id"], hold["hold_token"], {"name": "P", "email": "p@example.org"}, "free", signer
                )
            except ServiceError as exc:
                assert exc.status == 409, exc.message
                return None

        def release_fn(hold):
            holds.release_hold(conn, hold["hold_id"], hold["hold_token"])

        def change_fn(hold, seats):
            try:
                return holds.change_seats(
                    conn, hold["hold_id"], hold["hold_token"], [(s["section"], s["row"], s["seat"]) for s in seats]
                )
            except ServiceError as exc:
                assert exc.status == 409, exc.message
                return None

        barrier.wait(timeout=60)
        for _ in range(rounds):
            outcomes.append(attempt_sale(rng, hold_fn, buy_fn, release_fn, change_fn))
    engine.dispose()
    results.put(outcomes)


def check_invariants(engine, event_id: int, ga_type_id: int) -> dict:
    """No seat sold twice, counts agree, no order without its tickets. Returns the totals."""
    with engine.connect() as conn:
        q = lambda sql, **kw: conn.execute(text(sql), {"e": event_id, "g": ga_type_id, **kw})  # noqa: E731
        doubles = q(
            "SELECT seat_id FROM tickets WHERE event_id = :e AND seat_id IS NOT NULL AND status = 'valid' "
            "GROUP BY seat_id HAVING count(*) > 1"
        ).all()
        assert doubles == [], f"seats sold twice: {doubles}"
        sold_seats = q("SELECT count(*) FROM event_seats WHERE event_id = :e AND status = 'sold'").scalar()
        seat_tickets = q(
            "SELECT count(*) FROM tickets WHERE event_id = :e AND seat_id IS NOT NULL AND status = 'valid'"
        ).scalar()
        assert sold_seats == seat_tickets
        mismatched = q(
            "SELECT count(*) FROM event_seats s JOIN tickets t ON t.seat_id = s.seat_id "
            "AND t.event_id = s.event_id AND t.status = 'valid' "
            "WHERE s.event_id = :e AND (s.status <> 'sold' OR s.order_id <> t.order_id)"
        ).scalar()
        assert mismatched == 0
        ga_sold, capacity = q("SELECT sold, capacity FROM ticket_types WHERE id = :g").one()
        ga_tickets = q("SELECT count(*) FROM tickets WHERE ticket_type_id = :g AND status = 'valid'").scalar()
        assert ga_sold == ga_tickets <= capacity
        # every order has exactly as many tickets as its hold had seats or GA places
        incomplete = q(
            "SELECT o.id FROM orders o JOIN holds h ON h.id = o.hold_id "
            "LEFT JOIN tickets t ON t.order_id = o.id "
            "WHERE o.event_id = :e GROUP BY o.id, h.quantity HAVING count(t.id) <> h.quantity"
        ).all()
        assert incomplete == [], f"orders without all their tickets: {incomplete}"
        orders = q("SELECT count(*) FROM orders WHERE event_id = :e").scalar()
        purchased = q("SELECT count(*) FROM holds WHERE event_id = :e AND status = 'purchased'").scalar()
        assert orders == purchased
    return {"sold_seats": sold_seats, "ga_sold": ga_sold, "orders": orders}
