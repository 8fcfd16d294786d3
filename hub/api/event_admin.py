"""What an organizer changes on an event after creating it, as on the manage pages: its details,
its ticket types, its promo codes, and cancelling it (refund, revoke, two steps)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..db import get_db
from ..services import event_admin, promos, seatmap
from ..services import events as event_service
from ..services.errors import NotFound
from ..services.roles import STAFF
from ..services.validate import obj, string
from .queue import queue_states
from .util import current_user, json_body, require_role

bp = Blueprint("event_admin", __name__)

# The second step of a cancellation: the event's exact title (the first step, without it, says what happens).
CANCEL_SPEC = obj(optional={"confirm": string(300)})


def _own_event(event_id: int) -> None:
    event_service.check_owner(get_db(), event_id, current_user())


@bp.patch("/events/<int:event_id>")
@require_role(*STAFF)
def update_event(event_id: int):
    _own_event(event_id)
    event_admin.update_event(get_db(), event_id, json_body())
    queue_states(current_app).forget(event_id)  # a waiting room turned on or off applies at once
    return jsonify(event_service.get_event(get_db(), event_id))


@bp.post("/events/<int:event_id>/ticket-types")
@require_role(*STAFF)
def add_ticket_type(event_id: int):
    _own_event(event_id)
    type_id = event_admin.add_ticket_type(get_db(), event_id, json_body())
    seatmap.changed(event_id)  # new seats, another price: the map's layout
    return jsonify(_ticket_type(event_id, type_id)), 201


@bp.patch("/events/<int:event_id>/ticket-types/<int:ticket_type_id>")
@require_role(*STAFF)
def update_ticket_type(event_id: int, ticket_type_id: int):
    _own_event(event_id)
    changed = event_admin.update_ticket_type(get_db(), event_id, ticket_type_id, json_body())
    seatmap.changed(event_id)
    return jsonify(changed)


def _ticket_type(event_id: int, type_id: int) -> dict:
    return next(t for t in event_service.get_event(get_db(), event_id)["ticket_types"] if t["id"] == type_id)


@bp.get("/events/<int:event_id>/promos")
@require_role(*STAFF)
def list_promos(event_id: int):
    _own_event(event_id)
    return jsonify({"items": [promos.promo_json(p) for p in promos.list_promos(get_db(), event_id)]})


@bp.post("/events/<int:event_id>/promos")
@require_role(*STAFF)
def create_promo(event_id: int):
    _own_event(event_id)
    spec = promos.PROMO_SPEC(json_body(), "promo")
    promo = promos.create_promo(
        get_db(),
        event_id,
        spec["code"],
        spec["kind"],
        spec["value"],
        max_uses=spec.get("max_uses"),
        valid_from=spec.get("valid_from"),
        valid_until=spec.get("valid_until"),
    )
    return jsonify(promos.promo_json(promo)), 201


def _event_promo(event_id: int, promo_id: int) -> None:
    _own_event(event_id)
    if promos.get_promo(get_db(), promo_id)["event_id"] != event_id:
        raise NotFound(f"event {event_id} has no promo code {promo_id}", "promo_not_found")


@bp.patch("/events/<int:event_id>/promos/<int:promo_id>")
@require_role(*STAFF)
def update_promo(event_id: int, promo_id: int):
    _event_promo(event_id, promo_id)
    return jsonify(promos.promo_json(promos.update_promo(get_db(), promo_id, json_body())))


@bp.post("/events/<int:event_id>/promos/<int:promo_id>/deactivate")
@require_role(*STAFF)
def deactivate_promo(event_id: int, promo_id: int):
    _event_promo(event_id, promo_id)
    return jsonify(promos.promo_json(promos.deactivate_promo(get_db(), promo_id)))


@bp.get("/events/<int:event_id>/cancellation")
@require_role(*STAFF)
def cancellation_preview(event_id: int):
    """Step one: what cancelling would do now."""
    _own_event(event_id)
    preview = event_admin.cancellation_preview(get_db(), event_id)
    return jsonify({**preview, "consequences": event_admin.cancellation_consequences(preview)})


@bp.post("/events/<int:event_id>/cancel")
@require_role(*STAFF)
def cancel_event(event_id: int):
    """Step two, with {"confirm": "<the event's exact title>"}; without it 422 confirmation_required."""
    _own_event(event_id)
    spec = CANCEL_SPEC(json_body(), "cancellation")
    # No mail from here, as for POST /orders/{id}/refund: buyers are to be mailed where orders.refund
    # records each order's change (the notification outbox), so every channel mails alike.
    result = event_admin.cancel_event(get_db(), event_id, spec.get("confirm"))
    seatmap.changed(event_id)
    return jsonify(result)
