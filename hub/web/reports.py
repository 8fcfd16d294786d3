"""Sales report page and CSV exports of orders, tickets and scans (the event's organizer, admins)."""

from __future__ import annotations

from flask import Response, g, render_template

from ..db import get_db
from ..services import reports
from ..services.events import check_owner
from ..services.roles import STAFF
from . import pages_blueprint
from .auth import roles

bp = pages_blueprint("reports", __name__, url_prefix="/manage/events")
EXPORTS = {
    "orders": (reports.ORDER_COLUMNS, reports.order_csv_rows),
    "tickets": (reports.TICKET_COLUMNS, reports.ticket_csv_rows),
    "scans": (reports.SCAN_COLUMNS, reports.scan_csv_rows),
    "door-list": (reports.DOOR_LIST_COLUMNS, reports.door_list_rows),
}


@bp.get("/<int:event_id>/report")
@roles(*STAFF)
def report(event_id: int):
    check_owner(get_db(), event_id, g.user)
    return render_template("reports/report.html", r=reports.sales_report(get_db(), event_id), exports=list(EXPORTS))


@bp.get("/<int:event_id>/<any(orders, tickets, scans, 'door-list'):kind>.csv")
@roles(*STAFF)
def export_csv(event_id: int, kind: str):
    check_owner(get_db(), event_id, g.user)
    header, rows = EXPORTS[kind]
    body = reports.to_csv(header, rows(get_db(), event_id))
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="event-{event_id}-{kind}.csv"',
            "Cache-Control": "no-store",
        },
    )
