"""A simple text form of a venue's seats, for the venue page.

One section per line: ``Section name: Row=seats, Row=seats, ...`` where seats
is a count (``A=12`` gives seats 1..12), a numbered range (``C=3-14``) or the
seat labels in brackets (``1=[L1 L2 R1 R2]``, for boxes and odd numbering).
Blank lines and lines starting with # are ignored. ``layout_text`` writes a
venue back in this form, so what the venue page shows is accepted again.
"""

from __future__ import annotations

import re

from .errors import Invalid

_ROW = re.compile(r"^\s*([^=,:]{1,20}?)\s*=\s*(?:(\d{1,4})(?:\s*-\s*(\d{1,4}))?|\[([^\[\]=,:]*)\])\s*$")


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
                    f"line {number}: {part.strip()!r} is not `Row=count`, `Row=first-last` or `Row=[label label ...]`",
                    "invalid_layout",
                )
            row, labels = match.group(1), match.group(4)
            if labels is not None:
                if not labels.split():
                    raise Invalid(f"line {number}: row {row} needs at least one seat", "invalid_layout")
                rows.append({"name": row, "seats": labels.split()})
                continue
            first, last = int(match.group(2)), match.group(3)
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
    """The text form of a venue as returned by venues.get_venue; parse_layout reads it back."""
    lines = []
    for section in venue["sections"]:
        parts = [f"{row['name']}={_seats_text(row['seats'])}" for row in section["rows"]]
        lines.append(f"{section['name']}: " + ", ".join(parts))
    return "\n".join(lines)


def _seats_text(labels: list[str]) -> str:
    """``12`` for seats 1..12, ``3-14`` for another unbroken run of numbers, else ``[L1 L2 ...]``."""
    if all(label.isdigit() and label == str(int(label)) for label in labels):
        first = int(labels[0])
        if labels == [str(n) for n in range(first, first + len(labels))]:
            return str(len(labels)) if first == 1 else f"{first}-{first + len(labels) - 1}"
    return "[" + " ".join(labels) + "]"


def expand(sections: list[dict]) -> list[dict]:
    """parse_layout's sections with every row's seat labels spelled out (a count N is "1".."N"), as
    venues.get_venue shows them: the preview of a layout before it is saved."""
    return [
        {
            "name": section["name"],
            "rows": [
                {
                    "name": row["name"],
                    "seats": row["seats"]
                    if isinstance(row["seats"], list)
                    else [str(n) for n in range(1, row["seats"] + 1)],
                }
                for row in section["rows"]
            ],
        }
        for section in sections
    ]
