"""Peer messages: a gate's own admissions and exits, signed with its device key.

Body (compact JSON, ``common.protocol.encode_peer_message``)::

    {"device_id": 7, "sent_at": 1795283256.03,
     "movements": [{"scan_id": "32 hex", "event_id": 1, "ticket_id": 1007, "kind": "entry", "at": 1795283250.2}]}

Header ``X-Peer-Signature``: base64 Ed25519 of ``PEER_DOMAIN`` + the body bytes. The
receiver takes the key of ``device_id`` from its roster (so a device that is not the
event's, or was revoked, is refused), verifies the exact bytes, then the fields. A
replayed message changes nothing: the store folds each scan id once.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.exceptions import InvalidSignature

from common.protocol import (
    ID_MAX,
    PEER_DOMAIN,
    PEER_FIELDS,
    PEER_MAX_BYTES,
    PEER_MAX_MOVEMENTS,
    PEER_MOVEMENT_FIELDS,
    MovementKind,
    encode_peer_message,
    is_scan_id,
    plausible_time,
)

from ..rules import Movement
from .roster import Peer, Roster


class PeerRefused(Exception):
    """A peer message this gate does not accept: nothing of it was applied."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code


def sign_message(device_id: int, key, sent_at: float, movements: list[dict[str, Any]]) -> tuple[bytes, str]:
    """(body, base64 signature) of a message carrying ``movements`` (PEER_MOVEMENT_FIELDS each)."""
    body = encode_peer_message(device_id, sent_at, movements)
    return body, base64.b64encode(key.sign(PEER_DOMAIN + body)).decode("ascii")


def verify_message(body: bytes, signature: str, roster: Roster, event_ids: set[int]) -> tuple[Peer, list[Movement]]:
    """The sending peer and the movements of a message for this gate's events (others are left
    out). Raises PeerRefused for anything not signed by a roster device or not well-formed."""
    if len(body) > PEER_MAX_BYTES:
        raise PeerRefused(413, "too_large", f"a peer message has at most {PEER_MAX_BYTES} bytes")
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise PeerRefused(400, "malformed_json", "the message is not JSON") from None
    if not isinstance(doc, dict) or set(doc) != set(PEER_FIELDS):
        raise PeerRefused(422, "invalid_message", f"a peer message has exactly the fields {', '.join(PEER_FIELDS)}")
    peer = roster.get(doc["device_id"])
    if peer is None:  # revoked, another event's or organizer's, or never enrolled
        raise PeerRefused(403, "unknown_device", f"device {doc['device_id']!r} is not a peer of this gate")
    try:
        peer.public_key.verify(base64.b64decode(signature.encode("ascii"), validate=True), PEER_DOMAIN + body)
    except (InvalidSignature, binascii.Error, UnicodeEncodeError, ValueError):
        raise PeerRefused(401, "bad_signature", f"the signature does not verify with {peer.name}'s key") from None
    items = doc["movements"]
    if not isinstance(items, list) or len(items) > PEER_MAX_MOVEMENTS:
        raise PeerRefused(422, "invalid_message", f"movements must be a list of at most {PEER_MAX_MOVEMENTS}")
    movements = []
    for item in items:
        movement = _movement(item, peer)
        if movement is not None and movement.event_id in event_ids:
            movements.append(movement)
    return peer, movements


def _movement(item: Any, peer: Peer) -> Movement | None:
    """The movement of an item; None for a kind this gate does not know (a newer gate's: as in a pull,
    it is left out rather than have the sender retry the whole message for ever)."""
    if not isinstance(item, dict) or set(item) != set(PEER_MOVEMENT_FIELDS):
        raise PeerRefused(
            422, "invalid_message", f"a movement has exactly the fields {', '.join(PEER_MOVEMENT_FIELDS)}"
        )
    ids_ok = all(type(item[k]) is int and 0 <= item[k] <= ID_MAX for k in ("event_id", "ticket_id"))
    if not (is_scan_id(item["scan_id"]) and ids_ok and plausible_time(item["at"])):
        raise PeerRefused(422, "invalid_message", f"a movement with a bad scan_id, id or time: {item!r}"[:200])
    try:
        kind = MovementKind(item["kind"])
    except ValueError:
        return None
    return Movement(item["scan_id"], item["event_id"], item["ticket_id"], kind, float(item["at"]), peer.name)
