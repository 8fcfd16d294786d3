"""Gate devices: creation with a one-time enrolment token, enrolment, credentials, management.

A device is created by an organizer (state ``pending``) together with an
enrolment token that expires. The gate redeems the token once, registering
its own Ed25519 public key, and receives a random bearer credential. The hub
stores only SHA-256 hashes of tokens and credentials. Revoking a device keeps
its credential hash, so its calls get a precise ``device_revoked`` 401.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, insert, select, update

from common.protocol import (
    DEFAULT_REENTRY,
    DIRECTIONS,
    PEER_ROSTER_DOMAIN,
    PEER_ROSTER_TYPE,
    PUSH_DOMAIN,
    REENTRY_POLICIES,
    MovementKind,
)
from common.signing import SigningKey
from common.signing.canonical import b64encode, canonical_bytes

from ..db import atomic
from ..schema import events, ticket_types
from ..schema_devices import devices, enrolment_tokens
from .clock import iso, utcnow
from .errors import Conflict, Invalid, NotFound, ServiceError
from .events import door_window, event_row
from .validate import integer, list_of, obj, one_of, string
from .venues import seat_labels

ENROLMENT_TTL = timedelta(hours=24)
ENROL_PREFIX = "te_"
CREDENTIAL_PREFIX = "td_"

MAX_MORE_EVENTS = 20
DOOR_FIELDS = {  # how a device works at the door, set on the hub and pulled by the gate
    "zones": list_of(integer(1, 16), 16),
    "direction": one_of(*DIRECTIONS),
    "reentry": one_of(*REENTRY_POLICIES),
    # events served besides event_id (same organizer): a festival gate, a double bill
    "more_event_ids": list_of(integer(1), MAX_MORE_EVENTS),
}
DEVICE_SPEC = obj(required={"name": string(100, 1), "event_id": integer(1)}, optional=DOOR_FIELDS)
CHANGE_SPEC = obj(optional={"name": string(100, 1), "event_id": integer(1), **DOOR_FIELDS})


class DeviceAuthError(ServiceError):
    """A device credential or enrolment token that does not (or no longer) work."""

    status = 401
    code = "unauthorized"


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- creation and enrolment ------------------------------------------------


def create_device(
    conn: Connection, data: dict, now: datetime | None = None, ttl: timedelta = ENROLMENT_TTL
) -> tuple[dict, str]:
    """Create a pending device; return (device, one-time enrolment token)."""
    now = now or utcnow()
    spec = DEVICE_SPEC(data, "device")
    with atomic(conn):
        more = _more_events(conn, spec["event_id"], spec.get("more_event_ids", []))
        device_id = conn.execute(
            insert(devices)
            .values(
                name=spec["name"],
                event_id=spec["event_id"],
                zones=json.dumps(sorted(set(spec.get("zones", [])))),
                direction=spec.get("direction", MovementKind.ENTRY.value),
                reentry=spec.get("reentry", DEFAULT_REENTRY),
                more_event_ids=json.dumps(more),
                status="pending",
                config_version=1,
                created_at=now,
            )
            .returning(devices.c.id)
        ).scalar_one()
        token = _new_enrolment_token(conn, device_id, now, ttl)
    return get_device(conn, device_id), token


def new_enrolment_token(
    conn: Connection, device_id: int, now: datetime | None = None, ttl: timedelta = ENROLMENT_TTL
) -> str:
    """A fresh token to (re-)enrol a device, e.g. after replacing the gate's SD card."""
    now = now or utcnow()
    with atomic(conn):
        if _device_row(conn, device_id).status == "revoked":
            raise Conflict(f"device {device_id} is revoked", "device_revoked")
        return _new_enrolment_token(conn, device_id, now, ttl)


def _new_enrolment_token(conn: Connection, device_id: int, now: datetime, ttl: timedelta) -> str:
    token = ENROL_PREFIX + secrets.token_urlsafe(24)
    conn.execute(
        insert(enrolment_tokens).values(
            device_id=device_id, token_hash=hash_secret(token), created_at=now, expires_at=now + ttl
        )
    )
    return token


