"""Ticket payload v1: compact binary, Ed25519 signature, base45 text.

Byte layout (docs/ticket-format.md is the normative description):

    version(1) flags(1) kid(2) event_id(uvarint) ticket_id(uvarint)
    ticket_type(uvarint) zones(uvarint) [seat(uvarint)] [not_before(u32 BE)]
    [not_after(u32 BE)] signature(64)

The signature covers DOMAIN + every byte before it, version byte included, so a
ticket cannot be re-labelled as another version. Text form: "TG1:" + base45.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..protocol import format_utc
from . import b45
from .keys import KID_BYTES, Keyring, SigningKey

VERSION = 1
TEXT_PREFIX = "TG1:"
PREFIX_MARK = "TG"
DOMAIN = b"ticketgate/ticket\x00"
SIGNATURE_BYTES = 64
# Longest text accepted at all; checked before any decoding. A v1 ticket with
# every field at its maximum is 102 bytes, 157 characters.
MAX_TEXT_LENGTH = 256

FLAG_SEAT = 0x01
FLAG_NOT_BEFORE = 0x02
FLAG_NOT_AFTER = 0x04
_KNOWN_FLAGS = FLAG_SEAT | FLAG_NOT_BEFORE | FLAG_NOT_AFTER

MAX_EVENT_ID = 2**32 - 1
MAX_TICKET_ID = 2**53 - 1  # stays exact in JSON numbers
MAX_TICKET_TYPE = 2**32 - 1
MAX_ZONE = 16
MAX_SEAT = 2**32 - 1
MAX_TIME = 2**32 - 1


class Reason(str, enum.Enum):
    MALFORMED = "malformed"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Ticket:
    """The signed fields of a ticket. Times are Unix seconds (UTC)."""

    event_id: int
    ticket_id: int
    ticket_type: int
    zones: frozenset[int] = field(default_factory=frozenset)
    seat: int | None = None
    not_before: int | None = None
    not_after: int | None = None
    kid: str = ""

    def admits_zone(self, gate_zones: Iterable[int]) -> bool:
        """An empty zone set means the ticket is valid in every zone."""
        return not self.zones or bool(self.zones & set(gate_zones))

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "event_id": self.event_id,
            "ticket_id": self.ticket_id,
            "ticket_type": self.ticket_type,
            "zones": sorted(self.zones),
            "seat": self.seat,
            "not_before": format_utc(self.not_before),
            "not_after": format_utc(self.not_after),
        }


@dataclass(frozen=True)
class VerifyResult:
    """``reason`` is None for a valid ticket. ``ticket`` is set whenever the
    signature checked out (also for not_yet_valid / expired)."""

    reason: Reason | None
    ticket: Ticket | None = None
    detail: str = ""

    @property
    def valid(self) -> bool:
        return self.reason is None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"valid": self.valid}
        if self.reason is not None:
            out["reason"] = self.reason.value
            if self.detail:
                out["detail"] = self.detail
        if self.ticket is not None:
            out.update(self.ticket.to_json())
        return out


class _Malformed(Exception):
    pass


# --- encoding ------------------------------------------------------------


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _check_range(name: str, value: int | None, maximum: int, minimum: int = 0) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ValueError(f"{name} must be an integer in [{minimum}, {maximum}], got {value!r}")


def zones_to_mask(zones: Iterable[int]) -> int:
    mask = 0
    for zone in zones:
        _check_range("zone", zone, MAX_ZONE, 1)
        mask |= 1 << (zone - 1)
    return mask


def mask_to_zones(mask: int) -> frozenset[int]:
    return frozenset(i + 1 for i in range(MAX_ZONE) if mask >> i & 1)


def encode_payload(ticket: Ticket, kid_bytes: bytes) -> bytes:
    """The signed part of a ticket (everything but the signature)."""
    _check_range("event_id", ticket.event_id, MAX_EVENT_ID)
    _check_range("ticket_id", ticket.ticket_id, MAX_TICKET_ID)
    _check_range("ticket_type", ticket.ticket_type, MAX_TICKET_TYPE)
    _check_range("seat", ticket.seat, MAX_SEAT)
    _check_range("not_before", ticket.not_before, MAX_TIME)
    _check_range("not_after", ticket.not_after, MAX_TIME)
    if ticket.not_before is not None and ticket.not_after is not None and ticket.not_before > ticket.not_after:
        raise ValueError("not_before is after not_after")
    if len(kid_bytes) != KID_BYTES:
        raise ValueError(f"kid must be {KID_BYTES} bytes")
    flags = (
        (FLAG_SEAT if ticket.seat is not None else 0)
        | (FLAG_NOT_BEFORE if ticket.not_before is not None else 0)
        | (FLAG_NOT_AFTER if ticket.not_after is not None else 0)
    )
    parts = [
        bytes([VERSION, flags]),
        kid_bytes,
        _uvarint(ticket.event_id),
        _uvarint(ticket.ticket_id),
        _uvarint(ticket.ticket_type),
        _uvarint(zones_to_mask(ticket.zones)),
    ]
    if ticket.seat is not None:
        parts.append(_uvarint(ticket.seat))
    if ticket.not_before is not None:
        parts.append(ticket.not_before.to_bytes(4, "big"))
    if ticket.not_after is not None:
        parts.append(ticket.not_after.to_bytes(4, "big"))
    return b"".join(parts)


def sign_ticket(
    key: SigningKey,
    *,
    event_id: int,
    ticket_id: int,
    ticket_type: int,
    zones: Iterable[int] = (),
    seat: int | None = None,
    not_before: int | datetime | None = None,
    not_after: int | datetime | None = None,
) -> str:
    """Sign a ticket with ``key`` and return its QR text ("TG1:" + base45)."""
    ticket = Ticket(
        event_id=event_id,
        ticket_id=ticket_id,
        ticket_type=ticket_type,
        zones=frozenset(zones),
        seat=seat,
        not_before=_epoch(not_before),
        not_after=_epoch(not_after),
        kid=key.kid,
    )
    payload = encode_payload(ticket, key.kid_bytes)
    return TEXT_PREFIX + b45.encode(payload + key.sign(DOMAIN + payload))


# --- decoding and verification --------------------------------------------


def _read_uvarint(data: bytes, pos: int, maximum: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise _Malformed("payload ends inside a number")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift > 63:
            raise _Malformed("number too long")
    if byte == 0 and shift:  # a trailing zero group: not the shortest form
        raise _Malformed("number not minimally encoded")
    if value > maximum:
        raise _Malformed("number out of range")
    return value, pos


def decode_payload(payload: bytes) -> tuple[Ticket, bytes]:
    """Parse the signed part; return the ticket and the raw kid. Raises _Malformed."""
    if len(payload) < 2 + KID_BYTES + 4:
        raise _Malformed("payload too short")
    flags = payload[1]
    if flags & ~_KNOWN_FLAGS:
        raise _Malformed("unknown flag bits set")
    kid_bytes = payload[2 : 2 + KID_BYTES]
    pos = 2 + KID_BYTES
    event_id, pos = _read_uvarint(payload, pos, MAX_EVENT_ID)
    ticket_id, pos = _read_uvarint(payload, pos, MAX_TICKET_ID)
    ticket_type, pos = _read_uvarint(payload, pos, MAX_TICKET_TYPE)
    zone_mask, pos = _read_uvarint(payload, pos, 2**MAX_ZONE - 1)
    seat = not_before = not_after = None
    if flags & FLAG_SEAT:
        seat, pos = _read_uvarint(payload, pos, MAX_SEAT)
    for flag in (FLAG_NOT_BEFORE, FLAG_NOT_AFTER):
        if flags & flag:
            if pos + 4 > len(payload):
                raise _Malformed("payload ends inside a time")
            value = int.from_bytes(payload[pos : pos + 4], "big")
            pos += 4
            if flag == FLAG_NOT_BEFORE:
                not_before = value
            else:
                not_after = value
    if pos != len(payload):
        raise _Malformed("trailing bytes after the payload")
    if not_before is not None and not_after is not None and not_before > not_after:
        raise _Malformed("validity window ends before it starts")
    ticket = Ticket(
        event_id,
        ticket_id,
        ticket_type,
        mask_to_zones(zone_mask),
        seat,
        not_before,
        not_after,
        kid_bytes.hex(),
    )
    return ticket, kid_bytes


def looks_like_ticket(text: object) -> bool:
    """True when ``text`` claims to be a ticketgate code (any version), valid or not."""
    return isinstance(text, str) and text.startswith(PREFIX_MARK) and ":" in text[:8]


def verify_ticket(text: object, keyring: Keyring, at: int | float | datetime) -> VerifyResult:
    """Verify ticket text at time ``at``. Never raises for any ``text``."""
    if not isinstance(text, str) or len(text) > MAX_TEXT_LENGTH:
        return VerifyResult(Reason.MALFORMED, detail="not text or longer than allowed")
    if not text.startswith(TEXT_PREFIX):
        head, sep, _ = text.partition(":")
        if sep and head.startswith(PREFIX_MARK) and head[2:].isdecimal() and head[2:] != str(VERSION):
            return VerifyResult(Reason.UNSUPPORTED_VERSION, detail=f"text version {head[2:]}")
        return VerifyResult(Reason.MALFORMED, detail="missing TG1: prefix")
    try:
        data = b45.decode(text[len(TEXT_PREFIX) :])
    except b45.Base45Error as exc:
        return VerifyResult(Reason.MALFORMED, detail=str(exc))
    if not data:
        return VerifyResult(Reason.MALFORMED, detail="empty")
    if data[0] != VERSION:
        return VerifyResult(Reason.UNSUPPORTED_VERSION, detail=f"payload version {data[0]}")
    if len(data) <= SIGNATURE_BYTES:
        return VerifyResult(Reason.MALFORMED, detail="too short for a signature")
    payload, signature = data[:-SIGNATURE_BYTES], data[-SIGNATURE_BYTES:]
    try:
        ticket, kid_bytes = decode_payload(payload)
    except _Malformed as exc:
        return VerifyResult(Reason.MALFORMED, detail=str(exc))
    entry = keyring.get_raw(kid_bytes)
    if entry is None:
        return VerifyResult(Reason.UNKNOWN_KEY, detail=f"kid {ticket.kid}")
    if not entry.verify(signature, DOMAIN + payload):
        return VerifyResult(Reason.BAD_SIGNATURE)
    now = _epoch(at)
    if ticket.not_before is not None and now < ticket.not_before:
        return VerifyResult(Reason.NOT_YET_VALID, ticket)
    if ticket.not_after is not None and now > ticket.not_after:
        return VerifyResult(Reason.EXPIRED, ticket)
    return VerifyResult(None, ticket)


# --- time helpers --------------------------------------------------------


def _epoch(value: int | float | datetime | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes must carry a time zone")
        return int(value.timestamp())
    raise TypeError(f"expected Unix seconds or an aware datetime, got {type(value).__name__}")
