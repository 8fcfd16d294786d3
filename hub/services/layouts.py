"""A simple text form of a venue's seats, for the venue page.

One section per line: ``Section name: Row=seats, Row=seats, ...`` where seats
is a count (``A=12`` gives seats 1..12) or a numbered range (``C=3-14``).
Blank lines and lines starting with # are ignored.
"""

from __future__ import annotations

import re

from .errors import Invalid

_ROW = re.compile(r"^\s*([^=,:]{1,20}?)\s*=\s*(\d{1,4})(?:\s*-\s*(\d{1,4}))?\s*$")


def parse_layout(text: str) -> list[dict]:
    """The `sections` list that venues.create_venue takes."""
    sections = []
    for number, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, rows_text = line.partition(":")
        if not colon or not name.strip():
            raise Invalid(f"line {number}: write `Section: Row=seats, ...`", "invalid_layout")
        rows = []
        for part in rows_text.split(","):
            match = _ROW.match(part)
            if not match:
                raise Invalid(
                    f"line {number}: {part.strip()!r} is not `Row=count` or `Row=first-last`", "invalid_layout"
                )
            row, first, last = match.group(1), int(match.group(2)), match.group(3)
            if last is None:
                seats: int | list[str] = first
                if first < 1:
                    raise Invalid(f"line {number}: row {row} needs at least one seat", "invalid_layout")
            else:
                if int(last) < first:
                    raise Invalid(f"line {number}: row {row}: {first}-{last} runs backwards", "invalid_layout")
                seats = [str(n) for n in range(first, int(last) + 1)]
            rows.append({"name": row, "seats": seats})
        sections.append({"name": name.strip(), "rows": rows})
    if not sections:
        raise Invalid("describe at least one section", "invalid_layout")
    return sections


def layout_text(venue: dict) -> str:
    """The text form of a venue as returned by venues.get_venue (numbered rows only)."""
    lines = []
    for section in venue["sections"]:
        parts = []
        for row in section["rows"]:
            labels = row["seats"]
            if labels == [str(n) for n in range(1, len(labels) + 1)]:
                parts.append(f"{row['name']}={len(labels)}")
            else:
                parts.append(f"{row['name']}={labels[0]}-{labels[-1]}")
        lines.append(f"{section['name']}: " + ", ".join(parts))
    return "\n".join(lines)