def enroll(conn: Connection, token: str, public_key: str, now: datetime | None = None) -> tuple[dict, str]:
    """Redeem an enrolment token (once, atomically); return (device, bearer credential)."""
    now = now or utcnow()
    _public_key(public_key)
    if not isinstance(token, str) or not token:
        raise DeviceAuthError("an enrolment token is required", "enrolment_token_invalid")
    credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    with atomic(conn):
        claimed = conn.execute(
            update(enrolment_tokens)
            .where(
                enrolment_tokens.c.token_hash == hash_secret(token),
                enrolment_tokens.c.used_at.is_(None),
                enrolment_tokens.c.expires_at > now,
            )
            .values(used_at=now)
            .returning(enrolment_tokens.c.device_id)
        ).first()
        if claimed is None:
            raise _why_token_failed(conn, token, now)
        device = _device_row(conn, claimed.device_id)
        if device.status == "revoked":
            raise DeviceAuthError(f"device {device.id} is revoked", "device_revoked")
        conn.execute(
            update(devices)
            .where(devices.c.id == device.id)
            .values(
                status="active",
                public_key=public_key,
                credential_hash=hash_secret(credential),
                enrolled_at=now,
            )
        )
        roster_changed(conn, device.event_id)  # a new configuration for it, and its peers learn its key
    return get_device(conn, claimed.device_id), credential


def _why_token_failed(conn: Connection, token: str, now: datetime) -> DeviceAuthError:
    row = conn.execute(select(enrolment_tokens).where(enrolment_tokens.c.token_hash == hash_secret(token))).first()
    if row is None:
        return DeviceAuthError("unknown enrolment token", "enrolment_token_invalid")
    if row.used_at is not None:
        return DeviceAuthError("this enrolment token was already used: create a new one", "enrolment_token_used")
    return DeviceAuthError("this enrolment token has expired: create a new one", "enrolment_token_expired")


def _public_key(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (AttributeError, UnicodeEncodeError, binascii.Error, ValueError):
        raise Invalid("public_key must be a base64 raw 32-byte Ed25519 public key", "invalid_public_key") from None


# --- authentication --------------------------------------------------------


def device_for_credential(conn: Connection, credential: str) -> dict:
    """The active device holding ``credential``; DeviceAuthError otherwise."""
    if not credential:
        raise DeviceAuthError("this route needs a device credential (Authorization: Bearer)")
    row = conn.execute(select(devices).where(devices.c.credential_hash == hash_secret(credential))).mappings().first()
    if row is None:
        raise DeviceAuthError("unknown device credential", "device_unknown")
    if row["status"] == "revoked":
        raise DeviceAuthError(f"device {row['id']} ({row['name']}) has been revoked", "device_revoked")
    return dict(row)


def verify_push_signature(device: dict, body: bytes, signature_b64: str) -> None:
    """Each push body is signed by the device's own key (domain-separated)."""
    try:
        signature = base64.b64decode((signature_b64 or "").encode("ascii"), validate=True)
        _public_key(device["public_key"]).verify(signature, PUSH_DOMAIN + body)
    except (InvalidSignature, binascii.Error, UnicodeEncodeError, ValueError, Invalid):
        raise DeviceAuthError("the batch signature does not verify with this device's key", "bad_signature") from None


# --- management --------------------------------------------------------------


def _device_row(conn: Connection, device_id: int):
    row = conn.execute(select(devices).where(devices.c.id == device_id)).first()
    if row is None:
        raise NotFound(f"no device {device_id}", "device_not_found")
    return row


def device_json(row) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "event_id": row.event_id,
        "zones": json.loads(row.zones),
        "direction": row.direction,
        "reentry": row.reentry,
        "more_event_ids": json.loads(row.more_event_ids),
        "status": row.status,
        "config_version": row.config_version,
        "created_at": iso(row.created_at),
        "enrolled_at": iso(row.enrolled_at),
        "revoked_at": iso(row.revoked_at),
        "last_sync_at": iso(row.last_sync_at),
        "clock_offset_s": row.clock_offset_s,
        "last_rtt_ms": row.last_rtt_ms,
        "backlog": row.backlog,
        "pull_cursor": row.pull_cursor,
    }


def get_device(conn: Connection, device_id: int) -> dict:
    return device_json(_device_row(conn, device_id))


def list_devices(conn: Connection, event_id: int | None = None, organizer_id: int | None = None) -> list[dict]:
    query = select(devices).order_by(devices.c.id)
    if event_id is not None:
        query = query.where(devices.c.event_id == event_id)
    if organizer_id is not None:
        query = query.join(events, events.c.id == devices.c.event_id).where(events.c.organizer_id == organizer_id)
    return [device_json(r) for r in conn.execute(query)]


