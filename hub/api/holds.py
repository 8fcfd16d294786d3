"""Holds: lock seats (specific, best available, or GA quantity) for a short time."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..db import get_db
from ..services import holds as hold_service
from ..services import seatmap
from ..services.validate import integer, list_of, obj, string
from ..services.waiting_room import check_admission
from .errors import ApiError
from .util import current_user, json_body

bp = Blueprint("holds", __name__)

# "ticket_type": the seated ticket type chosen for this seat (one on sale that covers its section; default:
# the hold's ticket_type, else the cheapest)
_seat = obj(
    required={"section": string(100, 1), "row": string(20, 1), "seat": string(20, 1)},
    optional={"ticket_type": integer(1)},
)
HOLD_SPEC = obj(
    optional={
        "seats": list_of(_seat, 1000, 1),
        "best_available": obj(required={"count": integer(1, 1000)}, optional={"section": string(100, 1)}),
        "ga": obj(required={"ticket_type": integer(1), "quantity": integer(1, 1000)}),
        "ticket_type": integer(1),
        "ttl_seconds": integer(0, 10**6),
    }
)


@bp.post("/events/<int:event_id>/holds")
def create_hold(event_id: int):
    """Rate-limited per client (HOLD_RATE_LIMIT, see hub/extensions.py); what one client may hold
    at once is capped (HOLD_MAX_SEATS_PER_CLIENT), per API user or else per address. While the event's
    waiting room is on, the admission token from its queue must come in X-Admission-Token."""
    spec = HOLD_SPEC(json_body(), "hold")
    modes = [m for m in ("seats", "best_available", "ga") if m in spec]
    if len(modes) != 1:
        raise ApiError(422, "invalid_hold", "give exactly one of seats, best_available or ga")
    user = current_user()
    common = {
        "ttl_seconds": spec.get("ttl_seconds"),
        **hold_service.client_terms(current_app.config, user and user["id"], request.remote_addr),
    }
    conn = get_db()
    check_admission(conn, event_id, request.headers.get("X-Admission-Token"), current_app.config["SECRET_KEY"])
    if modes == ["seats"]:
        seats, seat_types = _seats(spec["seats"])
        hold = hold_service.hold_seats(
            conn, event_id, seats, ticket_type_id=spec.get("ticket_type"), seat_types=seat_types, **common
        )
    elif modes == ["best_available"]:
        best = spec["best_available"]
        hold = hold_service.hold_best_available(
            conn, event_id, best["count"], section=best.get("section"), ticket_type_id=spec.get("ticket_type"), **common
        )
    else:
        if "ticket_type" in spec:
            raise ApiError(422, "invalid_hold", "for ga holds give the ticket type inside ga")
        hold = hold_service.hold_ga(conn, event_id, spec["ga"]["ticket_type"], spec["ga"]["quantity"], **common)
    seatmap.changed(event_id, hold_id=hold["hold_id"])  # only its seats changed
    return jsonify(hold), 201


def _seats(asked: list[dict]) -> tuple[list[tuple[str, str, str]], dict]:
    """(section, row, seat) of each seat asked for, and the ticket type chosen per seat."""
    seats = [(s["section"], s["row"], s["seat"]) for s in asked]
    return seats, {seat: s["ticket_type"] for seat, s in zip(seats, asked) if "ticket_type" in s}


HOLD_SEATS_SPEC = obj(required={"seats": list_of(_seat, 1000, 1)})


@bp.put("/holds/<int:hold_id>/seats")
def change_seats(hold_id: int):
    """A cart: the live seat hold holds exactly these seats instead (all or nothing; same id, token and
    expiry). Rate-limited and counted against the client's share like a new hold."""
    seats, seat_types = _seats(HOLD_SEATS_SPEC(json_body(), "seats")["seats"])
    user = current_user()
    conn = get_db()
    hold = hold_service.change_seats(
        conn,
        hold_id,
        request.headers.get("X-Hold-Token"),
        seats,
        seat_types=seat_types,
        **hold_service.client_terms(current_app.config, user and user["id"], request.remote_addr),
    )
    seatmap.changed(hold_service.find_hold(conn, hold_id, request.headers.get("X-Hold-Token")).event_id)
    return jsonify(hold)


@bp.get("/holds/<int:hold_id>")
def get_hold(hold_id: int):
    return jsonify(hold_service.get_hold(get_db(), hold_id, request.headers.get("X-Hold-Token")))


@bp.delete("/holds/<int:hold_id>")
def release_hold(hold_id: int):
    token = request.headers.get("X-Hold-Token")
    hold_service.release_hold(get_db(), hold_id, token)
    seatmap.changed(hold_service.find_hold(get_db(), hold_id, token).event_id)
    return "", 204
