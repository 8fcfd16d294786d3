"""Request helpers for the API views: strict JSON bodies, query parameters, auth."""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import current_app, g, request

from ..db import get_db
from ..services.clock import parse_iso
from ..services.users import user_for_token
from .errors import ApiError


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 for anything else."""
    data = request.get_json(force=True, silent=True)
    if data is None:
        raise ApiError(400, "malformed_json", "the request body must be a JSON object")
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "the request body must be a JSON object, not " + type(data).__name__)
    return data


def query_int(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer") from None
    if not lo <= value <= hi:
        raise ApiError(400, "invalid_parameter", f"{name} must be between {lo} and {hi}")
    return value


def query_time(name: str):
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return parse_iso(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} must be an ISO 8601 date-time") from None


def signer():
    return current_app.extensions["tickethub.keys"].current()


def payment_providers() -> dict:
    """The app's payment methods (hub.services.payments.providers_for): card only with Stripe keys."""
    return current_app.extensions["tickethub.payments"]


def current_user() -> dict | None:
    """The user of the request's bearer token, or None (anonymous)."""
    if "api_user" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        g.api_user = None
        if header:
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(401, "unauthorized", "use Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"})
            g.api_user = user_for_token(get_db(), token.strip())
            if g.api_user is None:
                raise ApiError(401, "unauthorized", "unknown or revoked API token", {"WWW-Authenticate": "Bearer"})
    return g.api_user


def require_role(*roles: str):
    """Decorator: the request needs a bearer token of a user with one of `roles`."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                raise ApiError(
                    401,
                    "unauthorized",
                    "this route needs an API token (Authorization: Bearer)",
                    {"WWW-Authenticate": "Bearer"},
                )
            if user["role"] not in roles:
                raise ApiError(403, "forbidden", f"this route needs the role {' or '.join(roles)}")
            return view(*args, **kwargs)

        wrapper.required_roles = roles
        return wrapper

    return decorate
