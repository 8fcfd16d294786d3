"""Holds: all-or-nothing, expiring seat and GA locks with a secret token.

Race safety: a seat is taken with one conditional UPDATE (it must be available,
or held by an expired hold) whose row count must equal the seats asked for;
otherwise the transaction is rolled back and nothing is held. GA capacity is
checked under a row lock on the ticket type. Expiry is evaluated against `now`
inside the transaction, so an expired hold is free whether or not the sweeper ran.

Fair share: each hold records its client (a signed-in user, else a network
address) and one client's live holds may total at most `max_per_client` tickets,
counted in the database (so across hub processes) under a per-client lock.

Cost: a hold is one write transaction of a few statements (event and ticket types in one
query, the free seats, the new hold, the conditional UPDATE), each built once at import
(`_SEATED_EVENT` ...): SQLAlchemy then reuses their cache keys and compiled SQL and a call
only binds values. A best-available pick reads at most LOCKED_SCAN_SEATS free seats inside
the write transaction; a longer search runs outside it (see hold_best_available).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import NamedTuple

from sqlalchemy import Connection, and_, bindparam, func, insert, select, tuple_, update

from ..db import atomic, is_sqlite, retrying
from ..delivery.card import seat_label
from ..schema import event_seats, events, holds, ticket_types, venue_seats
from .clock import iso, utcnow
from .errors import Conflict, Forbidden, Invalid, LimitReached, NotFound
from .event_status import check_selling
from .events import _which_is_unknown, event_row
from .seats import seat_is_free
from .tokens import as_bytes, same_secret, sha256_hex


@dataclass(frozen=True)
class HoldPolicy:
    default_ttl: int = 600
    min_ttl: int = 30
    max_ttl: int = 3600
    max_seats: int = 20
    max_per_client: int = 0  # tickets one client may hold at once, over all its live holds; 0: no limit

    @classmethod
    def from_config(cls, config: Mapping, *, signed_in: bool) -> HoldPolicy:
        """The hub's settings for one client. Anonymous clients get the shorter maximum
        time (HOLD_TTL_MAX_ANONYMOUS_SECONDS): a checkout needs minutes, not an hour."""
        max_ttl = config["HOLD_TTL_MAX_SECONDS"]
        if not signed_in:
            max_ttl = min(max_ttl, config["HOLD_TTL_MAX_ANONYMOUS_SECONDS"])
        return cls(
            default_ttl=min(config["HOLD_TTL_SECONDS"], max_ttl),
            min_ttl=config["HOLD_TTL_MIN_SECONDS"],
            max_ttl=max_ttl,
            max_seats=config["HOLD_MAX_SEATS"],
            max_per_client=config["HOLD_MAX_SEATS_PER_CLIENT"],
        )

    def ttl(self, requested: int | None) -> timedelta:
        seconds = self.default_ttl if requested is None else requested
        if not self.min_ttl <= seconds <= self.max_ttl:
            raise Invalid(f"ttl_seconds must be between {self.min_ttl} and {self.max_ttl}", "invalid_ttl")
        return timedelta(seconds=seconds)

    def quantity(self, n: int) -> None:
        if not 1 <= n <= self.max_seats:
            raise Invalid(f"a hold takes 1 to {self.max_seats} tickets", "invalid_quantity")


def hash_hold_token(token: str) -> str:
    return sha256_hex(token)


def client_identity(user_id: int | None, address: str | None) -> str | None:
    """Whose holds count together: a signed-in user's; else one network address's.

    An IPv6 client usually has a whole /64 to pick addresses from, so the /64 is one client.
    """
    if user_id is not None:
        return f"user:{user_id}"
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"addr:{address}"[:100]
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.version == 6:
        return f"ip:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"ip:{ip}"


def client_terms(config: Mapping, user_id: int | None, address: str | None) -> dict:
    """What one hold request is held to, as keyword arguments for hold_seats, hold_best_available and
    hold_ga: the hub's policy for this client (signed in or not) and whose share the hold counts against."""
    return {
        "policy": HoldPolicy.from_config(config, signed_in=user_id is not None),
        "client": client_identity(user_id, address),
    }


def hold_is_live(now: datetime):
    """SQL condition on holds: the hold still keeps what it took (live_status() == "active")."""
    return and_(holds.c.status == "active", holds.c.expires_at > now)


