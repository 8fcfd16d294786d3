"""Organizer pages for gate devices (area `hub.devices`, listed in config AREAS).

They reuse the web area's layout, login and CSRF protection, so they are only
registered when `hub.web` is (AREAS keeps it first).
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    if "web_static" not in app.blueprints:
        return  # no web pages in this app (e.g. AREAS="" for an API-only hub)
    from .pages import bp

    app.register_blueprint(bp)
