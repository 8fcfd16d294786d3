"""Writing a bench's JSON result: the figures beside what machine took them, in one shape for every script."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path


def machine(load_average_before: tuple[float, float, float] | None = None) -> dict:
    """Python, platform and core count; the load average when the run began (other work on the machine)."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_before": list(load_average_before or os.getloadavg()),
    }


def write(path: str | Path, figures: dict, load_average_before: tuple[float, float, float] | None = None) -> Path:
    """Write {"machine": ..., **figures} as indented JSON to `path` (its folder made if missing)."""
    out = Path(path)
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": machine(load_average_before), **figures}, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return out
