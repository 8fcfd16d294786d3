"""An event's waiting room (hub/services/waiting_room.py): join the queue, ask for your status, be let
in, and the queue's public state. A queue ticket travels in the X-Queue-Ticket header; holds of an
event whose waiting room is on need the admission token in X-Admission-Token (api/holds.py)."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request

from ..db import get_db
from ..extensions import take_one
from ..services import waiting_room
from ..services.clock import utcnow
from ..services.holds import client_identity
from .errors import ApiError

bp = Blueprint("queue", __name__)
TICKET_HEADER = "X-Queue-Ticket"
ADMISSION_HEADER = "X-Admission-Token"


@bp.record_once
def _keep_queue_states(setup) -> None:
    queue_states(setup.app)


def queue_states(app: Flask) -> waiting_room.QueueStates:
    """The process's copy of every queue's state (one per app)."""
    states = app.extensions.get("tickethub.queue_states")
    if states is None:
        states = app.extensions["tickethub.queue_states"] = waiting_room.QueueStates(app.extensions["tickethub.engine"])
    return states


def joined_too_often(app: Flask, address: str | None) -> int | None:
    """Seconds to wait when this address took more new places than QUEUE_JOIN_RATE_LIMIT allows
    (an IPv6 /64 counts as one address, as for holds), else None. Pages and API share the count."""
    return take_one(app, "QUEUE_JOIN_RATE_LIMIT", "queue-join", client_identity(None, address) or "")


def _personal(body: dict, status: int = 200):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"  # one client's place (and its ticket)
    return response


def _ticket_number(event_id: int) -> int:
    seq = waiting_room.ticket_number(current_app.config["SECRET_KEY"], event_id, request.headers.get(TICKET_HEADER))
    if seq is None:
        raise ApiError(
            403,
            "bad_queue_ticket",
            f"send this event's queue ticket in {TICKET_HEADER} (POST /api/v1/events/{event_id}/queue gives one)",
        )
    return seq


@bp.get("/events/<int:event_id>/queue")
def queue(event_id: int):
    """Public and the same for everyone: a shared cache may keep it for a second."""
    now = utcnow()
    response = jsonify(queue_states(current_app).get(event_id, now).public(now))
    response.headers["Cache-Control"] = "public, max-age=1"
    return response


@bp.post("/events/<int:event_id>/queue")
def join(event_id: int):
    """A place at the back of the queue; a client that sends its ticket keeps its place (200)."""
    now = utcnow()
    config = current_app.config
    seq = waiting_room.ticket_number(config["SECRET_KEY"], event_id, request.headers.get(TICKET_HEADER))
    if seq is not None:
        ticket, state, status = request.headers[TICKET_HEADER], queue_states(current_app).get(event_id, now), 200
    else:
        wait = joined_too_often(current_app._get_current_object(), request.remote_addr)
        if wait is not None:
            raise ApiError(
                429,
                "too_many_requests",
                f"too many new places in queues from this address; try again in {wait} s",
                {"Retry-After": str(wait)},
            )
        ticket, state = waiting_room.join(get_db(), event_id, config["SECRET_KEY"], now)
        queue_states(current_app).put(state)
        seq, status = state.entries, 201
    body = waiting_room.queue_status(state, seq, now, config["QUEUE_POLL_BUDGET"])
    return _personal({"queue_ticket": ticket, **body}, status)


@bp.get("/events/<int:event_id>/queue/status")
def status(event_id: int):
    """Position, people ahead, estimated wait and when to ask again: from the ticket and this
    process's copy of the queue, without the database."""
    seq = _ticket_number(event_id)
    now = utcnow()
    state = queue_states(current_app).get(event_id, now)
    return _personal(waiting_room.queue_status(state, seq, now, current_app.config["QUEUE_POLL_BUDGET"]))


@bp.post("/events/<int:event_id>/queue/admission")
def admission(event_id: int):
    """The admission token once the ticket's turn has come (the same window every time it is asked)."""
    seq = _ticket_number(event_id)
    config = current_app.config
    result, state = waiting_room.admit(
        get_db(), event_id, seq, config["SECRET_KEY"], config["QUEUE_ADMISSION_TTL_SECONDS"]
    )
    queue_states(current_app).put(state)
    return _personal(result)
