"""Hub fixtures: every hub test runs on SQLite and on PostgreSQL.

Each backend is migrated once per session into a template (a SQLite file, a
PostgreSQL database); every test gets a fresh copy (file copy / CREATE DATABASE
... TEMPLATE), so tests never see each other's rows. The postgres parameter
skips without TICKETHUB_TEST_POSTGRES_URL (and fails under CI=true).
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support import POSTGRES_URL_ENV, require

BACKENDS = ["sqlite", "postgres"]


def _admin_pg(url: str):
    import psycopg

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(plain, autocommit=True)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    from hub.db import make_engine, upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template():
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        yield None
        return
    from hub.db import make_engine, upgrade

    name = f"tg_tpl_{secrets.token_hex(4)}"
    with _admin_pg(url) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    engine = make_engine(_with_database(url, name))
    upgrade(engine)
    engine.dispose()
    yield name
    with _admin_pg(url) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path, sqlite_template, postgres_template):
    """A freshly migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "hub.sqlite3"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    require(postgres_template is not None, f"{POSTGRES_URL_ENV} is not set")
    url = os.environ[POSTGRES_URL_ENV]
    name = f"tg_{secrets.token_hex(6)}"
    with _admin_pg(url) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {postgres_template}")
    yield _with_database(url, name)
    with _admin_pg(url) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def app_config(database_url, tmp_path) -> dict:
    return {
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "TESTING": True,
        "HOLD_RATE_LIMIT": "100000 per minute",
        "SWEEP_INTERVAL_SECONDS": 0,
    }


@pytest.fixture
def app(app_config):
    from hub import create_app

    app = create_app(app_config)
    app.extensions["tickethub.keys"].ensure()
    yield app
    app.extensions["tickethub.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_server(app):
    """The app on a real multi-threaded waitress server on loopback; yields its base URL."""
    import logging
    import threading

    import waitress

    from tests.support import free_port

    server = waitress.create_server(app, host="127.0.0.1", port=free_port(), threads=16, connection_limit=200)
    stopping = threading.Event()

    def run():
        try:
            server.run()
        except OSError:  # the loop's sockets were closed under it while stopping
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    stopping.set()
    logging.getLogger("waitress").setLevel(logging.CRITICAL)
    while server._map:  # close every channel and trigger, as webtest's StopableWSGIServer does
        for channel in list(server._map.values()):
            channel.handle_close()
    server.task_dispatcher.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def engine(app):
    return app.extensions["tickethub.engine"]


@pytest.fixture
def runner(app):
    """Invoke `tickethub ...` against the test app's database and instance folder."""
    from click.testing import CliRunner

    from hub.cli import main

    env = {
        "TICKETHUB_INSTANCE_PATH": app.instance_path,
        "TICKETHUB_DATABASE_URL": app.config["DATABASE_URL"],
        "TICKETHUB_KEYS_DIR": app.config["KEYS_DIR"],
    }

    class Runner:
        def invoke(self, args, **kwargs):
            return CliRunner().invoke(main, args, env=env, catch_exceptions=False, **kwargs)

    return Runner()


@pytest.fixture
def make_user(engine):
    """make_user(role) -> (user dict, bearer headers)."""
    from hub.services import users

    counter = {"n": 0}

    def make(role: str = "organizer", email: str | None = None):
        counter["n"] += 1
        with engine.connect() as conn:
            user = users.create_user(conn, email or f"{role}{counter['n']}@example.org", "correct horse", role)
            _token_id, token = users.create_token(conn, user["id"], "test")
        return user, {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def organizer(make_user):
    return make_user("organizer")[1]


@pytest.fixture
def admin(make_user):
    return make_user("admin")[1]


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    """The address of a real localstripe process shared by the session's tests (each registers its own
    hub's webhook URL with it: tests.support.register_stripe_webhook)."""
    from tests.support import start_localstripe, stop_process

    proc, base = start_localstripe(tmp_path_factory.mktemp("localstripe") / "localstripe.log")
    yield base
    stop_process(proc)
