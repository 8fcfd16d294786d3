"""Gate devices (organizer routes) and gate enrolment (redeems a one-time token)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..db import get_db
from ..services import devices as device_service
from ..services import events as event_service
from ..services import tickets as ticket_service
from ..services.clock import utcnow
from ..services.roles import STAFF
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
    return jsonify({"device": device, "enrolment_token": token,
                    "enrolment_qr_text": enrolment_text(request.host_url, token)}), 201


@bp.get("/devices")
@require_role(*STAFF)
def list_devices():
    user = current_user()
    event_id = query_int("event_id", 0, 0, 2**62) or None
    owner = None if user["role"] == "admin" else user["id"]
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
    return jsonify({
        "device": device,
        "credential": credential,
        "hub_time": now.timestamp(),
        "keyring": keys.keyring_document(),
        "revocations": ticket_service.revocations_since(conn, device["event_id"], 0, signer(), now)["document"],
        "config": device_service.device_config(conn, device),
    }), 201


def _openapi() -> dict:
    from .openapi import INT, OBJ, STR, TIME, _nullable, _op, _path, _query, _record, _resp

    tag = "devices"
    zones = {"type": "array", "maxItems": 16, "items": {"type": "integer", "minimum": 1, "maximum": 16}}
    direction = {"enum": list(device_service.DIRECTIONS)}
    fields = {"name": {"type": "string", "minLength": 1, "maxLength": 100}, "event_id": {"type": "integer", "minimum": 1},
              "zones": zones, "direction": direction}
    device_in = {"type": "object", "additionalProperties": False, "required": ["name", "event_id"], "properties": fields}
    change_in = {"type": "object", "additionalProperties": False, "properties": fields}
    enrol_in = {"type": "object", "required": ["token", "public_key"], "properties": {
        "token": STR, "public_key": {"type": "string", "description": "base64 raw 32-byte Ed25519 public key"}}}
    schema = _record({"id": INT, "name": STR, "event_id": INT, "zones": {"type": "array", "items": INT},
                      "direction": direction, "status": {"enum": ["pending", "active", "revoked"]},
                      "config_version": INT, "created_at": TIME, "enrolled_at": _nullable(TIME),
                      "revoked_at": _nullable(TIME), "last_sync_at": _nullable(TIME),
                      "clock_offset_s": _nullable({"type": "number"}), "last_rtt_ms": _nullable(INT),
                      "backlog": _nullable(INT), "pull_cursor": _nullable(INT)})
    token = _record({"enrolment_token": STR, "enrolment_qr_text": STR})
    device = {"200": _resp("Device", schema)}
    return {
        "/api/v1/devices": {
            "post": _op("Create a gate device; returns its one-time enrolment token",
                        {"201": _resp("Device and token", {**token, "required": ["device", *token["required"]],
                                                           "properties": {"device": schema, **token["properties"]}})},
                        400, 401, 403, 404, 422, body=device_in, auth=True, tag=tag),
            "get": _op("Devices with state, last sync, clock offset and backlog",
                       {"200": _resp("Devices", _record({"items": {"type": "array", "items": schema}}))},
                       400, 401, 403, params=[_query("event_id", {"type": "integer"})], auth=True, tag=tag),
        },
        "/api/v1/devices/{device_id}": {
            "get": _op("One device", device, 401, 403, 404, params=[_path("device_id")], auth=True, tag=tag),
            "patch": _op("Rename or reassign (event, zones, direction)", device, 400, 401, 403, 404, 409, 422,
                         body=change_in, params=[_path("device_id")], auth=True, tag=tag),
        },
        "/api/v1/devices/{device_id}/revoke": {
            "post": _op("Revoke: every later call of the device gets 401", device, 401, 403, 404,
                        params=[_path("device_id")], auth=True, tag=tag),
        },
        "/api/v1/devices/{device_id}/enrolment-token": {
            "post": _op("A new one-time enrolment token", {"201": _resp("Token", token)}, 401, 403, 404, 409,
                        params=[_path("device_id")], auth=True, tag=tag),
        },
        "/api/v1/enrol": {
            "post": _op("A gate redeems its enrolment token with its public key",
                        {"201": _resp("Credential, keyring, revocations, configuration", _record({
                            "device": schema, "credential": STR, "hub_time": {"type": "number"}, "keyring": OBJ,
                            "revocations": OBJ, "config": OBJ}))},
                        400, 401, 422, body=enrol_in, tag=tag),
        },
    }


OPENAPI_PATHS = _openapi()
