"""Hub configuration: typed defaults, then an optional TOML file, then TICKETHUB_* variables.

Every setting is listed once, in ``SETTINGS``, with its default and one sentence of help;
docs/configuration.md is written from it (docs/make_configuration.py). The file is
``$TICKETHUB_CONFIG`` or ``<instance>/tickethub.toml`` when it exists. Environment values are
converted to the type of the default (``TICKETHUB_HOLD_TTL_SECONDS=300``).
"""

from __future__ import annotations

import difflib
import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

ENV_PREFIX = "TICKETHUB_"
log = logging.getLogger(__name__)


class Setting(NamedTuple):
    """One hub setting: its name (TOML key in lower case, variable TICKETHUB_<NAME>), typed default,
    the docs/configuration.md section it is listed in, and one sentence of help."""

    name: str
    default: bool | int | str
    section: str
    help: str

    @property
    def type(self) -> type:
        return type(self.default)


# Every hub setting, in the order docs/configuration.md lists them (docs/make_configuration.py writes the
# tables from this list; tests/hub/test_config.py fails when the file is out of date or a key read
# anywhere in hub/ is missing here).
SETTINGS: tuple[Setting, ...] = (
    # storage and signing keys
    Setting(
        "DATABASE_URL",
        "",
        "storage",
        "SQLAlchemy URL of the database: empty for the SQLite file `<instance>/tickethub.sqlite3`, "
        "`postgresql+psycopg://user:password@host:5432/name` for PostgreSQL.",
    ),
    Setting(
        "SQLITE_BUSY_TIMEOUT_MS",
        30_000,
        "storage",
        "how long a SQLite write waits for another process's lock before it fails, in milliseconds.",
    ),
    Setting(
        "DB_POOL_SIZE", 10, "storage", "database connections each hub process keeps open (up to 50 more while busy)."
    ),
    Setting(
        "DB_POOL_RECYCLE_SECONDS",
        1800,
        "storage",
        "PostgreSQL: a connection older than this is closed and opened anew before use (instead of a "
        "test query on every use); keep it below any idle timeout between the hub and the database.",
    ),
    Setting(
        "KEYS_DIR",
        "",
        "storage",
        "folder of the Ed25519 keys that sign tickets (private keys never leave it); empty: `<instance>/keys`.",
    ),
    Setting(
        "KEY_PASSPHRASE",
        "",
        "storage",
        "passphrase the private signing keys are encrypted with (also read by `tickethub keys` and "
        "`tickethub ticket`); empty: unencrypted files readable only by their owner.",
    ),
    # web pages, sessions and requests
    Setting("WEB_PAGES", True, "http", "`false`: an API-only hub, without storefront, account or organizer pages."),
    Setting(
        "SECRET_KEY",
        "",
        "http",
        "signs session cookies and form tokens; empty: a random key kept in `<instance>/secret_key`, "
        "shared by every process using that instance folder.",
    ),
    Setting(
        "MAX_CONTENT_LENGTH",
        256 * 1024,
        "http",
        "largest request body in bytes; a larger one is refused with 413 (a gate's push has the sync "
        "protocol's own limit, 256 KiB, whatever this says: docs/sync-protocol.md).",
    ),
    Setting("PERMANENT_SESSION_LIFETIME", 8 * 3600, "http", "seconds a page login lasts."),
    # limits: what one client may do at once
    Setting("HOLD_MAX_SEATS", 20, "limits", "seats or standing places in one hold."),
    # tickets one client (a signed-in user, else one address; an IPv6 /64) may hold at once over all
    # its live holds, so one client cannot hold a whole event. Two full holds by default.
    Setting(
        "HOLD_MAX_SEATS_PER_CLIENT",
        40,
        "limits",
        "seats and places one client may hold at once over all its live holds (counted in the database, "
        "so across hub processes); `0`: no limit.",
    ),
    Setting(
        "HOLD_TTL_SECONDS",
        600,
        "limits",
        "a hold's lifetime when the request names none (cut to the client's maximum).",
    ),
    Setting("HOLD_TTL_MIN_SECONDS", 30, "limits", "the shortest `ttl_seconds` a request may ask for."),
    Setting(
        "HOLD_TTL_MAX_SECONDS",
        3600,
        "limits",
        "the longest `ttl_seconds` for a client with an API token or a signed-in web user.",
    ),
    # anonymous clients (no login, no API token): a checkout takes minutes, not an hour
    Setting(
        "HOLD_TTL_MAX_ANONYMOUS_SECONDS",
        900,
        "limits",
        "the longest `ttl_seconds` for an anonymous client: a checkout needs minutes, not an hour.",
    ),
    Setting(
        "HOLD_RATE_LIMIT",
        "120 per minute",
        "limits",
        "hold requests per address (API and event page); over it 429 `too_many_requests`.",
    ),
    Setting(
        "LOGIN_RATE_LIMIT",
        "10 per minute",
        "limits",
        "login, 2FA, registration and password-reset requests per address; over it 429.",
    ),
    Setting("RATELIMIT_ENABLED", True, "limits", "`false` turns every rate limit off (load tests)."),
    Setting(
        "RATELIMIT_STORAGE_URI",
        "memory://",
        "limits",
        "where rate-limit counts are kept: `memory://` in each process, `redis://host:6379` shared by "
        "several hub processes.",
    ),
    # background jobs (tickethub serve)
    Setting(
        "SWEEP_INTERVAL_SECONDS",
        30,
        "jobs",
        "how often expired holds are swept from the seat map; `0` disables the sweeper.",
    ),
    Setting(
        "REMINDER_INTERVAL_SECONDS",
        600,
        "jobs",
        "how often the reminder job mails paid orders whose event starts within 24 hours; `0` disables it.",
    ),
    Setting(
        "MAIL_QUEUE_INTERVAL_SECONDS",
        2,
        "jobs",
        "how often the mail job sends the buyers' queued mail (order placed, paid, expired, refunded, ...); "
        "`0` disables it and the mail waits in the queue.",
    ),
    # orders not paid at once (box office; card while the buyer pays): kept this long, then they expire
    # and their places go back on sale. An event may set its own (events.payment_deadlines). One setting
    # per method: PAYMENT_DEADLINE_<METHOD>_MINUTES (services.orders.payment_due_at).
    Setting(
        "PAYMENT_DEADLINE_CARD_MINUTES",
        30,
        "payments",
        "minutes a card order may stay unpaid before it expires and its seats go back on sale "
        "(never past the event's start).",
    ),
    Setting(
        "PAYMENT_DEADLINE_BOX_OFFICE_MINUTES",
        3 * 24 * 60,
        "payments",
        "minutes a box-office order may stay unpaid (default 3 days) before it expires and its seats go "
        "back on sale (never past the event's start).",
    ),
    # live streams (the dashboard's server-sent events): each open stream holds a server thread
    Setting(
        "MAX_STREAMS",
        0,
        "streams",
        "live streams one hub process keeps open at once, more get 503 with `Retry-After`; `0`: a quarter "
        "of the process's threads, at least one.",
    ),
    Setting(
        "STREAM_LIFETIME_SECONDS",
        300,
        "streams",
        "a stream ends itself after this long and the page reconnects, so a forgotten tab frees its thread.",
    ),
    Setting(
        "STREAM_RETRY_SECONDS",
        10,
        "streams",
        "`Retry-After` of a refused stream; the page tries again after about this long.",
    ),
    Setting(
        "DASHBOARD_TICK_SECONDS",
        3,
        "streams",
        "an idle stream's heartbeat: the page refreshes, and a client that went away is noticed "
        "within two or three ticks.",
    ),
    # load shedding in `tickethub serve` (hub/serving.py): a spike must not outlive itself
    Setting(
        "CONNECTION_LIMIT",
        1000,
        "server",
        "connections one `tickethub serve` process keeps open at once; more wait in the listen backlog.",
    ),
    Setting(
        "MAX_QUEUED_REQUESTS",
        0,
        "server",
        "requests that may wait for a server thread, in each lane (reads; the buy path), before more get "
        "503 `overloaded` with `Retry-After` at once; `0`: twice the lane's threads.",
    ),
    Setting("OVERLOAD_RETRY_SECONDS", 2, "server", "`Retry-After` of a request refused because the server is busy."),
    # the on-sale waiting room (hub/services/waiting_room.py), turned on per event by its organizer
    Setting(
        "QUEUE_ADMISSION_TTL_SECONDS",
        900,
        "queue",
        "how long an admitted buyer may start holds, from the moment of admission; then they queue again.",
    ),
    # a client far back asks seldom, so the whole queue costs about this many requests a second
    Setting(
        "QUEUE_POLL_BUDGET",
        400,
        "queue",
        "queue-status requests a second that the waiting clients of one event are spread over: a client "
        "far back is told to ask again after `waiting / budget` seconds (at least 30).",
    ),
    Setting(
        "QUEUE_JOIN_RATE_LIMIT",
        "30 per minute",
        "queue",
        "new places in a queue per address (a reload keeps its place and is not counted); over it 429 "
        "`too_many_requests`.",
    ),
    # seat maps served from memory (hub/services/seatmap.py) and their live stream (hub/streaming.py)
    Setting(
        "SEATMAP_MAX_AGE_MS",
        1000,
        "seatmaps",
        "a seat map that is being read or streamed is read from the database again once it is this old "
        "(holds that ran out, changes made by other processes without Redis); changes made in this process "
        "show at once.",
    ),
    Setting(
        "SEATMAP_HISTORY",
        512,
        "seatmaps",
        "versions of each seat map whose changes are kept for `?since=`; a client further behind reloads "
        "the whole status.",
    ),
    Setting(
        "REDIS_URL",
        "",
        "seatmaps",
        "Redis shared by several hub processes, e.g. `redis://127.0.0.1:6379/0`: one version sequence of each "
        "seat map for all of them (needs the `redis` extra); empty: each process on its own (one process).",
    ),
    Setting(
        "SEATMAP_STREAM_PORT",
        0,
        "seatmaps",
        "port of the seat-map stream server (server-sent events, asyncio) that `tickethub serve` starts "
        "beside the hub (also `--stream-port`); `0`: none, pages poll for changes every 2 seconds.",
    ),
    Setting(
        "SEATMAP_STREAM_URL",
        "",
        "seatmaps",
        "where browsers open seat-map streams, e.g. `https://tickets.example.org` when the proxy routes "
        "`/api/v1/events/*/seatmap/stream` to the stream port; empty: the page's host at the stream port.",
    ),
    Setting(
        "SEATMAP_STREAM_MAX_CLIENTS",
        10_000,
        "seatmaps",
        "streams one process keeps open at once; more get 503 with `Retry-After` and poll instead.",
    ),
    Setting(
        "SEATMAP_STREAM_HEARTBEAT_SECONDS",
        15,
        "seatmaps",
        "an idle stream gets a comment this often, so proxies keep it open and dead clients are noticed.",
    ),
    Setting(
        "SEATMAP_STREAM_BUFFER_BYTES",
        256 * 1024,
        "seatmaps",
        "bytes a stream may have waiting for a slow client; past it the client is dropped (it reconnects "
        "and catches up from its version).",
    ),
    # public address and reverse proxy (hub/deployment.py, docs/deployment.md)
    Setting(
        "PUBLIC_URL",
        "",
        "deployment",
        "the address buyers use, e.g. `https://tickets.example.org`, base of every mailed link; "
        "empty: the address `tickethub serve` listens on, else `http://localhost:8080`.",
    ),
    Setting(
        "TRUSTED_HOSTS",
        "",
        "deployment",
        "`Host` names the hub answers to, comma-separated (others get 400); empty: `PUBLIC_URL`'s host "
        "plus loopback once `PUBLIC_URL` is set, `*`: any name.",
    ),
    Setting(
        "PROXY_FIX",
        0,
        "deployment",
        "reverse proxies in front of the hub whose `X-Forwarded-*` headers are believed; `0`: none "
        "(the headers are ignored).",
    ),
    Setting(
        "SESSION_COOKIE_SECURE",
        False,
        "deployment",
        "`true` forces the `Secure` cookie flag, which is set anyway on HTTPS requests and with an "
        "`https://` `PUBLIC_URL`.",
    ),
    # one organization runs the hub: door staff not assigned to an organizer may work at every event
    Setting(
        "SINGLE_TENANT",
        False,
        "deployment",
        "`true`: one organization runs the hub, and door staff not assigned to an organizer work at every event.",
    ),
    # outgoing mail (hub/mail.py): without a host every message goes to <instance>/outbox
    Setting(
        "SMTP_HOST",
        "",
        "mail",
        "SMTP server that sends the hub's mail; empty: every message is written to `<instance>/outbox/`.",
    ),
    Setting("SMTP_PORT", 25, "mail", "the SMTP server's port."),
    Setting("SMTP_USER", "", "mail", "SMTP login name; empty: no login."),
    Setting("SMTP_PASSWORD", "", "mail", "SMTP password."),
    Setting("SMTP_STARTTLS", False, "mail", "`true`: switch to TLS (STARTTLS) before logging in."),
    Setting(
        "SMTP_CA_FILE",
        "",
        "mail",
        "CA bundle that signed the SMTP server's certificate (a private CA); empty: the system's CAs.",
    ),
    Setting("SMTP_FROM", "ticketgate <tickets@localhost>", "mail", "the sender of every message."),
    Setting(
        "MAIL_RETRY_SECONDS",
        60,
        "mail",
        "wait before the first retry of a message the SMTP server refused or did not answer; doubled "
        "after each further failure (at most 6 hours).",
    ),
    Setting(
        "MAIL_MAX_ATTEMPTS",
        10,
        "mail",
        "failed SMTP attempts after which a queued message is written to `<instance>/outbox/` instead "
        "(and logged) so nothing is lost.",
    ),
    # outgoing webhooks for organizers' integrations (services.webhooks, hub/delivery/webhooks.py)
    Setting(
        "WEBHOOK_INTERVAL_SECONDS",
        5,
        "webhooks",
        "how often the webhook job posts the queued deliveries; `0` disables it and deliveries wait.",
    ),
    Setting(
        "WEBHOOK_RETRY_SECONDS",
        30,
        "webhooks",
        "wait before the first retry of a delivery the receiver did not accept (no 2xx, timeout, refused); "
        "doubled after each further failure (at most 6 hours), for a day, then it is marked failed.",
    ),
    Setting("WEBHOOK_TIMEOUT_SECONDS", 10, "webhooks", "how long one post may take before it counts as failed."),
    Setting(
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES",
        False,
        "webhooks",
        "allow endpoints on loopback, private and link-local addresses; off, an organizer's URL cannot make "
        "the hub probe its own network (turn on only where every organizer is trusted, or in tests).",
    ),
    # Apple Wallet passes for tickets (hub/delivery/wallet.py); all empty: no "Add to Apple Wallet" button
    Setting(
        "WALLET_CERT_FILE",
        "",
        "wallet",
        "PEM file of the Pass Type ID certificate Apple issued to the organizer; empty: passes are not offered.",
    ),
    Setting("WALLET_KEY_FILE", "", "wallet", "PEM file of that certificate's private key (readable by the hub only)."),
    Setting("WALLET_KEY_PASSWORD", "", "wallet", "the key file's password, if it has one."),
    Setting(
        "WALLET_WWDR_CERT_FILE",
        "",
        "wallet",
        "PEM file of Apple's WWDR intermediate certificate, put into each pass's signature.",
    ),
    Setting(
        "WALLET_PASS_TYPE_ID", "", "wallet", "the Pass Type ID of the certificate, e.g. `pass.org.example.tickets`."
    ),
    Setting("WALLET_TEAM_ID", "", "wallet", "the Apple developer team id the certificate belongs to."),
    Setting("WALLET_ORGANIZATION", "ticketgate", "wallet", "the organization name Wallet shows on the pass."),
    # card payments through Stripe (hub/services/stripe_card.py, docs/payments.md): without both keys
    # the card method is not offered at all
    Setting(
        "STRIPE_SECRET_KEY",
        "",
        "payments",
        "the Stripe account's secret API key (`sk_live_...`, `sk_test_...`); with `STRIPE_PUBLISHABLE_KEY` it "
        "turns on the `card` payment method; empty: no card payments.",
    ),
    Setting(
        "STRIPE_PUBLISHABLE_KEY",
        "",
        "payments",
        "the account's publishable key (`pk_...`), given to the buyer's browser for Stripe.js.",
    ),
    Setting(
        "STRIPE_WEBHOOK_SECRET",
        "",
        "payments",
        "signing secret (`whsec_...`) of the webhook endpoint `<PUBLIC_URL>/payments/stripe/webhook`; "
        "events whose `Stripe-Signature` does not verify with it are refused with 400.",
    ),
    Setting(
        "STRIPE_API_BASE",
        "",
        "payments",
        "address of a Stripe-compatible API instead of `https://api.stripe.com`, e.g. a `localstripe` "
        "for tests (its fake Stripe.js is then loaded from there too); empty: Stripe itself.",
    ),
    Setting(
        "PAYMENT_RATE_LIMIT",
        "20 per minute",
        "payments",
        "card payment attempts per address on the order page (against card testing); over it 429.",
    ),
)

