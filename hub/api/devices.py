"""Gate devices (organizer routes) and gate enrolment (redeems a one-time token)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..db import get_db
from ..services import devices as device_service
from ..services import events as event_service
from ..services import tickets as ticket_service
from ..services.clock import utcnow
from ..services.roles import STAFF, owner_scope
from ..services.validate import MAX_INTEGER
from .util import current_user, json_body, query_int, require_role, signer

bp = Blueprint("devices", __name__)
ENROL_QR_PREFIX = "TGE1:"


def enrolment_text(hub_url: str, token: str) -> str:
    """What the enrolment QR holds: the token and the hub URL the gate should call."""
    return f"{ENROL_QR_PREFIX}{token}@{hub_url.rstrip('/')}"


def _check_target_event_owner(data: dict) -> None:
    """The organizer must own the event a device is created for or moved to. An event_id
    that is not a storable id is left to the service's validation (422), not the database."""
    event_id = data.get("event_id")
    if isinstance(event_id, int) and not isinstance(event_id, bool) and 1 <= event_id <= MAX_INTEGER:
        event_service.check_owner(get_db(), event_id, current_user())


def _check_device_owner(device_id: int) -> dict:
    conn = get_db()
    device = device_service.get_device(conn, device_id)
    event_service.check_owner(conn, device["event_id"], current_user())
    return device


@bp.post("/devices")
@require_role(*STAFF)
def create_device():
    data = json_body()
    _check_target_event_owner(data)
    device, token = device_service.create_device(get_db(), data)
    return jsonify(
        {"device": device, "enrolment_token": token, "enrolment_qr_text": enrolment_text(request.host_url, token)}
    ), 201


@bp.get("/devices")
@require_role(*STAFF)
def list_devices():
    user = current_user()
    event_id = query_int("event_id", 0, 0, 2**62) or None
    owner = owner_scope(user)
    return jsonify({"items": device_service.list_devices(get_db(), event_id, owner)})


@bp.get("/devices/<int:device_id>")
@require_role(*STAFF)
def get_device(device_id: int):
    return jsonify(_check_device_owner(device_id))


@bp.patch("/devices/<int:device_id>")
@require_role(*STAFF)
def change_device(device_id: int):
    _check_device_owner(device_id)
    data = json_body()
    _check_target_event_owner(data)
    return jsonify(device_service.change_device(get_db(), device_id, data))


@bp.post("/devices/<int:device_id>/revoke")
@require_role(*STAFF)
def revoke_device(device_id: int):
    _check_device_owner(device_id)
    return jsonify(device_service.revoke_device(get_db(), device_id))


@bp.post("/devices/<int:device_id>/enrolment-token")
@require_role(*STAFF)
def new_enrolment_token(device_id: int):
    _check_device_owner(device_id)
    token = device_service.new_enrolment_token(get_db(), device_id)
    return jsonify({"enrolment_token": token, "enrolment_qr_text": enrolment_text(request.host_url, token)}), 201


@bp.post("/enrol")
def enrol():
    """A gate redeems its token with its own public key; it gets everything it needs to run."""
    data = json_body()
    conn = get_db()
    now = utcnow()
    device, credential = device_service.enroll(conn, data.get("token"), data.get("public_key"), now)
    keys = current_app.extensions["tickethub.keys"]
    return jsonify(
        {
            "device": device,
            "credential": credential,
            "hub_time": now.timestamp(),
            "keyring": keys.keyring_document(),
            "revocations": ticket_service.revocations_since(conn, device["event_id"], 0, signer(), now)["document"],
            "config": device_service.device_config(conn, device, signer()),
        }
    ), 201