# The statements of the sale path, built once (values are bound per call: `:name`).
_CLIENT_LOCK = select(func.pg_advisory_xact_lock(bindparam("key")))
_CLIENT_HELD = select(func.coalesce(func.sum(holds.c.quantity), 0), func.min(holds.c.expires_at)).where(
    holds.c.client == bindparam("client"), hold_is_live(bindparam("now"))
)
# The event's venue and release time with its seated ticket types, cheapest first (one row with
# NULL type columns when it has none).
_SEATED_EVENT = (
    select(events.c.venue_id, events.c.ticket_release_at, events.c.status.label("event_status"), ticket_types)
    .select_from(
        events.outerjoin(ticket_types, and_(ticket_types.c.event_id == events.c.id, ticket_types.c.kind == "seated"))
    )
    .where(events.c.id == bindparam("event_id"))
    .order_by(ticket_types.c.price, ticket_types.c.id)
)
_SEATS_BY_LABEL = (
    select(venue_seats.c.id, venue_seats.c.section, venue_seats.c.row, venue_seats.c.label, venue_seats.c.position)
    .where(
        venue_seats.c.venue_id == bindparam("venue_id"),
        tuple_(venue_seats.c.section, venue_seats.c.row, venue_seats.c.label).in_(bindparam("labels", expanding=True)),
    )
    .order_by(venue_seats.c.position)
)
_SECTION_EXISTS = (
    select(venue_seats.c.id)
    .where(venue_seats.c.venue_id == bindparam("venue_id"), venue_seats.c.section == bindparam("section"))
    .limit(1)
)
_INSERT_HOLD = insert(holds).returning(holds.c.id)
_TAKE_SEATS = (
    update(event_seats)
    .where(
        event_seats.c.event_id == bindparam("for_event"),
        event_seats.c.seat_id.in_(bindparam("seat_ids", expanding=True)),
        seat_is_free(bindparam("now")),
    )
    .values(
        status="held",
        hold_id=bindparam("new_hold"),
        held_until=bindparam("until"),
        ticket_type_id=bindparam("type_id"),
        order_id=None,
    )
)
# Free seats in seat-map order after a position (the ix_event_seats_unsold index), a page at a time.
_FREE_POSITIONS = (
    select(event_seats.c.position)
    .where(
        event_seats.c.event_id == bindparam("event_id"),
        event_seats.c.status != "sold",
        seat_is_free(bindparam("now")),
        event_seats.c.position > bindparam("after"),
    )
    .order_by(event_seats.c.position)
    .limit(bindparam("page"))
)
# PostgreSQL: lock the chosen seats that are still free, passing over those another transaction is taking.
_LOCK_FREE_SEATS = (
    select(event_seats.c.seat_id)
    .where(
        event_seats.c.event_id == bindparam("event_id"),
        event_seats.c.seat_id.in_(bindparam("seat_ids", expanding=True)),
        seat_is_free(bindparam("now")),
    )
    .with_for_update(skip_locked=True)
)
_WAIT_FOR_SEAT = (
    select(event_seats.c.seat_id)
    .where(event_seats.c.event_id == bindparam("event_id"), event_seats.c.position == bindparam("position"))
    .with_for_update()
)
_HOLD_BY_ID = select(holds).where(holds.c.id == bindparam("hold_id"))
_HOLD_BY_ID_LOCKED = _HOLD_BY_ID.with_for_update()


def _check_client_limit(conn: Connection, client: str | None, quantity: int, policy: HoldPolicy, now: datetime) -> None:
    """Refuse (429 hold_limit_reached) a hold that would take the client over its share.

    Called inside the hold's write transaction before anything is taken. SQLite
    serialises writers already; on PostgreSQL an advisory lock per client does, so
    two parallel requests of one client cannot both fit under the limit.
    """
    if client is None or not policy.max_per_client:
        return
    if not is_sqlite(conn):
        key = int.from_bytes(hashlib.sha256(as_bytes(client)).digest()[:8], "big", signed=True)
        conn.execute(_CLIENT_LOCK, {"key": key})  # released at commit or rollback
    held, first_end = conn.execute(_CLIENT_HELD, {"client": client, "now": now}).one()
    if held + quantity <= policy.max_per_client:
        return
    limit = policy.max_per_client
    if held:
        message = (
            f"You already hold {held} ticket{'' if held == 1 else 's'}, and one customer can hold at "
            f"most {limit} at a time. Buy or release the tickets you hold, or wait until your hold runs out."
        )
        retry_after = max(1, math.ceil((first_end - now).total_seconds()))
    else:
        message, retry_after = f"One customer can hold at most {limit} tickets at a time.", None
    raise LimitReached(message, "hold_limit_reached", retry_after)


def _open_event(conn: Connection, event_id: int, now: datetime, lock: bool = False):
    event = event_row(conn, event_id, lock=lock)
    check_selling(event_id, event.status)
    _check_released(event_id, event.ticket_release_at, now)
    return event


