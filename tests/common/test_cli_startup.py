"""Command-line start-up: a command imports only what it runs.

A gate service restart on a Raspberry Pi pays every import, so `tickethub
ticket verify`, `tickethub keys ...` and `gate-agent --help` must not load
Flask, SQLAlchemy or OpenCV. Each check runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

HEAVY = ("flask", "sqlalchemy", "cv2", "numpy", "zxingcpp", "fpdf")

RUN_AND_REPORT_IMPORTS = """
import json, sys
from {module} import main
try:
    main({args!r}, standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


def heavy_imports(module: str, args: list[str]) -> list[str]:
    script = RUN_AND_REPORT_IMPORTS.format(module=module, args=args, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_ticket_verify_imports_no_web_framework_or_database(tmp_path):
    keys = tmp_path / "keys"
    subprocess.run(
        [sys.executable, "-m", "hub.cli", "keys", "new", "--dir", str(keys)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert heavy_imports("hub.cli", ["ticket", "verify", "--keyring", str(keys / "keyring.json"), "TG1:XX"]) == []


def test_keys_and_help_import_nothing_heavy(tmp_path):
    assert heavy_imports("hub.cli", ["keys", "new", "--dir", str(tmp_path / "k")]) == []
    assert heavy_imports("hub.cli", ["--help"]) == []
    assert heavy_imports("gate_agent.cli", ["--help"]) == []


@pytest.mark.parametrize("module", ["hub.cli", "gate_agent.cli"])
def test_every_listed_command_loads_under_its_name(module):
    """The lazy table cannot rot: each entry imports to a click command of that name."""
    import importlib

    group = importlib.import_module(module).main
    ctx = click.Context(group)
    for name in group.lazy_commands:
        command = group.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name, name
