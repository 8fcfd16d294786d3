"""Write the settings tables of docs/configuration.md from the programs' own lists of settings.

Every table stands between ``<!-- settings:NAME -->`` and ``<!-- /settings:NAME -->``;
the prose around the tables is written by hand and kept as it is. The rows come
from ``hub.config.SETTINGS`` (one table per section),
``hub.config.LOCATION_VARIABLES`` and ``gate_agent.config.SETTINGS`` (the table
``gate``). tests/hub/test_config.py fails when the file differs from what this
script writes, or when a table has no place in it.
Run: .venv/bin/python docs/make_configuration.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gate_agent import config as gate_config  # noqa: E402
from hub import config as hub_config  # noqa: E402

DOC = Path(__file__).with_name("configuration.md")
_BLOCK = re.compile(r"(<!-- settings:(?P<name>[\w-]+) -->\n).*?(<!-- /settings:(?P=name) -->)", re.S)


def default_text(value) -> str:
    """How a default reads in the docs: `true`, `600`, `memory://`, or empty."""
    if value is None or value == "" or value == frozenset():
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines) + "\n"


def tables() -> dict[str, str]:
    """Each marker name and the table that belongs between its markers."""
    out: dict[str, str] = {}
    for setting in hub_config.SETTINGS:
        out.setdefault(setting.section, "")  # sections keep the list's order
    for section in out:
        rows = [(f"`{s.name}`", default_text(s.default), s.help) for s in hub_config.SETTINGS if s.section == section]
        out[section] = table(("setting", "default", "meaning"), rows)
    out["locations"] = table(
        ("variable", "meaning"), [(f"`{name}`", text) for name, text in hub_config.LOCATION_VARIABLES]
    )
    out["gate"] = table(
        ("variable", "`gate.json`", "default", "meaning"),
        [
            (f"`{s.variable}`", f"`{s.field}`" if s.field else "", default_text(s.default), s.help)
            for s in gate_config.SETTINGS
        ],
    )
    return out


def render(text: str) -> str:
    """`text` with every generated table brought up to date; ValueError when a table has no markers
    or markers name no table."""
    wanted = tables()
    found = [match["name"] for match in _BLOCK.finditer(text)]
    missing, unknown = sorted(set(wanted) - set(found)), sorted(set(found) - set(wanted))
    if missing or unknown:
        raise ValueError(f"{DOC.name}: tables without markers {missing}, markers without a table {unknown}")
    return _BLOCK.sub(lambda m: m.group(1) + wanted[m["name"]] + m.group(3), text)


def main() -> None:
    current = DOC.read_text("utf-8")
    updated = render(current)
    if updated != current:
        DOC.write_text(updated, "utf-8")
    print(f"{DOC}: {'updated' if updated != current else 'up to date'}")


if __name__ == "__main__":
    main()
