"""Jinja filters for the pages."""
from __future__ import annotations

from datetime import datetime

from flask import Flask

from ..delivery.notify import money


def when(value: datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return f"{value:%a} {value.day} {value:%b %Y, %H:%M} UTC"


def register_filters(app: Flask) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["when"] = when
