"""JSON API under /api/v1: one blueprint per area (events and venues, event changes and cancellation, holds, orders,
signing keys, meta, gate devices, sync, waiting room, outgoing webhooks), nested in the `api` blueprint by `build_api`.

A new area is a module here with its own blueprint, added to `build_api`'s list,
and its routes added to the table in openapi.py (a test checks every route is there).
`register_api` puts the JSON error handlers on the app and registers the API.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, request

from common.protocol import PUSH_MAX_BYTES

from .errors import ApiError, register_error_handlers

# Bodies whose largest size is the protocol's, not the MAX_CONTENT_LENGTH setting: a gate builds its
# pushes to common.protocol.PUSH_MAX_BYTES and cannot know what one hub is configured with.
BODY_LIMITS = {"api.sync.push": PUSH_MAX_BYTES}


def build_api() -> Blueprint:
    from . import devices, event_admin, events, holds, keys, meta, orders, queue, sync, webhooks

    api = Blueprint("api", __name__, url_prefix="/api/v1")
    children = (events, event_admin, holds, orders, keys, meta, devices, sync, queue, webhooks)
    for child in (module.bp for module in children):
        api.register_blueprint(child)
    api.before_request(apply_body_limit)  # first: the next one reads the body
    api.before_request(refuse_nul_characters)
    api.after_request(_no_sniffing)
    return api


def _no_sniffing(response):
    """Browsers take a JSON, PNG or SVG answer for what it says it is (the pages set their own headers)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def apply_body_limit() -> None:
    limit = BODY_LIMITS.get(request.endpoint or "")
    if limit is not None:
        request.max_content_length = limit


def refuse_nul_characters() -> None:
    """PostgreSQL text cannot hold NUL: refuse it up front with a clear 400, on every
    backend alike, instead of failing inside the database."""
    try:
        body = request.get_json(force=True, silent=True, cache=True) if request.content_length else None
    except RecursionError:  # nested deeper than the JSON parser goes (silent= covers only ValueError)
        raise ApiError(400, "malformed_json", "the request body is nested too deeply") from None
    texts = [*request.args.keys(), *request.args.values(), *(request.view_args or {}).values()]
    if any(isinstance(t, str) and "\x00" in t for t in texts) or _any_text(body, _has_nul_text):
        raise ApiError(400, "nul_character", "text may not contain NUL (U+0000) characters")
    # JSON may spell a lone UTF-16 surrogate ("\\ud800"), which no database can store
    if _any_text(body, _has_lone_surrogate):
        raise ApiError(400, "invalid_text", "text may not contain lone UTF-16 surrogates (\\ud800-\\udfff)")


def _has_nul_text(text: str) -> bool:
    return "\x00" in text


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _any_text(value: Any, bad) -> bool:
    """Whether any string (key or value) in the JSON value is `bad`."""
    # iterative: a body nested a few hundred levels deep must not exhaust the Python stack
    pending = [value]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if bad(value):
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def register_api(app: Flask) -> None:
    from . import payments

    api = build_api()
    register_error_handlers(app, api)
    app.register_blueprint(api)
    app.register_blueprint(payments.bp)  # providers' webhooks, on API-only hubs too
