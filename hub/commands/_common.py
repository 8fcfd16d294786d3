"""Helpers shared by the CLI commands."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from hub.config import from_environment


def key_passphrase() -> bytes | None:
    """Private keys are encrypted when TICKETHUB_KEY_PASSPHRASE (the KEY_PASSPHRASE setting) is set."""
    value = from_environment("KEY_PASSPHRASE")
    return value.encode("utf-8") if value else None


def parse_iso(value: str | None, param: str) -> datetime | None:
    """ISO 8601 date-time; one without a zone is taken as UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 date-time: {value!r}", param_hint=param) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_zones(value: str | None) -> list[int]:
    if not value:
        return []
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter("zones are numbers separated by commas, e.g. 1,2", param_hint="--zones") from None
