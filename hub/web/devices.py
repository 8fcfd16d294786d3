"""/manage/devices: list gates with state, last sync, clock offset and backlog; create
(one-time enrolment token and QR), rename, reassign, new token, revoke."""

from __future__ import annotations

import segno
from flask import g, redirect, render_template, request, url_for

from common.protocol import DEFAULT_DIRECTION, DEFAULT_REENTRY, REENTRY_POLICIES

from ..api.devices import enrolment_text
from ..db import get_db
from ..services import devices as device_service
from ..services import events as event_service
from ..services.errors import ServiceError
from ..services.roles import STAFF, owner_scope
from . import pages_blueprint
from .auth import roles

bp = pages_blueprint("devices_pages", __name__, url_prefix="/manage/devices")


def _scope() -> int | None:
    return owner_scope(g.user)


def _form_zones(raw: str | None) -> list:
    parts = [p.strip() for p in (raw or "").replace(" ", ",").split(",") if p.strip()]
    try:
        return [int(p) for p in parts]
    except ValueError:
        return parts  # the service refuses them with a clear message


def _form_events(values: list[str]) -> list:
    try:
        return [int(v) for v in values if v]
    except ValueError:
        return values  # the service refuses them with a clear message


def _door_fields(form) -> dict:
    """Re-entry policy and the further events a gate serves, as the page's forms send them."""
    return {
        "reentry": form.get("reentry", DEFAULT_REENTRY),
        "more_event_ids": _form_events(form.getlist("more_event_ids")),
    }


def _page(message: str | None = None, enrolment: dict | None = None, status: int = 200):
    conn = get_db()
    events = event_service.list_events(conn, limit=100, organizer_id=_scope())["items"]
    titles = {e["id"]: e["title"] for e in events}
    devices = device_service.list_devices(conn, organizer_id=_scope())
    return render_template(
        "devices/list.html",
        devices=devices,
        events=events,
        titles=titles,
        message=message,
        enrolment=enrolment,
        reentry_policies=REENTRY_POLICIES,
    ), status


def _owned_device(device_id: int) -> dict:
    conn = get_db()
    device = device_service.get_device(conn, device_id)
    event_service.check_owner(conn, device["event_id"], g.user)
    return device


def _enrolment(device: dict, token: str) -> dict:
    text = enrolment_text(request.host_url, token)
    return {
        "device": device,
        "token": token,
        "text": text,
        "qr": segno.make(text, error="m").svg_data_uri(scale=5, border=4),
    }


@bp.get("")
@roles(*STAFF)
def index():
    return _page()


@bp.post("")
@roles(*STAFF)
def create():
    form = request.form
    try:
        event_id = int(form.get("event_id", ""))
        event_service.check_owner(get_db(), event_id, g.user)
        device, token = device_service.create_device(
            get_db(),
            {
                "name": form.get("name", ""),
                "event_id": event_id,
                "zones": _form_zones(form.get("zones")),
                "direction": form.get("direction", DEFAULT_DIRECTION),
                **_door_fields(form),
            },
        )
    except ValueError:
        return _page("Choose an event.", status=422)
    except ServiceError as exc:
        return _page(exc.message, status=exc.status)
    return _page(f"Gate “{device['name']}” created.", _enrolment(device, token), 201)


@bp.post("/<int:device_id>")
@roles(*STAFF)
def change(device_id: int):
    form = request.form
    try:
        _owned_device(device_id)
        changes: dict = {
            "name": form.get("name", ""),
            "direction": form.get("direction", DEFAULT_DIRECTION),
            "zones": _form_zones(form.get("zones")),
            **_door_fields(form),
        }
        if form.get("event_id"):
            changes["event_id"] = int(form["event_id"])
            event_service.check_owner(get_db(), changes["event_id"], g.user)
        device_service.change_device(get_db(), device_id, changes)
    except ValueError:
        return _page("Choose an event.", status=422)
    except ServiceError as exc:
        return _page(exc.message, status=exc.status)
    return redirect(url_for(".index"), 303)


@bp.post("/<int:device_id>/token")
@roles(*STAFF)
def token(device_id: int):
    try:
        device = _owned_device(device_id)
        new = device_service.new_enrolment_token(get_db(), device_id)
    except ServiceError as exc:
        return _page(exc.message, status=exc.status)
    return _page(f"New enrolment token for “{device['name']}”.", _enrolment(device, new))


@bp.post("/<int:device_id>/revoke")
@roles(*STAFF)
def revoke(device_id: int):
    try:
        _owned_device(device_id)
        device_service.revoke_device(get_db(), device_id)
    except ServiceError as exc:
        return _page(exc.message, status=exc.status)
    return redirect(url_for(".index"), 303)
