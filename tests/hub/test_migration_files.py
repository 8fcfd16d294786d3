"""Migration files show their order: NNNN_<what>.py, each revising the one before it."""

from __future__ import annotations

import re

from alembic.config import Config
from alembic.script import ScriptDirectory

from hub.db import MIGRATIONS_DIR


def test_file_names_number_the_chain_of_revisions():
    scripts = ScriptDirectory.from_config(_config())
    assert len(scripts.get_heads()) == 1, "migrations must form one line (alembic merge, or revise the latest)"
    chain = list(reversed(list(scripts.walk_revisions())))  # oldest first
    names = [re.match(r"(\d{4})_[a-z0-9_]+\.py$", script.path.rsplit("/", 1)[-1]) for script in chain]
    assert all(names), [script.path for script, name in zip(chain, names) if not name]
    assert [int(name.group(1)) for name in names] == list(range(1, len(chain) + 1))


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config
