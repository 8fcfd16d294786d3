"""Ticket issuance, revocation and re-issue; revocation lists for gate sync."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, select, update

from common.signing import Revocation, RevocationList, SigningKey, sign_ticket

from ..db import atomic, is_sqlite
from ..schema import counters, events, revocations, ticket_types, tickets, venue_seats
from . import notifications
from .clock import iso, utcnow
from .errors import Conflict, NotFound

REVOCATION_COUNTER = "revocation_seq"


_INSERT_TICKETS = insert(tickets)
_HIGHEST_TICKET_ID = select(func.coalesce(func.max(tickets.c.id), 0))
_NEXT_TICKET_IDS = select(func.nextval(func.pg_get_serial_sequence("tickets", "id"))).select_from(
    func.generate_series(1, bindparam("n"))
)


def issue_tickets(
    conn: Connection, order_id: int, event_id: int, items: list[dict], signer: SigningKey, now: datetime
) -> list[dict]:
    """Sign and insert one ticket per item ({"ticket_type_id", "seat_id"?, "replaces_id"?}); return the
    rows inserted (column name -> value), in the order of `items`.

    Items may carry "zones" and "seat_index" when the caller has them (saves queries). Runs inside
    the caller's write transaction (hub.db.atomic). The signed ticket_id is the row id, so the ids are
    reserved first, then every ticket is signed, then all go in with one executemany.
    """
    if not items:
        return []
    ids = _reserve_ticket_ids(conn, len(items))
    zones = _zones(conn, {item["ticket_type_id"] for item in items if "zones" not in item})
    positions = _positions(
        conn, [item["seat_id"] for item in items if item.get("seat_id") and "seat_index" not in item]
    )
    rows = [
        {
            "id": ticket_id,
            "order_id": order_id,
            "event_id": event_id,
            "ticket_type_id": item["ticket_type_id"],
            "seat_id": item.get("seat_id"),
            "status": "valid",
            "issued_at": now,
            "revoked_at": None,
            "kid": signer.kid,
            "replaces_id": item.get("replaces_id"),
            "code": sign_ticket(
                signer,
                event_id=event_id,
                ticket_id=ticket_id,
                ticket_type=item["ticket_type_id"],
                zones=item["zones"] if "zones" in item else zones[item["ticket_type_id"]],
                seat=item["seat_index"] if "seat_index" in item else positions.get(item.get("seat_id")),
            ),
        }
        for ticket_id, item in zip(ids, items)
    ]
    conn.execute(_INSERT_TICKETS, rows)
    return rows


def _reserve_ticket_ids(conn: Connection, n: int) -> list[int]:
    """`n` ticket ids no other ticket has or will get, ascending. PostgreSQL: from the id column's
    sequence. SQLite: the ones after the highest id (SQLite's own rule for a new rowid), which no
    other writer can take because atomic's BEGIN IMMEDIATE holds the database's write lock until commit."""
    if is_sqlite(conn):
        if not conn.info.get("atomic_depth"):
            raise RuntimeError("ticket ids are reserved inside hub.db.atomic only")
        highest = conn.execute(_HIGHEST_TICKET_ID).scalar_one()
        return list(range(highest + 1, highest + 1 + n))
    return sorted(conn.execute(_NEXT_TICKET_IDS, {"n": n}).scalars())


def _zones(conn: Connection, type_ids: set[int]) -> dict[int, list[int]]:
    if not type_ids:
        return {}
    rows = conn.execute(select(ticket_types.c.id, ticket_types.c.zones).where(ticket_types.c.id.in_(type_ids)))
    return {r.id: json.loads(r.zones) for r in rows}


def _positions(conn: Connection, seat_ids: list[int]) -> dict[int, int]:
    if not seat_ids:
        return {}
    rows = conn.execute(select(venue_seats.c.id, venue_seats.c.position).where(venue_seats.c.id.in_(seat_ids)))
    return {r.id: r.position for r in rows}


def revoke_tickets(conn: Connection, ticket_ids: list[int], reason: str, now: datetime) -> list[int]:
    """Revoke valid tickets (inside the caller's transaction); return the revocation seqs."""
    if not ticket_ids:
        return []
    rows = conn.execute(
        select(tickets.c.id, tickets.c.event_id)
        .where(tickets.c.id.in_(ticket_ids), tickets.c.status == "valid")
        .order_by(tickets.c.id)
    ).all()
    if not rows:
        return []
    conn.execute(update(tickets).where(tickets.c.id.in_([r.id for r in rows])).values(status="revoked", revoked_at=now))
    # The counter row is locked until commit, so seqs are handed out in commit order.
    last = conn.execute(
        update(counters)
        .where(counters.c.name == REVOCATION_COUNTER)
        .values(value=counters.c.value + len(rows))
        .returning(counters.c.value)
    ).scalar_one()
    seqs = list(range(last - len(rows) + 1, last + 1))
    conn.execute(
        insert(revocations),
        [
            {"seq": seq, "event_id": r.event_id, "ticket_id": r.id, "reason": reason, "revoked_at": now}
            for seq, r in zip(seqs, rows)
        ],
    )
    return seqs


def reissue_ticket(conn: Connection, ticket_id: int, signer: SigningKey, now: datetime | None = None) -> dict:
    """Replace a valid ticket with a new one (new id, new text); the old id is revoked."""
    now = now or utcnow()
    with atomic(conn):
        old = conn.execute(select(tickets).where(tickets.c.id == ticket_id).with_for_update()).first()
        if old is None:
            raise NotFound(f"no ticket {ticket_id}", "ticket_not_found")
        if old.status != "valid":
            raise Conflict(f"ticket {ticket_id} is {old.status}", "ticket_not_valid")
        revoke_tickets(conn, [ticket_id], "reissued", now)
        [new] = issue_tickets(
            conn,
            old.order_id,
            old.event_id,
            [{"ticket_type_id": old.ticket_type_id, "seat_id": old.seat_id, "replaces_id": ticket_id}],
            signer,
            now,
        )
        notifications.publish(
            conn,
            notifications.TICKET_REISSUED,
            order_id=old.order_id,
            ticket_id=new["id"],
            event_id=old.event_id,
            now=now,
            payload={"replaces": ticket_id},
        )
    return get_ticket(conn, new["id"])


def ticket_rows(conn: Connection, where) -> list[dict]:
    """The tickets matching `where` as the API shows them (reports.ticket_csv_rows makes CSV of these)."""
    rows = conn.execute(
        select(
            tickets,
            venue_seats.c.section,
            venue_seats.c.row,
            venue_seats.c.label,
            venue_seats.c.position,
            ticket_types.c.name.label("ticket_type_name"),
        )
        .join(ticket_types, ticket_types.c.id == tickets.c.ticket_type_id)
        .outerjoin(venue_seats, venue_seats.c.id == tickets.c.seat_id)
        .where(where)
        .order_by(tickets.c.id)
    ).all()
    return [
        ticket_json(
            r._mapping,
            r.ticket_type_name,
            {"section": r.section, "row": r.row, "seat": r.label, "index": r.position}
            if r.seat_id is not None
            else None,
        )
        for r in rows
    ]


def ticket_json(row, ticket_type_name: str, seat: dict | None) -> dict:
    """A ticket as the API shows it, from its row (a mapping of the tickets columns, e.g. one that
    issue_tickets returns), its ticket type's name and its seat ({section, row, seat, index} or None)."""
    return {
        "ticket_id": row["id"],
        "order_id": row["order_id"],
        "event_id": row["event_id"],
        "ticket_type_id": row["ticket_type_id"],
        "ticket_type": ticket_type_name,
        "status": row["status"],
        "code": row["code"],
        "kid": row["kid"],
        "seat": seat,
        "issued_at": iso(row["issued_at"]),
        "revoked_at": iso(row["revoked_at"]),
        "replaces_id": row["replaces_id"],
    }


def get_ticket(conn: Connection, ticket_id: int) -> dict:
    found = ticket_rows(conn, tickets.c.id == ticket_id)
    if not found:
        raise NotFound(f"no ticket {ticket_id}", "ticket_not_found")
    return found[0]


def revocation_document(conn: Connection, event_ids: list[int], signer: SigningKey, now: datetime) -> dict:
    """The signed revocation list of every revocation of ``event_ids`` (what a gate serving them holds)."""
    counter = conn.execute(select(counters.c.value).where(counters.c.name == REVOCATION_COUNTER)).scalar_one()
    rows = conn.execute(select(revocations).where(revocations.c.event_id.in_(event_ids)).order_by(revocations.c.seq))
    rl = RevocationList.of(Revocation(r.event_id, r.ticket_id, r.seq) for r in rows)
    rl.seq = max(rl.seq, counter)
    return rl.to_document(signer, int(now.timestamp()))


def revocations_since(
    conn: Connection, event_id: int, since: int, signer: SigningKey, now: datetime | None = None
) -> dict:
    """Revocations of an event with seq > since, plus the same as a signed RevocationList document."""
    now = now or utcnow()
    if conn.execute(select(events.c.id).where(events.c.id == event_id)).first() is None:
        raise NotFound(f"no event {event_id}", "event_not_found")
    # Read the counter first: any revocation it covers is committed and visible below.
    counter = conn.execute(select(counters.c.value).where(counters.c.name == REVOCATION_COUNTER)).scalar_one()
    rows = conn.execute(
        select(revocations)
        .where(revocations.c.event_id == event_id, revocations.c.seq > since)
        .order_by(revocations.c.seq)
    ).all()
    rl = RevocationList.of(Revocation(r.event_id, r.ticket_id, r.seq) for r in rows)
    rl.seq = max(rl.seq, counter, since)
    return {
        "event_id": event_id,
        "since": since,
        "seq": rl.seq,
        "revocations": [
            {"ticket_id": r.ticket_id, "seq": r.seq, "reason": r.reason, "revoked_at": iso(r.revoked_at)} for r in rows
        ],
        "document": rl.to_document(signer, int(now.timestamp())),
    }
