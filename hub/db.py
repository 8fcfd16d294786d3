"""Database engine, per-request connection and the one write-transaction helper.

SQLite: WAL journal, busy timeout, and every write transaction starts with
BEGIN IMMEDIATE, so writers queue for the lock up front instead of failing
half-way with "database is locked". pysqlite's own transaction handling is
switched off (the documented SQLAlchemy recipe) so the BEGIN is ours.
PostgreSQL (postgresql+psycopg://...): READ COMMITTED; race safety comes from
conditional UPDATEs and row locks in the services.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app, g
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_RETRY_PGCODES = {"40P01", "40001"}  # deadlock detected, serialization failure


def make_engine(url: str, busy_timeout_ms: int = 30_000, pool_size: int = 10, pool_recycle: int = 1800) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=50,
            pool_timeout=60,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        )
        _install_sqlite_hooks(engine, busy_timeout_ms)
        # Writers of one process queue on this lock instead of in SQLite's busy
        # handler, whose sleep-and-retry backoff makes tail latency explode under
        # contention. Other processes still wait via busy_timeout.
        engine.write_lock = threading.Lock()
        return engine
    # No pool_pre_ping: it costs a round trip on every checkout, i.e. on every request. Connections are
    # renewed after pool_recycle seconds instead (before a server or firewall drops idle ones), and one
    # that has died anyway fails its request, after which SQLAlchemy replaces the whole pool.
    return create_engine(url, pool_size=pool_size, max_overflow=50, pool_recycle=pool_recycle, pool_timeout=60)


def _install_sqlite_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.pop("begin_immediate", False) else "BEGIN")


def is_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


@contextmanager
def atomic(conn: Connection) -> Iterator[Connection]:
    """Run the block in one write transaction (BEGIN IMMEDIATE on SQLite).

    Nested use joins the outer transaction. A read transaction left open by
    earlier reads on this connection is ended first (it wrote nothing).
    """
    depth = conn.info.get("atomic_depth", 0)
    if depth:
        conn.info["atomic_depth"] = depth + 1
        try:
            yield conn
        finally:
            conn.info["atomic_depth"] = depth
        return
    if conn.in_transaction():
        conn.commit()
    lock = getattr(conn.engine, "write_lock", None)
    conn.info["begin_immediate"] = True
    conn.info["atomic_depth"] = 1
    if lock is not None:
        lock.acquire()
    try:
        with conn.begin():
            yield conn
    finally:
        conn.info["atomic_depth"] = 0
        conn.info.pop("begin_immediate", None)
        if lock is not None:
            lock.release()


def is_retryable(exc: BaseException) -> bool:
    """A PostgreSQL deadlock or serialization failure: the whole transaction may be retried."""
    if not isinstance(exc, DBAPIError):
        return False
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or getattr(getattr(exc, "orig", None), "pgcode", None)
    return code in _RETRY_PGCODES


def retrying(fn, attempts: int = 5):
    """Call fn() again when PostgreSQL aborted its transaction for a deadlock."""
    for attempt in range(attempts):
        try:
            return fn()
        except DBAPIError as exc:
            if not is_retryable(exc) or attempt == attempts - 1:
                raise
            log.info("retrying transaction after %s", exc.orig.__class__.__name__)
            time.sleep(0.005 * (attempt + 1))


# --- Flask glue -----------------------------------------------------------


def get_engine() -> Engine:
    return current_app.extensions["tickethub.engine"]


def get_db() -> Connection:
    """The request's connection, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = get_engine().connect()
    return g.db


def close_db(_exc=None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


# --- migrations -----------------------------------------------------------


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision``."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    chatter = logging.getLogger("alembic.runtime.migration")  # "Context impl ..." at INFO on every look
    level = chatter.level
    chatter.setLevel(max(level, logging.WARNING))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        chatter.setLevel(level)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def schema_problem(engine: Engine) -> str | None:
    """Why this database cannot serve the hub yet (no schema, or an older one), else None."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return None
    where = engine.url.render_as_string(hide_password=True)
    found = "has no hub schema" if current is None else f"has schema revision {current}, this hub needs {head}"
    return f"the database {where} {found}: run `tickethub db upgrade`"


NO_DATABASE_ENDPOINTS = {"api.keys.keyring", "api.meta.openapi"}  # answer from files alone


def require_schema():
    """before_request: answer 503 with the fix (`tickethub db upgrade`) until the schema is
    current, instead of failing deeper with "no such table". Checked until it passes once."""
    from flask import abort, request

    app = current_app
    endpoint = request.endpoint or ""
    if app.extensions.get("tickethub.schema_ok") or endpoint in NO_DATABASE_ENDPOINTS or endpoint.endswith("static"):
        return None
    problem = schema_problem(get_engine())
    if problem is None:
        app.extensions["tickethub.schema_ok"] = True
        return None
    log.warning("%s", problem)
    if request.path.startswith("/api/"):
        from .api.errors import error_response

        return error_response(503, "database_not_migrated", problem, {"Retry-After": "30"})
    abort(503, description=problem)
