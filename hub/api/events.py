"""Venues, events, seat maps and revocation lists."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..db import get_db
from ..services import events as event_service
from ..services import orders as order_service
from ..services import tickets as ticket_service
from ..services import venues as venue_service
from ..services.errors import Forbidden
from ..services.roles import STAFF, owner_scope
from ..services.validate import MAX_INTEGER
from . import seatmap_reads
from .errors import ApiError
from .util import current_user, json_body, query_int, query_time, require_role, signer

bp = Blueprint("events", __name__)


@bp.post("/venues")
@require_role(*STAFF)
def create_venue():
    user = current_user()
    venue = venue_service.create_venue(get_db(), json_body(), owner_id=owner_scope(user) or user["id"])
    return jsonify(venue), 201


@bp.get("/venues")
@require_role(*STAFF)
def list_venues():
    user = current_user()
    return jsonify({"items": venue_service.list_venues(get_db(), owner_scope(user))})


@bp.get("/venues/<int:venue_id>")
@require_role(*STAFF)
def get_venue(venue_id: int):
    venue = venue_service.get_venue(get_db(), venue_id)
    _check_venue_owner(venue)
    return jsonify(venue)


def _check_venue_owner(venue: dict) -> None:
    user = current_user()
    scope = owner_scope(user)  # venues without an owner are shared by every organizer
    if scope is not None and venue["owner_id"] not in (None, scope):
        raise Forbidden(f"venue {venue['id']} belongs to another organizer", "not_your_venue")


@bp.post("/events")
@require_role(*STAFF)
def create_event():
    data = json_body()
    conn = get_db()
    venue_id = data.get("venue_id")
    if isinstance(venue_id, int) and not isinstance(venue_id, bool) and 1 <= venue_id <= MAX_INTEGER:
        _check_venue_owner(venue_service.get_venue(conn, venue_id))  # else create_event names the bad field
    user = current_user()  # a co-organizer's events are their organizer's (roles.owner_scope)
    event = event_service.create_event(conn, data, organizer_id=owner_scope(user) or user["id"])
    return jsonify(event), 201


@bp.get("/events")
def list_events():
    mine = request.args.get("mine", "").lower() in ("1", "true", "yes")
    organizer_id = None
    if mine:
        user = current_user()
        if user is None:
            raise ApiError(401, "unauthorized", "mine=true needs an API token", {"WWW-Authenticate": "Bearer"})
        # an organizer's own (a co-organizer's: their organizer's); anyone else's own is none
        organizer_id = (owner_scope(user) or user["id"]) if user["role"] in STAFF else user["id"]
    result = event_service.list_events(
        get_db(),
        offset=query_int("offset", 0, 0, 10**9),
        limit=query_int("limit", 20, 1, 100),
        sort=request.args.get("sort") or "starts_at",
        q=request.args.get("q") or None,
        category=request.args.get("category") or None,
        starts_from=query_time("from"),
        starts_to=query_time("to"),
        organizer_id=organizer_id,
        public=not mine,  # an organizer's own list has their drafts too (services.event_status)
    )
    return jsonify(result)


@bp.get("/events/<int:event_id>")
def get_event(event_id: int):
    """Anyone: a published, paused or cancelled event; its organizer and admins: a draft too."""
    conn = get_db()
    user = current_user()
    mine = False
    if user is not None and user["role"] in STAFF:
        try:
            event_service.check_owner(conn, event_id, user)
            mine = True
        except Forbidden:
            pass
    return jsonify(event_service.get_event(conn, event_id, public=not mine))


# The public seat-map reads: answered from memory (api/seatmap_reads.py), usually before Flask.
bp.record_once(lambda state: seatmap_reads.install(state.app))


@bp.get("/events/<int:event_id>/seats")
def seat_map(event_id: int):
    """Every seat spelled out (the classic map); the compact one is /seatmap/*."""
    return seatmap_reads.flask_response("seats", event_id)


@bp.get("/events/<int:event_id>/seats/<section>/<row>/<seat>")
def check_seat(event_id: int, section: str, row: str, seat: str):
    found = seatmap_reads.flask_response("seat", event_id, (section, row, seat))
    if found is None:  # which part is unknown (distinct 404 codes), or a seat added a moment ago
        return jsonify(event_service.check_seat(get_db(), event_id, section, row, seat))
    return found


@bp.get("/events/<int:event_id>/seatmap/layout")
def seatmap_layout(event_id: int):
    """Sections, rows, seat labels and indexes, seated ticket types. Asked for with ?v=<its tag> (as the
    status names it) it may be kept for a day: a new layout has a new tag."""
    return seatmap_reads.flask_response("layout", event_id)


@bp.get("/events/<int:event_id>/seatmap/status")
def seatmap_status(event_id: int):
    """One character per seat index (a available, h held, s sold, - not sold at this event) and the version."""
    return seatmap_reads.flask_response("status", event_id)


@bp.get("/events/<int:event_id>/seatmap/changes")
def seatmap_changes(event_id: int):
    """The seats whose status changed since version ``since``, or ``reload: true`` when the client must
    load the whole status again (too far behind, another version sequence, a new layout)."""
    return seatmap_reads.flask_response("changes", event_id)


@bp.get("/events/<int:event_id>/seat-labels")
def seat_labels(event_id: int):
    """Labels where list index == the `seat` number in signed tickets (for gates)."""
    event = event_service.get_event(get_db(), event_id, public=True)
    labels = venue_service.seat_labels(get_db(), event["venue_id"]) if event["venue_id"] else []
    return jsonify({"event_id": event_id, "labels": labels})


@bp.get("/events/<int:event_id>/orders")
@require_role(*STAFF)
def event_orders(event_id: int):
    conn = get_db()
    event_service.check_owner(conn, event_id, current_user())
    return jsonify(
        order_service.list_orders(conn, event_id, query_int("offset", 0, 0, 10**9), query_int("limit", 50, 1, 200))
    )


@bp.get("/events/<int:event_id>/revocations")
def revocations(event_id: int):
    since = query_int("since", 0, 0, 2**62)
    return jsonify(ticket_service.revocations_since(get_db(), event_id, since, signer()))
