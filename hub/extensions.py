"""Flask extensions created per application in create_app."""

from __future__ import annotations

import math
import time

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse

# Every rate-limited endpoint (API and pages), the config key holding its limit, and the methods it counts.
# Passwords and codes against guessing; holds against a bot taking every seat. Limits are per endpoint.
RATE_LIMITED: dict[str, tuple[str, tuple[str, ...]]] = {
    "api.holds.create_hold": ("HOLD_RATE_LIMIT", ("POST",)),
    "api.holds.change_seats": ("HOLD_RATE_LIMIT", ("PUT",)),
    "store.hold": ("HOLD_RATE_LIMIT", ("POST",)),
    "store.pay_card": ("PAYMENT_RATE_LIMIT", ("POST",)),  # card testing: many cards tried on one order
    "account.login": ("LOGIN_RATE_LIMIT", ("POST",)),
    "account.login_2fa": ("LOGIN_RATE_LIMIT", ("POST",)),
    "account.register": ("LOGIN_RATE_LIMIT", ("POST",)),
    "account.reset_request": ("LOGIN_RATE_LIMIT", ("POST",)),
}
API_ENDPOINT_PREFIX = "api."


def init_limiter(app: Flask) -> Limiter:
    """The app's one Limiter, after every blueprint is registered. Limits are per client address
    (behind a proxy see PROXY_FIX); counts are kept in RATELIMIT_STORAGE_URI (memory:// by default,
    redis:// when several server processes share the load); every 429 carries Retry-After
    (RATELIMIT_HEADERS_ENABLED, hub/config.py FIXED)."""
    limiter = Limiter(key_func=get_remote_address, app=app, default_limits=[])
    for endpoint, (key, methods) in RATE_LIMITED.items():
        view = app.view_functions.get(endpoint)
        if view is None:
            if endpoint.startswith(API_ENDPOINT_PREFIX) or app.config["WEB_PAGES"]:
                raise LookupError(f"rate-limited endpoint {endpoint} is not registered")
            continue  # an API-only hub has no pages to limit
        # the limit is checked inside the wrapper, so the endpoint must call it
        app.view_functions[endpoint] = limiter.limit(lambda key=key: app.config[key], methods=list(methods))(view)
    # Each limit above is checked by its endpoint's wrapper. The check Flask-Limiter also runs before
    # every request looks for application-wide and default limits, which the hub has none of: it found
    # nothing to count and took about 6 % of the hub's CPU in a sell-out. (Its after-request hook, which
    # writes Retry-After and the X-RateLimit headers, stays.) With RATELIMIT_ENABLED off it was never added.
    checks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in checks:
        checks.remove(limiter._check_request_limit)
    app.extensions["tickethub.limiter"] = limiter
    return limiter


def take_one(app: Flask, setting: str, scope: str, client: str) -> int | None:
    """Count one request of `client` against the limit in `setting` (a "30 per minute" text), in the
    app limiter's storage, for a limit that only some requests of an endpoint count against (a queue
    join, not a reload of the queue page). None while within it, else the seconds until it frees up."""
    limiter: Limiter = app.extensions["tickethub.limiter"]
    if not limiter.enabled:
        return None
    item = parse(app.config[setting])
    if limiter.limiter.hit(item, scope, client):
        return None
    reset_at, _remaining = limiter.limiter.get_window_stats(item, scope, client)
    return max(1, math.ceil(reset_at - time.time()))
