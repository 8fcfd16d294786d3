"""Attendance of an event from the scans gates have synced: sold, admitted, inside,
per gate, rejections, duplicates; and the scans themselves for export.

Read-only: the scans are stored by services.sync (push); what counts as a
duplicate is decided there (resolve_duplicates) and only reported here.
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, func, or_, select

from common.protocol import FORCED_REASON, format_scan_time

from ..schema import tickets
from ..schema_devices import devices, gate_scans
from .sync import ADMITTED, ANNULLED, EXITED


def attendance(conn: Connection, event_id: int) -> dict:
    """Sold, admitted, inside, per gate, rejected by reason, and every duplicate."""
    sold = conn.execute(
        select(func.count()).select_from(tickets).where(tickets.c.event_id == event_id, tickets.c.status == "valid")
    ).scalar_one()
    entry = and_(
        gate_scans.c.verdict == ADMITTED, gate_scans.c.duplicate_of.is_(None), gate_scans.c.annulled_by.is_(None)
    )
    per_gate = {}
    for d in conn.execute(
        select(devices.c.id, devices.c.name, devices.c.status)
        .where(devices.c.event_id == event_id)
        .order_by(devices.c.id)
    ):
        per_gate[d.id] = {
            "device_id": d.id,
            "name": d.name,
            "status": d.status,
            "entries": 0,
            "exits": 0,
            "duplicates": 0,
            "rejected": 0,
            "forced": 0,
            "annulled": 0,
        }
    rejected: dict[str, int] = {}
    entries = exits = 0
    rows = conn.execute(
        select(
            gate_scans.c.device_id,
            gate_scans.c.verdict,
            gate_scans.c.duplicate_of.is_not(None).label("dup"),
            gate_scans.c.annulled_by.is_not(None).label("taken_back"),
            (gate_scans.c.reason == FORCED_REASON).label("forced"),
            func.count().label("n"),
        )
        .where(gate_scans.c.event_id == event_id)
        .group_by(gate_scans.c.device_id, gate_scans.c.verdict, "dup", "taken_back", "forced")
    )
    for r in rows:
        gate = per_gate.setdefault(
            r.device_id,
            {
                "device_id": r.device_id,
                "name": f"device-{r.device_id}",
                "status": "?",
                "entries": 0,
                "exits": 0,
                "duplicates": 0,
                "rejected": 0,
                "forced": 0,
                "annulled": 0,
            },
        )
        if r.verdict == ADMITTED and r.forced:  # counted below as well: an entry or a duplicate
            gate["forced"] += r.n
        if r.verdict == ANNULLED:  # the admission it took back counts nowhere (resolve_duplicates)
            gate["annulled"] += r.n
        elif r.verdict == ADMITTED and r.taken_back:
            pass
        elif r.verdict == ADMITTED and r.dup:
            gate["duplicates"] += r.n
        elif r.verdict == ADMITTED:
            gate["entries"] += r.n
            entries += r.n
        elif r.verdict == EXITED:
            gate["exits"] += r.n
            exits += r.n
        else:
            gate["rejected"] += r.n
            rejected[r.verdict] = rejected.get(r.verdict, 0) + r.n
    admitted = conn.execute(
        select(func.count(gate_scans.c.ticket_id.distinct())).where(gate_scans.c.event_id == event_id, entry)
    ).scalar_one()
    return {
        "event_id": event_id,
        "sold": sold,
        "admitted": admitted,
        "entries": entries,
        "exits": exits,
        "inside": max(entries - exits, 0),
        "per_gate": list(per_gate.values()),
        "rejected": dict(sorted(rejected.items())),
        "duplicates": duplicates(conn, event_id),
        "overrides": overrides(conn, event_id),
    }


def overrides(conn: Connection, event_id: int) -> list[dict]:
    """Supervisor actions at the door, oldest first: forced admissions (with the reason typed) and
    annulled admissions."""
    rows = conn.execute(
        select(
            gate_scans.c.scan_id,
            gate_scans.c.ticket_id,
            gate_scans.c.verdict,
            gate_scans.c.reason,
            gate_scans.c.note,
            gate_scans.c.duplicate_of,
            gate_scans.c.corrected_time,
            devices.c.name.label("gate"),
        )
        .join(devices, devices.c.id == gate_scans.c.device_id)
        .where(
            gate_scans.c.event_id == event_id,
            or_(
                gate_scans.c.verdict == ANNULLED,
                and_(gate_scans.c.verdict == ADMITTED, gate_scans.c.reason == FORCED_REASON),
            ),
        )
        .order_by(gate_scans.c.corrected_time, gate_scans.c.scan_id)
    ).all()
    return [
        {
            "scan_id": r.scan_id,
            "ticket_id": r.ticket_id,
            "action": "annulled" if r.verdict == ANNULLED else "forced",
            "annulled_scan_id": r.reason if r.verdict == ANNULLED else None,
            "note": r.note,
            "duplicate": r.duplicate_of is not None,
            "gate": r.gate,
            "at": format_scan_time(r.corrected_time),
        }
        for r in rows
    ]


def duplicates(conn: Connection, event_id: int) -> list[dict]:
    dup = gate_scans.alias("dup")
    first = gate_scans.alias("first")
    dup_dev, first_dev = devices.alias("dup_dev"), devices.alias("first_dev")
    rows = conn.execute(
        select(
            dup.c.ticket_id,
            dup.c.scan_id,
            dup.c.corrected_time,
            dup_dev.c.name.label("gate"),
            first.c.scan_id.label("entry_scan_id"),
            first.c.corrected_time.label("entry_time"),
            first_dev.c.name.label("entry_gate"),
        )
        .join(first, first.c.scan_id == dup.c.duplicate_of)
        .join(dup_dev, dup_dev.c.id == dup.c.device_id)
        .join(first_dev, first_dev.c.id == first.c.device_id)
        .where(dup.c.event_id == event_id, dup.c.duplicate_of.is_not(None))
        .order_by(dup.c.corrected_time)
    ).all()
    return [
        {
            "ticket_id": r.ticket_id,
            "entry": {"scan_id": r.entry_scan_id, "gate": r.entry_gate, "at": format_scan_time(r.entry_time)},
            "duplicate": {"scan_id": r.scan_id, "gate": r.gate, "at": format_scan_time(r.corrected_time)},
        }
        for r in rows
    ]


def export_scans(conn: Connection, event_id: int, since: int = 0, limit: int = 1000) -> dict:
    """Scans of an event in hub order after ``since`` (a hub seq), for export."""
    rows = conn.execute(
        select(gate_scans, devices.c.name.label("gate_name"))
        .join(devices, devices.c.id == gate_scans.c.device_id)
        .where(gate_scans.c.event_id == event_id, gate_scans.c.hub_seq > since)
        .order_by(gate_scans.c.hub_seq)
        .limit(limit)
    ).all()
    return {
        "event_id": event_id,
        "since": since,
        "next": rows[-1].hub_seq if rows else since,
        "items": [
            {
                "hub_seq": r.hub_seq,
                "scan_id": r.scan_id,
                "device_id": r.device_id,
                "gate": r.gate_name,
                "ticket_id": r.ticket_id,
                "verdict": r.verdict,
                "reason": r.reason,
                "device_seq": r.device_seq,
                "device_time": format_scan_time(r.device_time),
                "corrected_time": format_scan_time(r.corrected_time),
                "received_at": format_scan_time(r.received_at),
                "duplicate_of": r.duplicate_of,
                "note": r.note,
                "annulled_by": r.annulled_by,
            }
            for r in rows
        ],
    }
