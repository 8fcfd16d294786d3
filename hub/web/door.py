"""Door staff pages: gate status for today's events and manual ticket look-up (read only)."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, g, render_template, request

from ..db import get_db
from ..services import event_admin
from ..services.attendance import attendance
from ..services.clock import utcnow
from ..services.devices import list_devices
from ..services.events import list_events
from ..services.roles import DOOR
from ..services.staff import works_for
from . import pages_blueprint
from .auth import roles
from .forms import LookupForm

bp = pages_blueprint("door", __name__, url_prefix="/door")


def _event_scope() -> int | None:
    """Whose events this user works at (services.staff): None for every event."""
    return works_for(g.user, current_app.config["SINGLE_TENANT"])


@bp.get("")
@roles(*DOOR)
def status():
    conn = get_db()
    now = utcnow()
    found = list_events(
        conn,
        limit=50,
        starts_from=now - timedelta(hours=12),
        starts_to=now + timedelta(days=2),
        organizer_id=_event_scope(),
    )["items"]
    rows = []
    for e in found:
        gates = {d["id"]: d for d in list_devices(conn, event_id=e["id"])}
        counts = attendance(conn, e["id"])
        for gate in counts["per_gate"]:
            gate["device"] = gates.get(gate["device_id"], {})
        rows.append({"event": e, "counts": counts})
    return render_template("door/status.html", rows=rows, now=now)


@bp.get("/lookup")
@roles(*DOOR)
def lookup():
    form = LookupForm(request.args)
    conn = get_db()
    scope = None
    organizer_id = _event_scope()
    if organizer_id is not None:
        scope = [e["id"] for e in list_events(conn, limit=1000, organizer_id=organizer_id)["items"]]
    results = event_admin.lookup_tickets(conn, form.q.data or "", scope) if form.validate() else []
    return render_template("door/lookup.html", form=form, results=results)
