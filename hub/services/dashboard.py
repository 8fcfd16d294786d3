"""Figures of the live attendance dashboard: services.attendance, plus each
gate's connection state and the arrivals per minute (and their SVG bar chart)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Integer, cast, func, select

from common.protocol import OFFLINE_AFTER_S, TIME_MAX, TIME_MIN, format_utc

from ..schema_devices import gate_scans
from .attendance import attendance
from .clock import parse_iso, utcnow
from .devices import list_devices
from .events import get_event
from .sync import ADMITTED, MOVEMENTS

# A gate that synced this recently is online: an idle gate sends a heartbeat every 2 s, and its own
# door screen turns OFFLINE after the same time, so the dashboard and the door agree.
ONLINE_WITHIN_S = OFFLINE_AFTER_S
CHART_MINUTES = 60


def live_attendance(conn: Connection, event_id: int, now: datetime | None = None, minutes: int = CHART_MINUTES) -> dict:
    """Everything the dashboard shows for one event, as JSON-ready values."""
    now = now or utcnow()
    event = get_event(conn, event_id)
    data = attendance(conn, event_id)
    gates = {d["id"]: d for d in list_devices(conn, event_id=event_id)}
    for gate in data["per_gate"]:
        device = gates.get(gate["device_id"], {})
        last = device.get("last_sync_at")
        age = (now - parse_iso(last)).total_seconds() if last else None
        gate.update(
            last_sync_at=last,
            backlog=device.get("backlog"),
            clock_offset_s=device.get("clock_offset_s"),
            online=age is not None and age <= ONLINE_WITHIN_S and gate["status"] == "active",
        )
    _add_eventless_rejections(conn, data)
    data.update(
        title=event["title"],
        starts_at=event["starts_at"],
        now=format_utc(now, "seconds"),
        arrivals=arrivals_per_minute(conn, event_id, now, minutes),
    )
    return data


def _add_eventless_rejections(conn: Connection, data: dict) -> None:
    """Scans that name no event (a forged or unreadable code) belong to no event in the sync
    figures; at this event's gates they are rejections all the same."""
    gates = {g["device_id"]: g for g in data["per_gate"]}
    if not gates:
        return
    rows = conn.execute(
        select(gate_scans.c.device_id, gate_scans.c.verdict, func.count().label("n"))
        .where(
            gate_scans.c.event_id.is_(None), gate_scans.c.device_id.in_(gates), gate_scans.c.verdict.not_in(MOVEMENTS)
        )
        .group_by(gate_scans.c.device_id, gate_scans.c.verdict)
    )
    for r in rows:
        gates[r.device_id]["rejected"] += r.n
        data["rejected"][r.verdict] = data["rejected"].get(r.verdict, 0) + r.n
    data["rejected"] = dict(sorted(data["rejected"].items()))


def arrivals_per_minute(conn: Connection, event_id: int, now: datetime, minutes: int = CHART_MINUTES) -> list[dict]:
    """Admissions (duplicates excluded) per minute of hub-corrected time, for the ``minutes``
    up to now; after the doors closed, the ``minutes`` up to the last arrival. Only times in the
    protocol's window count: a row an older hub stored with an absurd time has no minute."""
    minute = (
        cast(func.floor(gate_scans.c.corrected_time / 60), Integer)
        if conn.dialect.name == "postgresql"
        else cast(gate_scans.c.corrected_time / 60, Integer)
    )  # times are positive: truncation is floor
    rows = conn.execute(
        select(minute.label("m"), func.count().label("n"))
        .where(
            gate_scans.c.event_id == event_id,
            gate_scans.c.verdict == ADMITTED,
            gate_scans.c.duplicate_of.is_(None),
            gate_scans.c.annulled_by.is_(None),
            gate_scans.c.corrected_time.between(TIME_MIN, TIME_MAX),
        )
        .group_by("m")
    ).all()
    counts = {int(r.m): r.n for r in rows}
    end = int(now.timestamp() // 60)
    if counts and max(counts) < end - minutes:
        end = max(counts)
    return [
        {"minute": format_utc(m * 60, "minutes"), "count": counts.get(m, 0)} for m in range(end - minutes + 1, end + 1)
    ]


def arrivals_chart(arrivals: list[dict], width: int = 600, height: int = 160) -> dict:
    """Bar geometry for the server-rendered SVG: one bar per minute, scaled to the busiest."""
    top = max([a["count"] for a in arrivals] + [1])
    slot = width / max(len(arrivals), 1)
    plot = height - 20  # room for the axis labels
    bars = []
    for i, a in enumerate(arrivals):
        h = round(plot * a["count"] / top, 1)
        bars.append(
            {
                "x": round(i * slot + 1, 1),
                "y": round(plot - h, 1),
                "width": round(max(slot - 2, 1), 1),
                "height": h,
                "count": a["count"],
                "minute": a["minute"],
            }
        )
    labels = [{"x": b["x"], "text": b["minute"][11:16]} for b in bars[::15]] if bars else []
    return {
        "width": width,
        "height": height,
        "plot": plot,
        "top": top,
        "bars": bars,
        "labels": labels,
        "total": sum(a["count"] for a in arrivals),
    }
