"""Flask extensions created per application in create_app."""
from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# Endpoints with a per-client rate limit, and the config key holding the limit.
RATE_LIMITED = {"api.holds.create_hold": "HOLD_RATE_LIMIT"}


def init_limiter(app: Flask) -> Limiter:
    """One Limiter per app (storage RATELIMIT_STORAGE_URI: memory:// by default; use
    redis:// when several server processes share the load). Limits are per client address."""
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter = Limiter(key_func=get_remote_address, app=app, default_limits=[])
    for endpoint, key in RATE_LIMITED.items():
        # the limit is checked inside the wrapper, so the endpoint must call it
        app.view_functions[endpoint] = limiter.limit(lambda key=key: app.config[key])(app.view_functions[endpoint])
    app.extensions["tickethub.limiter"] = limiter
    return limiter