def _check_released(event_id: int, release_at: datetime, now: datetime) -> None:
    """Tickets of the event can be held now (after event_status.check_selling: published)."""
    if now < release_at:
        raise Conflict(f"tickets for event {event_id} are released at {iso(release_at)}", "not_released")


def _open_seated_event(conn: Connection, event_id: int, now: datetime):
    """(venue id, seated ticket type rows) of an event whose tickets are released, in one query."""
    rows = conn.execute(_SEATED_EVENT, {"event_id": event_id}).all()
    if not rows:
        raise NotFound(f"no event {event_id}", "event_not_found")
    check_selling(event_id, rows[0].event_status)
    _check_released(event_id, rows[0].ticket_release_at, now)
    return rows[0].venue_id, [t for t in rows if t.id is not None]


def _on_sale(t, now: datetime) -> bool:
    """The ticket type sells now: not hidden by the organizer, inside its sale window."""
    return (
        not t.hidden and (t.sales_start is None or t.sales_start <= now) and (t.sales_end is None or now < t.sales_end)
    )


def _seated_types(rows: list, event_id: int, now: datetime, wanted: int | None) -> dict[str | None, object]:
    """Section name -> the cheapest seated ticket type on sale now (key None: covers every section),
    from the event's seated ticket type rows, cheapest first."""
    if wanted is not None:
        rows = [t for t in rows if t.id == wanted]
        if not rows:
            raise NotFound(f"event {event_id} has no seated ticket type {wanted}", "ticket_type_not_found")
    by_section: dict[str | None, object] = {}
    for t in rows:
        if not _on_sale(t, now):
            continue
        for section in json.loads(t.sections) or [None]:
            by_section.setdefault(section, t)
    return by_section


def _type_for(types: dict, section: str):
    return types.get(section) or types.get(None)


def _assign_types(type_rows: list, types: dict, seats: list, chosen: Mapping | None, event_id: int, now: datetime):
    """Seat id -> the ticket type row each seat is held with: the buyer's choice for the seat (`chosen`:
    (section, row, label) -> ticket type id) when it is a seated type on sale that covers the seat's
    section, else the cheapest such type (a section several types cover lets the buyer choose; without
    a choice the cheapest applies, as before)."""
    by_id = {t.id: t for t in type_rows}
    assigned = {}
    for seat in seats:
        wanted = (chosen or {}).get((seat.section, seat.row, seat.label))
        if wanted is None:
            found = _type_for(types, seat.section)
            if found is None:
                raise Conflict(f"no ticket type is on sale for section {seat.section}", "not_on_sale")
        else:
            found = by_id.get(wanted)
            if found is None:
                raise NotFound(f"event {event_id} has no seated ticket type {wanted}", "ticket_type_not_found")
            covers = json.loads(found.sections)
            if not _on_sale(found, now) or (covers and seat.section not in covers):
                raise Conflict(f"{found.name} is not on sale for section {seat.section}", "not_on_sale")
        assigned[seat.id] = found
    return assigned


def seat_type_choices(conn: Connection, event_id: int, now: datetime) -> dict[str, list[dict]]:
    """Section name -> the seated ticket types on sale now that cover it, cheapest first, as
    {id, name, price} (key "": those covering every section): what a buyer may choose for a seat."""
    rows = conn.execute(
        select(ticket_types)
        .where(ticket_types.c.event_id == event_id, ticket_types.c.kind == "seated")
        .order_by(ticket_types.c.price, ticket_types.c.id)
    ).all()
    out: dict[str, list[dict]] = {}
    for t in rows:
        if _on_sale(t, now):
            for section in json.loads(t.sections) or [""]:
                out.setdefault(section, []).append({"id": t.id, "name": t.name, "price": t.price})
    return out


def _new_hold(
    conn: Connection,
    event_id: int,
    kind: str,
    quantity: int,
    expires_at: datetime,
    now: datetime,
    client: str | None,
    ticket_type_id: int | None = None,
) -> tuple[int, str]:
    token = secrets.token_urlsafe(24)
    hold_id = conn.execute(
        _INSERT_HOLD,
        {
            "event_id": event_id,
            "token_hash": hash_hold_token(token),
            "kind": kind,
            "ticket_type_id": ticket_type_id,
            "quantity": quantity,
            "status": "active",
            "created_at": now,
            "expires_at": expires_at,
            "client": client,
        },
    ).scalar_one()
    return hold_id, token


