"""Gate sync (device credential) and the organizer's attendance and scan export."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from common.protocol import COUNT_MAX, DEVICE_TIME_HEADER, LAST_RTT_HEADER, PEER_PORT_HEADER, SIGNATURE_HEADER

from ..db import get_db
from ..services import attendance as attendance_service
from ..services import events as event_service
from ..services import sync as sync_service
from ..services.clock import utcnow
from ..services.devices import DeviceAuthError, device_for_credential, note_peer_address, verify_push_signature
from ..services.live import notifier_for
from ..services.roles import STAFF
from .errors import ApiError
from .util import current_user, query_int, require_role, signer

bp = Blueprint("sync", __name__)


def current_device() -> dict:
    """The device of the request's bearer credential; 401 (with a precise code) otherwise."""
    if "device" not in g:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            token = ""
        try:
            g.device = device_for_credential(get_db(), token.strip())
        except DeviceAuthError as exc:
            exc.headers = {"WWW-Authenticate": "Bearer"}
            raise
    return g.device


def _header_number(name: str, cast=float, most: float = 1e12):
    """A timing header: a finite number in [0, most] (the devices table stores it)."""
    raw = request.headers.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = cast(raw)
    except ValueError:
        raise ApiError(400, "invalid_header", f"{name} must be a number") from None
    if not 0 <= value <= most:  # also refuses nan and inf
        raise ApiError(400, "invalid_header", f"{name} must be a number between 0 and {most:g}")
    return value


@bp.post("/sync/push")
def push():
    # the clock offset is measured against the time the request arrived, not after
    # the body was read, verified and validated (that would skew it under load)
    received = utcnow()
    device = current_device()
    body = request.get_data(cache=True)
    verify_push_signature(device, body, request.headers.get(SIGNATURE_HEADER, ""))
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "the request body must be a JSON object")
    batch = sync_service.parse_push(data)
    ack = sync_service.ingest(get_db(), device, batch, received)
    # committed: wake the live dashboards of the events this batch touched (and the gate's own);
    # refused scans touched nothing (e.g. another organizer's event)
    refused = {r["scan_id"] for r in ack["rejected"]}
    if not batch["scans"]:
        return jsonify(ack)  # an idle gate's heartbeat: the dashboards' tick shows it online, no ping needed
    notifier_for(current_app).publish(
        {device["event_id"], *(s["event_id"] for s in batch["scans"] if s["event_id"] and s["scan_id"] not in refused)}
    )
    return jsonify(ack)


@bp.get("/sync/pull")
def pull():
    received = utcnow()
    device = current_device()
    peer_port = _header_number(PEER_PORT_HEADER, int, 65535)
    if peer_port is not None:  # where its peers reach it: the request's address (ProxyFix: the client's); 0: nowhere
        device = note_peer_address(get_db(), device, request.remote_addr, peer_port)
    result = sync_service.pull(
        get_db(),
        device,
        cursor=query_int("cursor", 0, 0, 2**62),
        revocation_seq=query_int("revocation_seq", 0, 0, 2**62),
        keyring_seq=query_int("keyring_seq", 0, 0, 2**62),
        config_version=query_int("config_version", 0, 0, 2**31),
        roster_seq=query_int("roster_seq", 0, 0, 2**62),
        limit=query_int("limit", sync_service.PULL_LIMIT, 1, sync_service.PULL_LIMIT),
        signer=signer(),
        keyring_doc=current_app.extensions["tickethub.keys"].keyring_document(),
        device_sent_at=_header_number(DEVICE_TIME_HEADER),
        now=received,
        last_rtt_ms=_header_number(LAST_RTT_HEADER, int, COUNT_MAX),
    )
    return jsonify(result)


@bp.get("/events/<int:event_id>/attendance")
@require_role(*STAFF)
def attendance(event_id: int):
    event_service.check_owner(get_db(), event_id, current_user())
    return jsonify(attendance_service.attendance(get_db(), event_id))


@bp.get("/events/<int:event_id>/scans")
@require_role(*STAFF)
def scans(event_id: int):
    event_service.check_owner(get_db(), event_id, current_user())
    return jsonify(
        attendance_service.export_scans(
            get_db(), event_id, query_int("since", 0, 0, 2**62), query_int("limit", 1000, 1, 10_000)
        )
    )
