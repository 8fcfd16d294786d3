"""Migration w001 creates exactly the web tables that hub/schema_web.py describes."""
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
    assert WEB_TABLES == {"promo_codes", "order_promos", "account_orders", "password_resets", "user_totp",
                          "mail_log", "order_reminders"}
    assert WEB_TABLES <= present
    assert [d for d in diffs if _table_of(d) in WEB_TABLES] == []