def _take_seats(
    conn: Connection, event_id: int, hold_id: int, seats: list, assigned: dict, expires_at: datetime, now: datetime
) -> int:
    """Conditionally mark seats held (each with its ticket type in `assigned`, see _assign_types);
    return how many were actually free."""
    by_type: dict[int, list[int]] = {}
    for seat in seats:
        by_type.setdefault(assigned[seat.id].id, []).append(seat.id)
    taken = 0
    for type_id, seat_ids in by_type.items():
        taken += conn.execute(
            _TAKE_SEATS,
            {
                "for_event": event_id,
                "seat_ids": seat_ids,
                "now": now,
                "new_hold": hold_id,
                "until": expires_at,
                "type_id": type_id,
            },
        ).rowcount
    return taken


def _hold_json(
    hold_id: int,
    token: str,
    seats: list,
    assigned: dict,
    expires_at: datetime,
    kind: str,
    ga_type=None,
    quantity: int = 0,
) -> dict:
    out = {"hold_id": hold_id, "hold_token": token, "kind": kind, "expires_at": iso(expires_at)}
    if kind == "seats":
        out["seats"] = [
            {
                "section": s.section,
                "row": s.row,
                "seat": s.label,
                "index": s.position,
                "ticket_type_id": assigned[s.id].id,
            }
            for s in seats
        ]
        out["quantity"] = len(seats)
    else:
        out.update(seats=[], ticket_type_id=ga_type.id, quantity=quantity)
    return out


