"""JSON API under /api/v1: one blueprint per area, nested in the `api` blueprint.

Later areas (gate devices and sync) add their own blueprint with
`api.register_blueprint(...)` before `register_api` runs, or register on the app
with url_prefix="/api/v1/<area>".
"""
from __future__ import annotations

from flask import Blueprint, Flask

from .errors import register_error_handlers


def build_api() -> Blueprint:
    from . import devices, events, holds, keys, meta, orders, sync

    api = Blueprint("api", __name__, url_prefix="/api/v1")
    for child in (events.bp, holds.bp, orders.bp, keys.bp, meta.bp, devices.bp, sync.bp):
        api.register_blueprint(child)
    return api


def register_api(app: Flask) -> None:
    api = build_api()
    register_error_handlers(app, api)
    app.register_blueprint(api)