def change_device(conn: Connection, device_id: int, data: dict) -> dict:
    """Rename or reassign (event, further events, zones, direction, re-entry); the gate picks it up at its
    next pull."""
    spec = CHANGE_SPEC(data, "device")
    with atomic(conn):
        row = _device_row(conn, device_id)
        if row.status == "revoked":
            raise Conflict(f"device {device_id} is revoked", "device_revoked")
        if "event_id" in spec or "more_event_ids" in spec:
            more = spec.get("more_event_ids", json.loads(row.more_event_ids))
            spec["more_event_ids"] = _more_events(conn, spec.get("event_id", row.event_id), more)
        values = {k: v for k, v in spec.items() if k not in ("zones", "more_event_ids")}
        if "zones" in spec:
            values["zones"] = json.dumps(sorted(set(spec["zones"])))
        if "more_event_ids" in spec:
            values["more_event_ids"] = json.dumps(spec["more_event_ids"])
        if values:
            # an active device's name and event are in its peers' rosters: they get a new configuration too
            peers_too = row.status == "active" and ("name" in values or "event_id" in values)
            bump = {} if peers_too else {"config_version": devices.c.config_version + 1}
            conn.execute(update(devices).where(devices.c.id == device_id).values(**values, **bump))
            if peers_too:
                roster_changed(conn, row.event_id, spec.get("event_id", row.event_id))
    return get_device(conn, device_id)


def revoke_device(conn: Connection, device_id: int, now: datetime | None = None) -> dict:
    """Lock a device out: every later call with its credential gets 401 device_revoked."""
    now = now or utcnow()
    with atomic(conn):
        row = _device_row(conn, device_id)
        revoked = conn.execute(
            update(devices)
            .where(devices.c.id == device_id, devices.c.status != "revoked")
            .values(status="revoked", revoked_at=now)
        ).rowcount
        if revoked and row.status == "active":
            roster_changed(conn, row.event_id)  # its peers drop its key: its messages are refused
        conn.execute(
            update(enrolment_tokens)
            .where(enrolment_tokens.c.device_id == device_id, enrolment_tokens.c.used_at.is_(None))
            .values(used_at=now)
        )
    return get_device(conn, device_id)


def _more_events(conn: Connection, event_id: int, more: list[int]) -> list[int]:
    """The further events a device of ``event_id`` serves, checked: they exist and belong to the same
    organizer (a gate pushes scans of its organizer's events only, see services.sync)."""
    main = event_row(conn, event_id)
    more = sorted(set(more) - {event_id})
    if not more:
        return []
    found = {
        r.id: r.organizer_id
        for r in conn.execute(select(events.c.id, events.c.organizer_id).where(events.c.id.in_(more)))
    }
    for other in more:
        if other not in found:
            raise NotFound(f"no event {other}", "event_not_found")
        if found[other] != main.organizer_id:
            raise Invalid(f"event {other} belongs to another organizer than event {event_id}", "foreign_event")
    return more


def served_events(device: dict) -> list[int]:
    """Every event a device serves: its event, then the further ones."""
    more = device.get("more_event_ids") or "[]"
    return [device["event_id"], *(json.loads(more) if isinstance(more, str) else more)]


def config_changed(conn: Connection, event_id: int) -> None:
    """An event's door settings, ticket types or title changed: every device serving it pulls its
    configuration again (inside the caller's transaction)."""
    serving = [
        r.id
        for r in conn.execute(select(devices.c.id, devices.c.event_id, devices.c.more_event_ids))
        if r.event_id == event_id or event_id in json.loads(r.more_event_ids)
    ]
    if serving:
        conn.execute(
            update(devices).where(devices.c.id.in_(serving)).values(config_version=devices.c.config_version + 1)
        )


def device_config(conn: Connection, device: dict, signer: SigningKey | None = None) -> dict:
    """What the gate writes to its gate.json: identity, direction, zones, re-entry, and per event served
    its title, door window and time zone, ticket types (name, own validity), seat labels, whether ADMIT
    shows the attendee's name, and the supervisor PIN's hash (docs/sync-protocol.md, "Configuration");
    with ``signer`` (the hub's ticket key) also its peers, signed (docs/peers.md)."""
    zones = device["zones"] if isinstance(device["zones"], list) else json.loads(device["zones"])
    return {
        "config_version": device["config_version"],
        "device_id": device["id"],
        "gate_id": f"device-{device['id']}",
        "gate_name": device["name"],
        "direction": device["direction"],
        "reentry": device["reentry"],
        "zones": zones,
        "events": [_event_config(conn, event_row(conn, event_id)) for event_id in served_events(device)],
        "other_events": _other_events(conn, device),
        **({"peers": signed_roster(conn, device, signer)} if signer is not None else {}),
    }


