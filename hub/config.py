"""Hub configuration: typed defaults, then an optional TOML file, then TICKETHUB_* variables.

The file is ``$TICKETHUB_CONFIG`` or ``<instance>/tickethub.toml`` when it exists.
Environment values are converted to the type of the default (``TICKETHUB_HOLD_TTL_SECONDS=300``).
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "TICKETHUB_"

DEFAULTS: dict[str, Any] = {
    # storage
    "DATABASE_URL": "",  # empty: sqlite:///<instance>/tickethub.sqlite3
    "SQLITE_BUSY_TIMEOUT_MS": 30_000,
    "DB_POOL_SIZE": 10,
    # signing keys (private keys never leave this folder)
    "KEYS_DIR": "",  # empty: <instance>/keys
    "KEY_PASSPHRASE": "",
    # holds
    "HOLD_TTL_SECONDS": 600,
    "HOLD_TTL_MIN_SECONDS": 30,
    "HOLD_TTL_MAX_SECONDS": 3600,
    "HOLD_MAX_SEATS": 20,
    # the longest hold an anonymous client (no login, no API token) may ask for: a checkout takes minutes
    "HOLD_TTL_MAX_ANONYMOUS_SECONDS": 900,
    # tickets one client (a signed-in user, else one address; an IPv6 /64) may hold at once over all
    # its live holds, so one client cannot hold a whole event; 0 = no limit. Two full holds by default.
    "HOLD_MAX_SEATS_PER_CLIENT": 40,
    "HOLD_RATE_LIMIT": "120 per minute",
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "SWEEP_INTERVAL_SECONDS": 30,  # 0 disables the background sweeper
    # live streams (the dashboard's server-sent events): each open stream holds a server thread
    "MAX_STREAMS": 0,  # open streams per process, beyond it 503; 0: a quarter of the server's threads
    "STREAM_LIFETIME_SECONDS": 300,  # a stream then ends (the page reconnects): a forgotten tab frees its thread
    "STREAM_RETRY_SECONDS": 10,  # Retry-After of a refused stream; the page tries again after about this long
    # HTTP
    "MAX_CONTENT_LENGTH": 256 * 1024,
    "SECRET_KEY": "",
    "SERVICE_FEE_DEFAULT": 0,
    "TESTING": False,
    # public address and reverse proxy (hub/deployment.py, docs/deployment.md)
    "PUBLIC_URL": "",  # e.g. https://tickets.example.org: base of every mailed link; empty: http://localhost:8080
    "TRUSTED_HOSTS": "",  # Host names served, comma-separated; empty: PUBLIC_URL's host + loopback; "*": any
    "PROXY_FIX": 0,  # reverse proxies in front whose X-Forwarded-* headers are believed; 0: none (ignored)
    # one organization runs the hub: door staff not assigned to an organizer may work at every event
    "SINGLE_TENANT": False,
    # false: an API-only hub (no storefront, account or organizer pages)
    "WEB_PAGES": True,
}


class ConfigError(ValueError):
    """A setting that cannot be used (the message names the file or variable)."""


def _coerce(key: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{ENV_PREFIX}{key} must be true or false, not {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}{key} must be an integer, not {raw!r}") from None
    return raw


def _read_file(path: Path) -> dict[str, Any]:
    """The TOML file's settings; values of known settings must have the default's type."""
    try:
        with open(path, "rb") as fh:
            settings = {k.upper(): v for k, v in tomllib.load(fh).items()}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration file {path}: {exc.strerror}") from None
    for key, value in settings.items():
        default = DEFAULTS.get(key)
        if default is None:
            continue
        expected = bool if isinstance(default, bool) else type(default)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"{path}: {key.lower()} must be {_TYPE_NAMES[expected]}, not {value!r}")
    return settings


_TYPE_NAMES = {bool: "true or false", int: "an integer", str: "a string"}


def load_config(instance_path: Path, overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Merge defaults, the optional file, the environment and explicit overrides (last wins)."""
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    explicit = environ.get(ENV_PREFIX + "CONFIG")
    file_path = Path(explicit or instance_path / "tickethub.toml")
    if explicit and not file_path.is_file():
        raise ConfigError(f"{ENV_PREFIX}CONFIG names {file_path}, which is not a file")
    if file_path.is_file():
        config.update(_read_file(file_path))
    for key, default in DEFAULTS.items():
        if ENV_PREFIX + key in environ:
            config[key] = _coerce(key, environ[ENV_PREFIX + key], default)
    config.update(overrides or {})
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite:///{instance_path / 'tickethub.sqlite3'}"
    if not config["KEYS_DIR"]:
        config["KEYS_DIR"] = str(instance_path / "keys")
    if not config["SECRET_KEY"]:
        config["SECRET_KEY"] = _instance_secret(instance_path)
    return config


def _instance_secret(instance_path: Path) -> str:
    """A random secret kept in the instance folder, so sessions survive restarts."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text("utf-8").strip()
    import secrets

    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_text("utf-8").strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value
