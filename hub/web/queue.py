"""The waiting room's pages (hub/services/waiting_room.py): the queue page and the step in.

A browser keeps its queue ticket and, once let in, its admission token in its session, one of each
per event: a reload keeps the place, a new session starts at the back. While an event's waiting room
is on, its page sends a browser without a live admission here, and so does a hold without one
(store.py asks `queue_detour` and `hold_refused`). The queue page asks the API's status route
(api/queue.py) from queue.js; neither it nor that route reads the database once the ticket is handed out.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from werkzeug.exceptions import TooManyRequests

from ..api.queue import joined_too_often, queue_states
from ..db import get_db
from ..services import waiting_room
from ..services.clock import utcnow
from ..services.errors import Forbidden, ServiceError
from . import pages_blueprint
from .auth import public

bp = pages_blueprint("queue", __name__)
TICKETS, ADMISSIONS = "queue_tickets", "queue_admissions"
KEPT_PER_SESSION = 10  # events whose ticket and admission a session keeps (the cookie stays small)


def _kept(name: str, event_id: int) -> str | None:
    return session.get(name, {}).get(str(event_id))


def _keep(name: str, event_id: int, value: str | None) -> None:
    kept = {k: v for k, v in session.get(name, {}).items() if k != str(event_id)}
    if value is not None:
        kept[str(event_id)] = value
    session[name] = dict(list(kept.items())[-KEPT_PER_SESSION:])


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _event_page(event_id: int):
    return redirect(url_for("store.event", event_id=event_id))


def _queue_page(event_id: int):
    return redirect(url_for("queue.queue", event_id=event_id))


def queue_detour(event_id: int):
    """The way to the queue page when the event's waiting room is on and this browser has not been
    let in (yet, or any more); None otherwise. From the process's copy of the queue: no database."""
    now = utcnow()
    state = queue_states(current_app).get(event_id, now)
    if state.on and waiting_room.admission_problem(_secret(), event_id, _kept(ADMISSIONS, event_id), now):
        return _queue_page(event_id)
    return None


def hold_refused(conn, event_id: int):
    """A hold of this browser needs its admission while the waiting room is on: the way to the queue
    page (with the reason) when it has none that is live, else None."""
    try:
        waiting_room.check_admission(conn, event_id, _kept(ADMISSIONS, event_id), _secret())
    except Forbidden as exc:
        flash(exc.message, "error")
        return _queue_page(event_id)
    return None


@bp.get("/events/<int:event_id>/queue")
@public
def queue(event_id: int):
    now = utcnow()
    states = queue_states(current_app)
    state = states.get(event_id, now)
    if not state.on or not waiting_room.admission_problem(_secret(), event_id, _kept(ADMISSIONS, event_id), now):
        return _event_page(event_id)
    ticket = _kept(TICKETS, event_id)
    seq = waiting_room.ticket_number(_secret(), event_id, ticket)
    if seq is None:
        wait = joined_too_often(current_app._get_current_object(), request.remote_addr)
        if wait is not None:
            abort(TooManyRequests(retry_after=wait))
        ticket, state = waiting_room.join(get_db(), event_id, _secret(), now)
        states.put(state)
        seq = state.entries
        _keep(TICKETS, event_id, ticket)
    status = waiting_room.queue_status(state, seq, now, current_app.config["QUEUE_POLL_BUDGET"])
    if status["status"] == "admitted":
        return redirect(url_for(".enter", event_id=event_id))
    return render_template(
        "store/queue.html",
        state=state,
        status=status,
        ticket=ticket,
        status_url=url_for("api.queue.status", event_id=event_id),
    )


@bp.get("/events/<int:event_id>/queue/enter")
@public
def enter(event_id: int):
    """Step in once the turn has come: the admission goes into the session, then on to the event."""
    seq = waiting_room.ticket_number(_secret(), event_id, _kept(TICKETS, event_id))
    if seq is None:
        return _queue_page(event_id)
    config = current_app.config
    try:
        admitted, state = waiting_room.admit(get_db(), event_id, seq, _secret(), config["QUEUE_ADMISSION_TTL_SECONDS"])
    except ServiceError as exc:
        if exc.code == "waiting_room_off":
            return _event_page(event_id)
        if exc.code == "queue_admission_expired":
            flash(exc.message, "error")
            _keep(TICKETS, event_id, None)  # the queue page gives a new place, at the back
        elif exc.code != "queue_not_your_turn":
            raise
        return _queue_page(event_id)
    queue_states(current_app).put(state)
    _keep(ADMISSIONS, event_id, admitted["admission_token"])
    flash("It is your turn: pick your tickets.", "success")
    return _event_page(event_id)