OTHER_EVENTS_SENT = 200


def _other_events(conn: Connection, device: dict) -> list[dict]:
    """The organizer's other events by title and start (the OTHER_EVENTS_SENT starting last), so a gate
    names the event of a wrong-event ticket: "this ticket is for Spring Gala, 12 Dec"."""

    main = event_row(conn, device["event_id"])
    rows = conn.execute(
        select(events.c.id, events.c.title, events.c.starts_at, events.c.timezone)
        .where(events.c.organizer_id.is_not_distinct_from(main.organizer_id), events.c.id.not_in(served_events(device)))
        .order_by(events.c.starts_at.desc())
        .limit(OTHER_EVENTS_SENT)
    )
    return [{"event_id": r.id, "name": r.title, "starts_at": iso(r.starts_at), "timezone": r.timezone} for r in rows]


def _event_config(conn: Connection, event) -> dict:
    doors, ends = door_window(event)
    types = conn.execute(
        select(ticket_types.c.id, ticket_types.c.name, ticket_types.c.valid_from, ticket_types.c.valid_until)
        .where(ticket_types.c.event_id == event.id)
        .order_by(ticket_types.c.id)
    )
    return {
        "event_id": event.id,
        "name": event.title,
        "starts_at": iso(event.starts_at),
        "doors_open": iso(doors),
        "ends": iso(ends),
        "timezone": event.timezone,
        "show_names": event.door_shows_names,
        "supervisor_pin_hash": event.supervisor_pin_hash,
        "ticket_types": [
            {"id": t.id, "name": t.name, "valid_from": iso(t.valid_from), "valid_until": iso(t.valid_until)}
            for t in types
        ],
        "seat_labels": seat_labels(conn, event.venue_id) if event.venue_id is not None else [],
    }


# --- peers: the gates of one event that exchange movements on the LAN (docs/peers.md) ---------


def peer_roster(conn: Connection, device: dict) -> list[dict]:
    """The other active devices of the device's event: whose signed movements its gate accepts
    (their public keys) and where it may find them (the address each reported at its last pull)."""
    rows = conn.execute(
        select(devices.c.id, devices.c.name, devices.c.public_key, devices.c.peer_address)
        .where(devices.c.event_id == device["event_id"], devices.c.status == "active", devices.c.id != device["id"])
        .order_by(devices.c.id)
    )
    return [
        {
            "device_id": r.id,
            "gate_id": f"device-{r.id}",
            "name": r.name,
            "public_key": r.public_key,
            "address": r.peer_address,
        }
        for r in rows
    ]


def signed_roster(conn: Connection, device: dict, signer: SigningKey, now: datetime | None = None) -> dict:
    """The device's roster as a document signed by the hub's ticket key, like a revocation list: a gate
    accepts it only when its keyring verifies it, for itself and its event, and not older than the one
    it has (so whoever sits between gate and hub can neither add a key nor bring back a revoked one)."""
    doc = {
        "type": PEER_ROSTER_TYPE,
        "version": 1,
        "device_id": device["id"],
        "event_id": device["event_id"],
        "issued_at": (now or utcnow()).timestamp(),
        "peers": peer_roster(conn, device),
    }
    doc["signature"] = {"kid": signer.kid, "value": b64encode(signer.sign(canonical_bytes(doc, PEER_ROSTER_DOMAIN)))}
    return doc


def roster_changed(conn: Connection, *event_ids: int) -> None:
    """A device of these events joined, left, was renamed or moved: every device of them gets a new
    configuration version, so its gate pulls the new roster."""
    conn.execute(
        update(devices)
        .where(devices.c.event_id.in_(set(event_ids)))
        .values(config_version=devices.c.config_version + 1)
    )


def note_peer_address(conn: Connection, device: dict, host: str | None, port: int | None) -> dict:
    """Record where the device's peers reach it (its request's address and the port it reported;
    port 0: nowhere, its exchange is off). A change reaches the other gates of the event with their
    next configuration. Returns the device as it is now."""
    address = None
    if host and port:
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if address == device.get("peer_address"):  # the common case: nothing to write
        return device
    with atomic(conn):
        conn.execute(update(devices).where(devices.c.id == device["id"]).values(peer_address=address))
        roster_changed(conn, device["event_id"])
        version = conn.execute(select(devices.c.config_version).where(devices.c.id == device["id"])).scalar_one()
    return {**device, "peer_address": address, "config_version": version}
