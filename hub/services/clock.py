"""UTC time helpers. Services take `now` as a parameter so tests control time."""

from __future__ import annotations

from datetime import UTC, datetime

from common.protocol import format_utc


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, e.g. 2026-05-01T19:30:00Z (microseconds kept when present).
    Total, like every time the hub shows: see common.protocol.format_utc."""
    return format_utc(value)


def parse_iso(text: str) -> datetime:
    """Parse ISO 8601; a value without a zone is UTC. Raises ValueError."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        parsed.astimezone(UTC)  # stored and compared in UTC
    except OverflowError:
        raise ValueError("outside the years 1 to 9999 in UTC") from None
    return parsed
