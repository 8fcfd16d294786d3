"""Outgoing webhook endpoints of an organizer (services.webhooks): register, list, change, remove,
read the delivery log and send a delivery again. Each organizer sees only their own; an admin all."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..db import get_db
from ..services import webhooks
from ..services.clock import utcnow
from ..services.roles import STAFF, owner_scope
from .util import current_user, json_body, query_int, require_role

bp = Blueprint("webhooks", __name__)


def _owner() -> int | None:
    return owner_scope(current_user())


def _allow_private() -> bool:
    return current_app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"]


@bp.post("/webhooks")
@require_role(*STAFF)
def create_endpoint():
    endpoint = webhooks.create_endpoint(
        get_db(), json_body(), current_user()["id"], utcnow(), allow_private=_allow_private()
    )
    return jsonify(endpoint), 201


@bp.get("/webhooks")
@require_role(*STAFF)
def list_endpoints():
    return jsonify({"items": webhooks.list_endpoints(get_db(), _owner())})


@bp.get("/webhooks/<int:endpoint_id>")
@require_role(*STAFF)
def get_endpoint(endpoint_id: int):
    return jsonify(webhooks.get_endpoint(get_db(), endpoint_id, _owner()))


@bp.patch("/webhooks/<int:endpoint_id>")
@require_role(*STAFF)
def update_endpoint(endpoint_id: int):
    endpoint = webhooks.update_endpoint(get_db(), endpoint_id, json_body(), _owner(), allow_private=_allow_private())
    return jsonify(endpoint)


@bp.delete("/webhooks/<int:endpoint_id>")
@require_role(*STAFF)
def delete_endpoint(endpoint_id: int):
    webhooks.delete_endpoint(get_db(), endpoint_id, _owner())
    return "", 204


@bp.get("/webhooks/<int:endpoint_id>/deliveries")
@require_role(*STAFF)
def list_deliveries(endpoint_id: int):
    page = webhooks.deliveries(
        get_db(),
        endpoint_id,
        _owner(),
        offset=query_int("offset", 0, 0, 10**9),
        limit=query_int("limit", webhooks.PAGE, 1, 100),
    )
    return jsonify(page)


@bp.post("/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/send-again")
@require_role(*STAFF)
def send_again(endpoint_id: int, delivery_id: int):
    return jsonify(webhooks.send_again(get_db(), endpoint_id, delivery_id, _owner())), 201