def hold_seats(
    conn: Connection,
    event_id: int,
    seats: list[tuple[str, str, str]],
    *,
    ttl_seconds: int | None = None,
    ticket_type_id: int | None = None,
    seat_types: Mapping[tuple[str, str, str], int] | None = None,
    policy: HoldPolicy = HoldPolicy(),
    client: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Hold exactly these (section, row, seat label) seats, or nothing (409; SeatsTaken names the
    seats someone else has).

    `seat_types`: the ticket type the buyer chose for a seat (else the cheapest that covers it).
    `client` (client_identity) is whose share the seats count against (policy.max_per_client).
    """
    now = now or utcnow()
    expires_at = now + policy.ttl(ttl_seconds)
    _check_picks(seats, policy)

    def attempt() -> dict:
        with atomic(conn):
            venue_id, type_rows = _open_seated_event(conn, event_id, now)
            _check_client_limit(conn, client, len(seats), policy, now)
            found, assigned = _picked_seats(conn, event_id, venue_id, type_rows, seats, ticket_type_id, seat_types, now)
            hold_id, token = _new_hold(conn, event_id, "seats", len(found), expires_at, now, client)
            if _take_seats(conn, event_id, hold_id, found, assigned, expires_at, now) != len(found):
                raise _taken(conn, event_id, hold_id, found)
        return _hold_json(hold_id, token, found, assigned, expires_at, "seats")

    return retrying(attempt)


def change_seats(
    conn: Connection,
    hold_id: int,
    token: str | None,
    seats: list[tuple[str, str, str]],
    *,
    seat_types: Mapping[tuple[str, str, str], int] | None = None,
    policy: HoldPolicy = HoldPolicy(),
    client: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Make the live seat hold `hold_id` (a buyer's cart) hold exactly these seats instead, in one
    transaction: all of them, or nothing changes (409; SeatsTaken names the seats someone else has).

    The hold keeps its id, token and expiry, so the cart keeps one countdown; seats it held and still
    wants stay held throughout, seats it no longer wants are free when the transaction commits. The
    proof that nothing is sold twice is hold_seats': the new seats are taken with the same conditional
    UPDATE, whose row count must equal the seats asked for. The hold row is locked first, so a
    purchase of the same hold runs before or after the change, never during it.
    """
    now = now or utcnow()
    _check_picks(seats, policy)

    def attempt() -> dict:
        with atomic(conn):
            hold = live_hold(conn, hold_id, token, now, lock=True)
            if hold.kind != "seats":
                raise Conflict(f"hold {hold_id} holds general admission tickets, not seats", "not_a_seat_hold")
            venue_id, type_rows = _open_seated_event(conn, hold.event_id, now)
            _check_client_limit(conn, client, len(seats) - hold.quantity, policy, now)
            found, assigned = _picked_seats(conn, hold.event_id, venue_id, type_rows, seats, None, seat_types, now)
            _free_held_seats(conn, [hold_id])
            if _take_seats(conn, hold.event_id, hold_id, found, assigned, hold.expires_at, now) != len(found):
                raise _taken(conn, hold.event_id, hold_id, found)
            conn.execute(update(holds).where(holds.c.id == hold_id).values(quantity=len(found)))
        return _hold_json(hold_id, token, found, assigned, hold.expires_at, "seats")

    return retrying(attempt)


def _check_picks(seats: list, policy: HoldPolicy) -> None:
    policy.quantity(len(seats))
    if len(set(seats)) != len(seats):
        raise Invalid("the same seat is asked for twice", "duplicate_seat")


def _picked_seats(conn, event_id, venue_id, type_rows, seats, ticket_type_id, seat_types, now) -> tuple[list, dict]:
    """The venue rows of the (section, row, label) seats asked for, and the ticket type of each (_assign_types)."""
    found = conn.execute(_SEATS_BY_LABEL, {"venue_id": venue_id, "labels": seats}).all()
    if len(found) != len(seats):
        known = {(s.section, s.row, s.label) for s in found}
        missing = next(s for s in seats if s not in known)
        raise _which_is_unknown(conn, venue_id, *missing)
    types = _seated_types(type_rows, event_id, now, ticket_type_id)
    no_type = sorted({s.section for s in found if _type_for(types, s.section) is None})
    if no_type and not seat_types:
        raise Conflict(f"no ticket type is on sale for section(s) {', '.join(no_type)}", "not_on_sale")
    return found, _assign_types(type_rows, types, found, seat_types, event_id, now)


class SeatsTaken(Conflict):
    """Some of the seats asked for are held or sold by someone else: `seats`, as (section, row, label)."""

    code = "seats_unavailable"

    def __init__(self, seats: list[tuple[str, str, str]]):
        names = ", ".join(seat_label(*seat) for seat in seats)
        super().__init__(f"{names} {'was' if len(seats) == 1 else 'were'} just taken; nothing was held")
        self.seats = seats


def _taken(conn: Connection, event_id: int, hold_id: int, found: list) -> SeatsTaken:
    """Which of `found` the conditional UPDATE of `hold_id` could not take (read in the same transaction,
    which is then rolled back)."""
    mine = set(
        conn.execute(
            select(event_seats.c.seat_id).where(
                event_seats.c.event_id == event_id,
                event_seats.c.seat_id.in_([s.id for s in found]),
                event_seats.c.hold_id == hold_id,
                event_seats.c.status == "held",
            )
        ).scalars()
    )
    return SeatsTaken([(s.section, s.row, s.label) for s in found if s.id not in mine])


class _Collision(Exception):
    """Another transaction took the chosen seats between our read and our update; `taken_at`: the
    position of a seat another transaction is still taking (PostgreSQL), to wait for before trying again."""

    def __init__(self, taken_at: int | None = None):
        super().__init__()
        self.taken_at = taken_at


# Free seats a best-available pick reads at most inside the write transaction (rows are read whole, so
# one long row may exceed it); when no block turned up by then, the search goes on outside it.
LOCKED_SCAN_SEATS = 1024


@dataclass(frozen=True)
class _SearchOn:
    """What a pick under the write lock hands to the search outside it: no block among the free seats up to
    `after` (positions), within LOCKED_SCAN_SEATS of where it started."""

    after: int
    venue_id: int
    types: dict


def hold_best_available(
    conn: Connection,
    event_id: int,
    count: int,
    *,
    section: str | None = None,
    ttl_seconds: int | None = None,
    ticket_type_id: int | None = None,
    policy: HoldPolicy = HoldPolicy(),
    client: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Hold `count` adjacent seats in one row: the front-most row, then closest to its centre.

    The pick runs inside the write transaction but reads at most LOCKED_SCAN_SEATS free seats there.
    When those hold no block (a fragmented or nearly sold-out event), the transaction ends having
    written nothing, the search for the first row with a block goes on outside it, and the pick is
    made again in a new transaction from that row. So a search through thousands of free seats never
    keeps other buyers waiting; a 409 from that search is true of the database as it read it.

    On SQLite the write transaction serialises picks (BEGIN IMMEDIATE). On PostgreSQL picks run at
    once, in every hub process: see _pick_block.
    """
    now = now or utcnow()
    expires_at = now + policy.ttl(ttl_seconds)
    policy.quantity(count)

    def attempt(after: int) -> dict | _SearchOn:
        with atomic(conn):
            venue_id, type_rows = _open_seated_event(conn, event_id, now)
            _check_client_limit(conn, client, count, policy, now)
            types = _seated_types(type_rows, event_id, now, ticket_type_id)
            if (
                section is not None
                and conn.execute(_SECTION_EXISTS, {"venue_id": venue_id, "section": section}).first() is None
            ):
                raise NotFound(f"no section {section!r}", "unknown_section")
            block, row_before = _pick_block(conn, event_id, venue_id, count, section, types, now, after)
            if block is None:
                if row_before is None:
                    raise _no_block(count)
                return _SearchOn(row_before, venue_id, types)  # nothing written: the empty transaction commits
            hold_id, token = _new_hold(conn, event_id, "seats", count, expires_at, now, client)
            assigned = {seat.id: _type_for(types, seat.section) for seat in block}
            if _take_seats(conn, event_id, hold_id, block, assigned, expires_at, now) != count:
                raise _Collision()
        return _hold_json(hold_id, token, block, assigned, expires_at, "seats")

    after = -1
    for _ in range(50):
        try:
            result = retrying(partial(attempt, after))
        except _Collision as collision:
            if collision.taken_at is not None:  # in a transaction of its own, holding no other lock
                with atomic(conn):
                    conn.execute(_WAIT_FOR_SEAT, {"event_id": event_id, "position": collision.taken_at})
            continue
        if not isinstance(result, _SearchOn):
            return result
        # outside the write transaction: only a read, which waits for no writer
        block, after = _find_block(conn, event_id, result.venue_id, count, section, result.types, now, result.after)
        if block is None:
            raise _no_block(count)
    raise Conflict("seats are changing hands too fast; try again", "busy")


def _no_block(count: int) -> Conflict:
    return Conflict(f"no {count} adjacent seats are available", "seats_unavailable")


def _pick_block(
    conn: Connection,
    event_id: int,
    venue_id: int,
    count: int,
    section: str | None,
    types: dict,
    now: datetime,
    after: int,
) -> tuple[list | None, int | None]:
    """_find_block inside the hold's write transaction (at most LOCKED_SCAN_SEATS free seats read).

    PostgreSQL: no lock serialises the picks. Each sees the seats committed as free, so concurrent
    picks often choose the same block; a block is only taken once its seats are locked
    (FOR UPDATE SKIP LOCKED), and seats another transaction has locked are passed over by the next
    pick. When only such seats are left, the transaction ends, waits for one of those transactions
    to end (holding no lock, so no deadlock) and starts again (_Collision). The conditional UPDATE
    that takes the seats stays the proof that nothing is sold twice; the locks only keep concurrent
    picks from choosing the same seats.
    """
    if is_sqlite(conn):  # BEGIN IMMEDIATE: no other writer is picking
        return _find_block(conn, event_id, venue_id, count, section, types, now, after, LOCKED_SCAN_SEATS)
    busy: set[int] = set()  # positions being taken by other transactions
    while True:
        block, row_before = _find_block(
            conn, event_id, venue_id, count, section, types, now, after, LOCKED_SCAN_SEATS, busy
        )
        if block is None:
            if row_before is None and busy:  # only seats being taken are left: wait for one, then again
                raise _Collision(taken_at=min(busy))
            return block, row_before
        locked = set(
            conn.execute(
                _LOCK_FREE_SEATS, {"event_id": event_id, "now": now, "seat_ids": [seat.id for seat in block]}
            ).scalars()
        )
        if len(locked) == count:
            return block, row_before
        busy.update(seat.position for seat in block if seat.id not in locked)
        after = row_before  # the rows before this one had no block


class _LayoutSeat(NamedTuple):
    id: int
    section: str
    row: str
    label: str
    position: int
    section_order: int
    row_order: int
    seat_order: int


_layouts: OrderedDict[tuple[str, int], list[_LayoutSeat]] = OrderedDict()
_layouts_lock = threading.Lock()


def venue_layout(conn: Connection, venue_id: int) -> list[_LayoutSeat]:
    """A venue's seats by position. Layouts never change once created, so they are cached."""
    key = (conn.engine.url.render_as_string(hide_password=True), venue_id)
    with _layouts_lock:
        if key in _layouts:
            _layouts.move_to_end(key)
            return _layouts[key]
    rows = conn.execute(
        select(
            venue_seats.c.id,
            venue_seats.c.section,
            venue_seats.c.row,
            venue_seats.c.label,
            venue_seats.c.position,
            venue_seats.c.section_order,
            venue_seats.c.row_order,
            venue_seats.c.seat_order,
        )
        .where(venue_seats.c.venue_id == venue_id)
        .order_by(venue_seats.c.position)
    ).all()
    layout = [_LayoutSeat(*r) for r in rows]
    with _layouts_lock:
        _layouts[key] = layout
        while len(_layouts) > 32:
            _layouts.popitem(last=False)
    return layout


def _find_block(
    conn: Connection,
    event_id: int,
    venue_id: int,
    count: int,
    section: str | None,
    types: dict,
    now: datetime,
    after: int = -1,
    max_seats: int | None = None,
    busy: set[int] = frozenset(),
) -> tuple[list | None, int | None]:
    """Scan the free seats after position `after` in seat-map order, a page at a time, until a row holds a block.
    Positions in `busy` count as taken.

    Returns (block, the position before its row's first free seat); (None, None) when no row holds
    one; with `max_seats`, once that many free seats were read without a block, (None, the position
    before the next row) at the start of the next row. Only positions come from the database (an
    index on unsold seats in position order); rows and adjacency come from the cached venue layout.
    """
    layout = venue_layout(conn, venue_id)
    page_size = max(128, count * 8)  # most picks end in the first row or two; later pages grow
    row_key, row_seats, read = None, [], 0
    while True:
        page = (
            conn.execute(_FREE_POSITIONS, {"event_id": event_id, "now": now, "after": after, "page": page_size})
            .scalars()
            .all()
        )
        for position in page:
            read += 1
            seat = layout[position]
            if (section is not None and seat.section != section) or position in busy:
                continue
            key = (seat.section_order, seat.row_order)
            if key != row_key:
                block = _best_in_row(row_seats, count, types)
                if block:
                    return block, row_seats[0].position - 1
                if max_seats is not None and read > max_seats:
                    return None, position - 1
                row_key, row_seats = key, []
            row_seats.append(seat)
        if len(page) < page_size:
            block = _best_in_row(row_seats, count, types)
            return (block, row_seats[0].position - 1) if block else (None, None)
        after = page[-1]
        page_size = min(2 * page_size, 1024)
        if max_seats is not None:  # not much past the bound: what it takes to finish the row
            page_size = max(128, min(page_size, max_seats + 1 - read))


def _best_in_row(seats: list, count: int, types: dict):
    if len(seats) < count or not seats or _type_for(types, seats[0].section) is None:
        return None
    runs, run = [], [seats[0]]
    for prev, seat in zip(seats, seats[1:]):
        if seat.seat_order == prev.seat_order + 1:
            run.append(seat)
        else:
            runs.append(run)
            run = [seat]
    runs.append(run)
    centre = (seats[0].seat_order + seats[-1].seat_order) / 2  # of the free seats; good enough
    best = None
    for run in runs:
        for start in range(len(run) - count + 1):
            block = run[start : start + count]
            distance = abs((block[0].seat_order + block[-1].seat_order) / 2 - centre)
            if best is None or distance < best[0]:
                best = (distance, block)
    return best[1] if best else None


def hold_ga(
    conn: Connection,
    event_id: int,
    ticket_type_id: int,
    quantity: int,
    *,
    ttl_seconds: int | None = None,
    policy: HoldPolicy = HoldPolicy(),
    client: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Hold `quantity` general-admission tickets, or nothing (409)."""
    now = now or utcnow()
    expires_at = now + policy.ttl(ttl_seconds)
    policy.quantity(quantity)

    def attempt() -> dict:
        with atomic(conn):
            _open_event(conn, event_id, now)
            _check_client_limit(conn, client, quantity, policy, now)
            ga = conn.execute(
                select(ticket_types)
                .where(ticket_types.c.id == ticket_type_id, ticket_types.c.event_id == event_id)
                .with_for_update()
            ).first()
            if ga is None or ga.kind != "ga":
                raise NotFound(
                    f"event {event_id} has no general admission ticket type {ticket_type_id}", "ticket_type_not_found"
                )
            if not _on_sale(ga, now):
                raise Conflict(f"ticket type {ga.name!r} is not on sale now", "not_on_sale")
            left = _ga_places_left(conn, ga, now)
            if quantity > left:
                raise Conflict(f"only {max(0, left)} tickets of {ga.name!r} are available", "sold_out")
            hold_id, token = _new_hold(conn, event_id, "ga", quantity, expires_at, now, client, ticket_type_id)
        return _hold_json(hold_id, token, [], {}, expires_at, "ga", ga, quantity)

    return retrying(attempt)


def _ga_places_left(conn: Connection, ga, now: datetime) -> int:
    """A GA ticket type's capacity less what is sold and what live holds keep (may be below 0
    if the capacity was lowered)."""
    held = conn.execute(
        select(func.coalesce(func.sum(holds.c.quantity), 0)).where(holds.c.ticket_type_id == ga.id, hold_is_live(now))
    ).scalar_one()
    return ga.capacity - ga.sold - held


def ga_available(conn: Connection, ticket_type_id: int, now: datetime | None = None) -> int:
    ga = conn.execute(select(ticket_types).where(ticket_types.c.id == ticket_type_id)).first()
    return max(0, _ga_places_left(conn, ga, now or utcnow()))


def _check_token(hold, token: str | None) -> None:
    if not token or not same_secret(hold.token_hash, hash_hold_token(token)):
        raise Forbidden("the hold token does not match this hold", "bad_hold_token")


def live_status(hold, now: datetime) -> str:
    if hold.status == "active" and hold.expires_at <= now:
        return "expired"
    return hold.status


def find_hold(conn: Connection, hold_id: int, token: str | None, *, lock: bool = False):
    """The hold's row, once `token` proves the caller owns it (404 hold_not_found, 403 bad_hold_token).

    `lock`: inside a transaction, lock the row until it ends (whoever changes the hold does).
    """
    hold = conn.execute(_HOLD_BY_ID_LOCKED if lock else _HOLD_BY_ID, {"hold_id": hold_id}).first()
    if hold is None:
        raise NotFound(f"no hold {hold_id}", "hold_not_found")
    _check_token(hold, token)
    return hold


def live_hold(conn: Connection, hold_id: int, token: str | None, now: datetime, *, lock: bool = False):
    """find_hold, and the hold must still be live: 409 hold_expired, hold_released or hold_purchased."""
    hold = find_hold(conn, hold_id, token, lock=lock)
    status = live_status(hold, now)
    if status != "active":
        raise Conflict(f"hold {hold_id} is {status}", f"hold_{status}")
    return hold


def get_hold(conn: Connection, hold_id: int, token: str | None, now: datetime | None = None) -> dict:
    now = now or utcnow()
    hold = find_hold(conn, hold_id, token)
    seats = (
        conn.execute(
            select(
                venue_seats.c.section,
                venue_seats.c.row,
                venue_seats.c.label,
                venue_seats.c.position,
                event_seats.c.ticket_type_id,
            )
            .join(event_seats, event_seats.c.seat_id == venue_seats.c.id)
            .where(event_seats.c.hold_id == hold_id, event_seats.c.status == "held")
            .order_by(venue_seats.c.position)
        ).all()
        if live_status(hold, now) == "active"
        else []
    )
    return {
        "hold_id": hold.id,
        "event_id": hold.event_id,
        "kind": hold.kind,
        "quantity": hold.quantity,
        "status": live_status(hold, now),
        "expires_at": iso(hold.expires_at),
        "seats": [
            {
                "section": s.section,
                "row": s.row,
                "seat": s.label,
                "index": s.position,
                "ticket_type_id": s.ticket_type_id,
            }
            for s in seats
        ],
    }


def release_hold(conn: Connection, hold_id: int, token: str | None, now: datetime | None = None) -> None:
    """Release a live hold. Only the token holder may; a dead hold gives 409."""
    now = now or utcnow()
    with atomic(conn):
        live_hold(conn, hold_id, token, now, lock=True)
        conn.execute(update(holds).where(holds.c.id == hold_id).values(status="released"))
        _free_held_seats(conn, [hold_id])


def release_event_holds(conn: Connection, event_id: int) -> int:
    """Release every active hold of the event and free its seats (inside the caller's transaction), so none
    can become an order any more: event_admin.cancel_event. A purchase that has its hold locked finishes
    first (this UPDATE waits for the lock), so its order exists once this returns."""
    ids = list(
        conn.execute(
            update(holds)
            .where(holds.c.event_id == event_id, holds.c.status == "active")
            .values(status="released")
            .returning(holds.c.id)
        ).scalars()
    )
    if ids:
        _free_held_seats(conn, ids)
    return len(ids)


def _free_held_seats(conn: Connection, hold_ids: list[int]) -> int:
    return conn.execute(
        update(event_seats)
        .where(
            event_seats.c.hold_id.in_(hold_ids),
            event_seats.c.status == "held",
        )
        .values(status="available", hold_id=None, held_until=None, ticket_type_id=None)
    ).rowcount


def sweep_expired(conn: Connection, now: datetime | None = None, batch: int = 500) -> int:
    """Mark expired holds and free their seats (housekeeping: correctness never depends on it)."""
    now = now or utcnow()
    total = 0
    while True:
        with atomic(conn):
            ids = list(
                conn.execute(
                    select(holds.c.id).where(holds.c.status == "active", holds.c.expires_at <= now).limit(batch)
                ).scalars()
            )
            if not ids:
                return total
            conn.execute(
                update(holds)
                .where(holds.c.id.in_(ids), holds.c.status == "active", holds.c.expires_at <= now)
                .values(status="expired")
            )
            _free_held_seats(conn, ids)
        total += len(ids)
