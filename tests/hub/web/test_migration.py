"""Migration 0002 (revision w001) creates exactly the web tables that hub/schema_web.py describes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import hub.schema_web as web_schema
from hub.db import make_engine
from hub.schema import metadata

WEB_TABLES = {t.name for t in vars(web_schema).values() if getattr(t, "metadata", None) is metadata}


def _table_of(diff) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None:
            return table.name
        if name in WEB_TABLES:
            return name
        if isinstance(part, str) and part in WEB_TABLES:
            return part
    return None


def test_migrated_database_matches_web_schema(sqlite_template):
    engine = make_engine(f"sqlite:///{sqlite_template}")
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        present = set(conn.dialect.get_table_names(conn))
    engine.dispose()
    assert WEB_TABLES == {
        "promo_codes",
        "order_promos",
        "account_orders",
        "password_resets",
        "user_totp",
        "mail_log",
        "order_reminders",
        "staff_invites",  # migration 0007
    }
    assert WEB_TABLES <= present
    assert [d for d in diffs if _table_of(d) in WEB_TABLES] == []


def test_s001_goes_down_and_up_with_users_referenced_by_other_rows(database_url):
    """session_version and staff_of are added and dropped in place: a table copy of users
    would fail on the rows that reference it (SQLite checks foreign keys on the drop)."""
    from alembic import command

    from hub.db import alembic_config, current_revision, upgrade
    from hub.services.users import create_token, create_user

    engine = make_engine(database_url)
    with engine.connect() as conn:
        organizer = create_user(conn, "o@example.org", "long enough", "organizer")
        create_user(conn, "d@example.org", "long enough", "door_staff", staff_of=organizer["id"])
        create_token(conn, organizer["id"], "kept")
    config = alembic_config(database_url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "h001")
    assert current_revision(engine) == "h001"
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT email, session_version, staff_of FROM users ORDER BY id").all()
        tokens = conn.exec_driver_sql("SELECT count(*) FROM api_tokens").scalar_one()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("o@example.org", 0, None), ("d@example.org", 0, None)] and tokens == 1
