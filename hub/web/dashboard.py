"""Live attendance dashboard (organizers for their own events, admins, door staff).

The page holds one server-sent-events stream. Each sync that touches the event
sends a "changed" ping (hub.services.live: in-process, and across hub processes
by PostgreSQL LISTEN/NOTIFY or a poller of SQLite's scan counter); the page
answers by fetching the server-rendered panel (figures, tables and the SVG
chart) and swapping it in. An open stream holds a server thread, so a process
keeps at most MAX_STREAMS open (services.live.StreamSlots) and refuses the
rest with 503 + Retry-After; each stream ends after STREAM_LIFETIME_SECONDS.
"""

from __future__ import annotations

import time

from flask import Response, current_app, g, jsonify, render_template
from werkzeug.exceptions import ServiceUnavailable

from ..db import get_db
from ..services.dashboard import arrivals_chart, live_attendance
from ..services.live import ANY_EVENT, notifier_for, slots_for
from ..services.roles import DOOR
from ..services.staff import check_door
from . import pages_blueprint
from .auth import roles

bp = pages_blueprint("dashboard", __name__, url_prefix="/dashboard")


def _check_event(event_id: int) -> None:
    """Door staff watch their organizer's events; organizers their own; admins all (services.staff)."""
    check_door(get_db(), event_id, g.user, current_app.config["SINGLE_TENANT"])


def _panel_context(event_id: int) -> dict:
    data = live_attendance(get_db(), event_id)
    return {"event_id": event_id, "live": data, "chart": arrivals_chart(data["arrivals"])}


@bp.get("/events/<int:event_id>")
@roles(*DOOR)
def event(event_id: int):
    _check_event(event_id)
    return render_template("dashboard/event.html", **_panel_context(event_id))


@bp.get("/events/<int:event_id>/panel")
@roles(*DOOR)
def panel(event_id: int):
    _check_event(event_id)
    return render_template("dashboard/_panel.html", **_panel_context(event_id))


@bp.get("/events/<int:event_id>/live.json")
@roles(*DOOR)
def live_json(event_id: int):
    _check_event(event_id)
    return jsonify(live_attendance(get_db(), event_id))


@bp.get("/events/<int:event_id>/stream")
@roles(*DOOR)
def stream(event_id: int):
    _check_event(event_id)
    config = current_app.config
    slot = slots_for(current_app).take()
    if slot is None:  # refuse at once rather than queue for a thread; the page tries again by itself
        raise ServiceUnavailable(
            "Too many live dashboards are open on this server; the page reconnects by itself.",
            retry_after=max(int(config["STREAM_RETRY_SECONDS"]), 1),
        )
    tick = max(float(config["DASHBOARD_TICK_SECONDS"]), 1.0)
    lifetime = max(float(config["STREAM_LIFETIME_SECONDS"]), 1.0)
    response = Response(
        _pings(notifier_for(current_app), event_id, tick, lifetime),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.call_on_close(slot.release)  # the server closes every response: ended, dropped or never started
    return response


def _pings(notifier, event_id: int, tick: float, lifetime: float, clock=time.monotonic):
    """A "changed" message at once (the page may have missed some while connecting) and after
    every ping for this event; bursts of pings coalesce into one message. An idle stream sends
    a tick (DASHBOARD_TICK_SECONDS): the page refreshes "online" states, and writing to a dead
    client ends the stream. After ``lifetime`` seconds the stream ends itself, so a forgotten tab
    cannot hold its thread for ever: the page reconnects after ``retry`` and, as every stream
    starts with "changed", misses nothing (no Last-Event-ID needed). It subscribes once sending
    starts, so a stream never started leaves nothing behind."""
    ends = clock() + lifetime
    with notifier.subscribe() as subscription:
        yield "retry: 1000\n\n"
        yield f"event: changed\ndata: {event_id}\n\n"
        while (left := ends - clock()) > 0:
            wait = min(tick, left)
            got = subscription.get(wait)
            if subscription.closed:
                return
            if got is None:
                if wait == tick:
                    yield "event: tick\ndata: {}\n\n"
                continue
            pending = {got, *subscription.drain()}
            if event_id in pending or ANY_EVENT in pending:
                yield f"event: changed\ndata: {event_id}\n\n"
