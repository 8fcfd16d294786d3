"""`tickethub demo` (what `make demo` runs) as a subprocess: hub, a card purchase through localstripe,
enrolled gate on ticket photos, admissions synced; it stops every child cleanly, and a second run reuses its folder."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from tests.e2e.harness import _base_env, command
from tests.support import wait_for

pytestmark = pytest.mark.slow


def _processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line or environment names ``text`` (our demo folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if text in (entry / "cmdline").read_bytes().decode(errors="replace") or text in (
                entry / "environ"
            ).read_bytes().decode(errors="replace"):
                state = (entry / "stat").read_text().split()[2]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _demo(out: Path, *args: str) -> list[str]:
    return [
        *command("tickethub", "hub.cli"),
        "demo",
        "--out",
        str(out),
        "--port",
        "0",
        "--gate-port",
        "0",
        "--fps",
        "10",
        *args,
    ]


def test_demo_syncs_admissions_then_stops_cleanly_and_runs_again(tmp_path):
    out = tmp_path / "demo-output"
    first = subprocess.run(
        _demo(out, "--exit-after-sync"), env=_base_env(), capture_output=True, text=True, timeout=240, cwd=tmp_path
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "organizer@demo.example" in first.stdout and "demo-organizer" in first.stdout
    for label in ("storefront:", "dashboard:", "door page:"):
        assert re.search(rf"{label}\s+http://127\.0\.0\.1:\d+/", first.stdout), first.stdout
    assert re.search(r"admissions reached the hub: [1-9]\d* admitted", first.stdout)
    # a card purchase end to end against the localstripe the demo started (the dev extra installs it)
    assert re.search(r"card purchase end to end: order \d+ paid by Stripe's webhook, 2 tickets issued", first.stdout)
    assert re.search(r"localstripe: http://127\.0\.0\.1:\d+", first.stdout)
    assert len(list((out / "ticket-photos").glob("*.png"))) == 7
    assert _processes_mentioning(str(out)) == []

    # Again on the same folder, stopped with Ctrl-C (SIGINT) while it runs.
    second = subprocess.Popen(
        _demo(out), env=_base_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path
    )
    try:
        lines = []
        for line in second.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C stops"):
                break
        text = "".join(lines)
        assert "reusing the demo data" in text, text
        dashboard = re.search(r"dashboard:\s+(http://\S+)", text).group(1)
        # the hub is up and the dashboard asks for a login (not an error)
        assert wait_for(
            lambda: requests.get(dashboard, timeout=5, allow_redirects=False).status_code == 302,
            30,
            "the dashboard URL",
        )
        second.send_signal(signal.SIGINT)
        rest = second.communicate(timeout=60)[0]
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    assert second.returncode == 0, text + rest
    assert "stopped the gate and the hub" in rest
    assert _processes_mentioning(str(out)) == []