# Variables that say where the settings are, read only from the environment.
LOCATION_VARIABLES: tuple[tuple[str, str], ...] = (
    (
        "TICKETHUB_INSTANCE_PATH",
        "the instance folder (database, keys, secret key, outbox); default: "
        "Flask's instance folder, `instance/` beside the `hub` package in a checkout.",
    ),
    ("TICKETHUB_CONFIG", "the TOML file; default: `<instance>/tickethub.toml` when it exists."),
)

DEFAULTS: dict[str, Any] = {setting.name: setting.default for setting in SETTINGS}
_BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}

# Framework settings the hub fixes rather than leaves to the operator (later layers may still override).
FIXED: dict[str, Any] = {
    "WTF_CSRF_CHECK_DEFAULT": False,  # checked per page blueprint, see hub.web.pages_blueprint()
    "WTF_CSRF_TIME_LIMIT": None,  # a form token is valid for the session's lifetime
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "RATELIMIT_HEADERS_ENABLED": True,  # Retry-After on every 429
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


def typed(key: str, value: Any) -> Any:
    """A setting's value in its type: text (from a variable, or a hand-made config) is converted like
    ``TICKETHUB_<KEY>``; values already of the type pass."""
    default = DEFAULTS[key]
    if isinstance(value, str) and not isinstance(default, str):
        return _coerce(key, value, default)
    return value


def from_environment(key: str, environ: Mapping[str, str] | None = None) -> Any:
    """``TICKETHUB_<KEY>`` in its type, else the default: for commands that run without the app
    (``tickethub keys``)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(ENV_PREFIX + key)
    return DEFAULTS[key] if raw is None else _coerce(key, raw, DEFAULTS[key])


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name.upper(), DEFAULTS, n=1)
    return f" (did you mean {close[0].lower()}?)" if close else ""


def _read_file(path: Path) -> dict[str, Any]:
    """The TOML file's settings: only known ones, each of its default's type. A typo in a
    setting's name is an error, not a setting silently left at its default."""
    try:
        with open(path, "rb") as fh:
            settings = {k.upper(): v for k, v in tomllib.load(fh).items()}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration file {path}: {exc.strerror}") from None
    for key, value in settings.items():
        setting = _BY_NAME.get(key)
        if setting is None:
            raise ConfigError(
                f"{path}: {key.lower()} is not a hub setting{_did_you_mean(key)}; docs/configuration.md lists them"
            )
        expected = setting.type
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"{path}: {key.lower()} must be {_TYPE_NAMES[expected]}, not {value!r}")
    return settings


