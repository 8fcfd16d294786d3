"""Orders and tickets: buy a hold, fetch tickets and their QR codes, refund, re-issue."""

from __future__ import annotations

import io

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from common.signing.qr import make_qr

from ..db import get_db
from ..services import events as event_service
from ..services import orders as order_service
from ..services import seatmap
from ..services import staff as staff_service
from ..services import tickets as ticket_service
from ..services.roles import DOOR, DOOR_STAFF, STAFF
from ..services.users import get_user
from ..services.validate import integer, obj, string
from .util import current_user, json_body, payment_providers, require_role, signer

bp = Blueprint("orders", __name__)

ORDER_SPEC = obj(
    required={
        "hold_id": integer(1),
        "hold_token": string(200, 1),
        "buyer": order_service.BUYER_SPEC,
        "payment": obj(required={"method": string(40, 1)}),
    }
)


# optional body of a refund: an amount (minor units) gives back part of a paid card order
REFUND_SPEC = obj(optional={"amount": integer(1)})


def _with_urls(order: dict) -> dict:
    add_links = _qr_links(order["access_token"])
    for ticket in order["tickets"]:
        add_links(ticket)
    return order


def _ticket_urls(ticket: dict, access_token: str | None) -> dict:
    return _qr_links(access_token)(ticket)


_ANY_TICKET = 2**63 - 1  # an id the route accepts, in the path url_for builds once; each ticket's replaces it


def _qr_links(access_token: str | None):
    """A function that adds a ticket's QR image links (qr_url, qr_svg_url) to it. url_for runs once per
    link kind, not once per ticket and kind: that was about 4 % of a sale's CPU."""
    args = {"access_token": access_token} if access_token else {}
    marker = f"/{_ANY_TICKET}/"
    png, svg = (
        url_for(endpoint, ticket_id=_ANY_TICKET, **args).split(marker, 1)
        for endpoint in ("api.orders.ticket_qr_png", "api.orders.ticket_qr_svg")
    )

    def add(ticket: dict) -> dict:
        in_path = f"/{ticket['ticket_id']}/"
        ticket["qr_url"], ticket["qr_svg_url"] = in_path.join(png), in_path.join(svg)
        return ticket

    return add


@bp.post("/orders")
def create_order():
    spec = ORDER_SPEC(json_body(), "order")
    order = order_service.purchase(
        get_db(),
        spec["hold_id"],
        spec["hold_token"],
        spec["buyer"],
        spec["payment"]["method"],
        signer(),
        idempotency_key=request.headers.get("Idempotency-Key"),
        config=current_app.config,
        providers=payment_providers(),
    )
    seatmap.changed(order["event_id"], hold_id=order["hold_id"])  # the hold's seats are sold
    return jsonify(_with_urls(order)), 201


def _order_access(order_id: int) -> None:
    """The buyer (order access token) or staff of the event may read an order."""
    conn = get_db()
    token = request.headers.get("X-Order-Token") or request.args.get("access_token")
    user = current_user()
    if user is not None and not token:
        _staff_order(order_id)
        return
    order_service.check_access(conn, order_id, token)


def _staff_order(order_id: int) -> dict:
    """The order, when the user works at its event's door (door staff: their organizer's events) or owns it."""
    conn = get_db()
    user = current_user()
    order = order_service.get_order(conn, order_id)
    if user["role"] == DOOR_STAFF:  # the token's user row has the organizer they work for
        staff_service.check_door(
            conn, order["event_id"], get_user(conn, user["id"]), current_app.config["SINGLE_TENANT"]
        )
    else:
        event_service.check_owner(conn, order["event_id"], user)
    return order


@bp.get("/orders/<int:order_id>")
def get_order(order_id: int):
    _order_access(order_id)
    return jsonify(_with_urls(order_service.get_order(get_db(), order_id)))


def _owned_order(order_id: int) -> dict:
    conn = get_db()
    order = order_service.get_order(conn, order_id)
    event_service.check_owner(conn, order["event_id"], current_user())
    return order


@bp.post("/orders/<int:order_id>/refund")
@require_role(*STAFF)
def refund_order(order_id: int):
    _owned_order(order_id)
    spec = REFUND_SPEC(json_body(), "refund") if request.content_length else {}
    order = order_service.refund(get_db(), order_id, amount=spec.get("amount"), providers=payment_providers())
    seatmap.changed(order["event_id"])
    return jsonify(_with_urls(order))


@bp.post("/orders/<int:order_id>/confirm-payment")
@require_role(*DOOR)
def confirm_payment(order_id: int):
    _staff_order(order_id)
    order = order_service.confirm_payment(get_db(), order_id, signer())
    seatmap.changed(order["event_id"])  # an expired order may have taken its seats back
    return jsonify(_with_urls(order))


def _ticket_access(ticket_id: int) -> dict:
    ticket = ticket_service.get_ticket(get_db(), ticket_id)
    _order_access(ticket["order_id"])
    return ticket


@bp.get("/tickets/<int:ticket_id>")
def get_ticket(ticket_id: int):
    return jsonify(_ticket_urls(_ticket_access(ticket_id), request.args.get("access_token")))


@bp.get("/tickets/<int:ticket_id>/qr.png")
def ticket_qr_png(ticket_id: int):
    buffer = io.BytesIO()
    make_qr(_ticket_access(ticket_id)["code"]).save(buffer, kind="png", scale=_scale())
    return Response(buffer.getvalue(), mimetype="image/png", headers={"Cache-Control": "private, no-store"})


@bp.get("/tickets/<int:ticket_id>/qr.svg")
def ticket_qr_svg(ticket_id: int):
    buffer = io.BytesIO()
    make_qr(_ticket_access(ticket_id)["code"]).save(buffer, kind="svg", scale=_scale())
    return Response(buffer.getvalue(), mimetype="image/svg+xml", headers={"Cache-Control": "private, no-store"})


def _scale() -> int:
    from .util import query_int

    return query_int("scale", 8, 1, 40)


@bp.post("/tickets/<int:ticket_id>/reissue")
@require_role(*STAFF)
def reissue_ticket(ticket_id: int):
    conn = get_db()
    ticket = ticket_service.get_ticket(conn, ticket_id)
    event_service.check_owner(conn, ticket["event_id"], current_user())
    return jsonify(_ticket_urls(ticket_service.reissue_ticket(conn, ticket_id, signer()), None)), 201
