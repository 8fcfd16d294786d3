"""Where the hub is reachable: its public URL, the Host names it answers to, the proxies in front of it.

Every link that leaves the hub (password reset, order and ticket links in mail,
reminders) is built by `external_url` from the configured ``PUBLIC_URL``, never
from the request's Host header: a reset asked for with ``Host: evil.example``
must still mail a link to this hub.

Settings (hub/config.py): ``PUBLIC_URL`` (empty: links point at
``DEV_PUBLIC_URL`` with a warning; `tickethub serve` uses the address it
listens on), ``TRUSTED_HOSTS`` (Flask's Host check; empty: the PUBLIC_URL's host
plus loopback once PUBLIC_URL is set, ``*``: no check) and ``PROXY_FIX`` (the
number of reverse proxies whose ``X-Forwarded-For/-Proto/-Host/-Prefix`` headers
are believed; 0: none, so a client cannot pretend another address).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, current_app
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import ConfigError

log = logging.getLogger(__name__)

DEV_PUBLIC_URL = "http://localhost:8080"  # `tickethub serve`'s default address
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")  # local health checks and the demo's gate stay allowed


def init_app(app: Flask) -> None:
    base = app.config["PUBLIC_URL"] = normal_public_url(app.config.get("PUBLIC_URL") or "")
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config.get("TRUSTED_HOSTS") or "", base)
    if base.startswith("https://"):  # the browser talks HTTPS to the site even if the proxy does not say so
        app.config["SESSION_COOKIE_SECURE"] = True
    hops = int(app.config.get("PROXY_FIX") or 0)
    if hops < 0:
        raise ConfigError(f"PROXY_FIX must be 0 (no proxy) or the number of proxies in front of the hub, not {hops}")
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)


def normal_public_url(value: str) -> str:
    """``https://tickets.example.org[/prefix]`` without a trailing slash; '' stays ''."""
    value = value.strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"PUBLIC_URL must look like https://tickets.example.org (optionally with a path), not {value!r}"
        )
    return value.rstrip("/")


def trusted_hosts(setting: str, public_url: str) -> list[str] | None:
    """Flask's TRUSTED_HOSTS: the listed names, '*' for any, or by default the public host and loopback."""
    names = [name.strip().lower() for name in setting.split(",") if name.strip()]
    if names == ["*"]:
        return None
    if names:
        return names
    if not public_url:
        return None  # development: no public name to hold requests to
    return [urlsplit(public_url).hostname, *LOOPBACK_HOSTS]


def public_url(app: Flask | None = None) -> str:
    """The configured public URL, or the development fallback (logged once per app)."""
    app = app or current_app
    configured = app.config.get("PUBLIC_URL")
    if configured:
        return configured
    if not app.extensions.get("tickethub.public_url_warned"):
        app.extensions["tickethub.public_url_warned"] = True
        log.warning(
            "PUBLIC_URL is not set: links in mails point at %s; set TICKETHUB_PUBLIC_URL to the address buyers use",
            DEV_PUBLIC_URL,
        )
    return DEV_PUBLIC_URL


def external_url(endpoint: str, app: Flask | None = None, **values) -> str:
    """An absolute link to `endpoint` under the public URL; works inside and outside requests."""
    app = app or current_app
    parts = urlsplit(public_url(app))
    adapter = app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)


def assume_public_url(app: Flask, host: str, port: int) -> str | None:
    """For `tickethub serve` without PUBLIC_URL: the address it listens on becomes the link base
    (returned, for the operator to see); None when PUBLIC_URL is configured. No Host check follows
    from an assumed URL: only a configured one says which name the site has."""
    if app.config.get("PUBLIC_URL"):
        return None
    if host in ("", "0.0.0.0", "::"):
        host = "localhost"  # every interface: which name buyers use is unknown
    elif ":" in host:
        host = f"[{host}]"
    app.config["PUBLIC_URL"] = f"http://{host}:{port}"
    return app.config["PUBLIC_URL"]