_TYPE_NAMES = {bool: "true or false", int: "an integer", str: "a string"}


def load_config(
    instance_path: Path, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Merge defaults, the optional file, the environment and explicit overrides (last wins)."""
    environ = os.environ if environ is None else environ
    config = {**FIXED, **DEFAULTS}
    explicit = environ.get(ENV_PREFIX + "CONFIG")
    file_path = Path(explicit or instance_path / "tickethub.toml")
    if explicit and not file_path.is_file():
        raise ConfigError(f"{ENV_PREFIX}CONFIG names {file_path}, which is not a file")
    if file_path.is_file():
        config.update(_read_file(file_path))
    for key, default in DEFAULTS.items():
        if ENV_PREFIX + key in environ:
            config[key] = _coerce(key, environ[ENV_PREFIX + key], default)
    _warn_unknown_variables(environ)
    config.update(overrides or {})
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite:///{instance_path / 'tickethub.sqlite3'}"
    if not config["KEYS_DIR"]:
        config["KEYS_DIR"] = str(instance_path / "keys")
    if not config["SECRET_KEY"]:
        config["SECRET_KEY"] = _instance_secret(instance_path)
    return config


def _warn_unknown_variables(environ: Mapping[str, str]) -> None:
    """A mistyped TICKETHUB_ variable is logged (not an error: the environment is shared with
    other programs, and the test suite's own TICKETHUB_TEST_* variables live there too)."""
    known = {ENV_PREFIX + name for name in DEFAULTS} | {name for name, _help in LOCATION_VARIABLES}
    for name in environ:
        if name.startswith(ENV_PREFIX) and name not in known and not name.startswith(ENV_PREFIX + "TEST_"):
            log.warning(
                "%s is not a hub setting%s; docs/configuration.md lists them",
                name,
                _did_you_mean(name[len(ENV_PREFIX) :]),
            )


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
