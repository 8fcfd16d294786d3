"""/manage/events/<id>/door: what the event's gates enforce, set by its organizer: doors-open and end
times, the time zone the door shows times in, names at ADMIT, the supervisor PIN for undo and override,
and each ticket type's own validity. Gates pull every change with their configuration."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import flash, g, redirect, render_template, request, url_for

from ..db import get_db
from ..services import event_admin
from ..services.errors import ServiceError
from ..services.events import check_owner, door_json, event_row, get_event
from ..services.roles import STAFF
from . import pages_blueprint
from .auth import roles

bp = pages_blueprint("event_door", __name__, url_prefix="/manage/events")


def _when(raw: str | None) -> str | None:
    """A datetime-local field (UTC, as every organizer form) as ISO 8601; empty: None (clears)."""
    if not raw or not raw.strip():
        return None
    try:
        return datetime.fromisoformat(raw.strip()).replace(tzinfo=UTC).isoformat()
    except ValueError:
        return raw  # the service refuses it by name


def _page(event_id: int, status: int = 200):
    conn = get_db()
    return render_template(
        "manage/event_door.html", event=get_event(conn, event_id), door=door_json(event_row(conn, event_id))
    ), status


@bp.get("/<int:event_id>/door")
@roles(*STAFF)
def door(event_id: int):
    check_owner(get_db(), event_id, g.user)
    return _page(event_id)


@bp.post("/<int:event_id>/door")
@roles(*STAFF)
def save(event_id: int):
    check_owner(get_db(), event_id, g.user)
    form = request.form
    settings = {
        "doors_open_at": _when(form.get("doors_open_at")),
        "ends_at": _when(form.get("ends_at")),
        "timezone": form.get("timezone", "").strip() or None,
        "door_shows_names": form.get("door_shows_names") == "on",
    }
    if form.get("clear_pin") == "on":
        settings["supervisor_pin"] = None
    elif form.get("supervisor_pin"):
        settings["supervisor_pin"] = form["supervisor_pin"]
    try:
        event_admin.set_door_settings(get_db(), event_id, settings)
    except ServiceError as exc:
        flash(exc.message, "error")
        return _page(event_id, exc.status)
    flash("Door settings saved; the gates pick them up at their next sync.", "success")
    return redirect(url_for(".door", event_id=event_id), 303)


@bp.post("/<int:event_id>/door/ticket-types/<int:type_id>")
@roles(*STAFF)
def type_validity(event_id: int, type_id: int):
    check_owner(get_db(), event_id, g.user)
    validity = {
        "valid_from": _when(request.form.get("valid_from")),
        "valid_until": _when(request.form.get("valid_until")),
    }
    try:
        event_admin.set_ticket_type_validity(get_db(), event_id, type_id, validity)
    except ServiceError as exc:
        flash(exc.message, "error")
        return _page(event_id, exc.status)
    flash("Ticket type validity saved.", "success")
    return redirect(url_for(".door", event_id=event_id), 303)
