"""ticketgate hub: events, seat inventory with expiring holds, orders and signed tickets.

`create_app(config=None)` is the Flask application factory. Configuration comes
from typed defaults (hub/config.py SETTINGS), then an optional TOML file, then
TICKETHUB_* environment variables, then `config` (tests).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    # Flask is imported here, not at module level: `tickethub ticket ...` and
    # `tickethub keys ...` import this package without needing a web app.
    from flask import Flask

    from .config import ENV_PREFIX, load_config
    from .db import close_db, make_engine, require_schema
    from .routing import DatabaseId
    from .services.signing import HubKeys

    config = dict(config or {})
    instance_path = config.pop("INSTANCE_PATH", None) or os.environ.get(ENV_PREFIX + "INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(load_config(Path(app.instance_path), config))
    app.json.sort_keys = False
    from . import deployment

    deployment.init_app(app)  # PUBLIC_URL, trusted Host names, reverse proxy hops

    app.extensions["tickethub.engine"] = make_engine(
        app.config["DATABASE_URL"],
        app.config["SQLITE_BUSY_TIMEOUT_MS"],
        app.config["DB_POOL_SIZE"],
        app.config["DB_POOL_RECYCLE_SECONDS"],
    )
    passphrase = app.config["KEY_PASSPHRASE"]
    app.extensions["tickethub.keys"] = HubKeys(app.config["KEYS_DIR"], passphrase.encode() if passphrase else None)
    from .services.payments import providers_for

    # this app's payment methods; card (with its own Stripe client) only when its keys are configured
    app.extensions["tickethub.payments"] = providers_for(app.config)
    app.teardown_appcontext(close_db)
    app.before_request(require_schema)
    app.url_map.converters["int"] = DatabaseId  # before any route is added

    from .api import register_api
    from .extensions import init_limiter

    register_api(app)
    if app.config["WEB_PAGES"]:  # off: an API-only hub (no storefront, account or organizer pages)
        from . import web

        web.init_app(app)
    init_limiter(app)
    return app
