"""The Raspberry Pi systemd units and install script."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO, require

PROVISIONING = REPO / "provisioning"
UNITS = ["ticketgate-gate.service", "ticketgate-kiosk.service"]


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """systemd unit syntax: [Section] then Key=Value lines; keys may repeat; # and ; comment."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for number, raw in enumerate(path.read_text("utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None and key.strip(), f"{path.name}:{number}: not Key=Value: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_gate_unit_runs_the_agent_as_its_own_user_in_the_camera_group_and_restarts():
    unit = parse_unit(PROVISIONING / "ticketgate-gate.service")
    service = unit["Service"]
    assert service["User"] == ["ticketgate"] and service["SupplementaryGroups"] == ["video"]
    assert service["Restart"] == ["on-failure"]
    exec_start = service["ExecStart"][0].split()
    assert exec_start[0].endswith("/gate-agent") and exec_start[1] == "run"
    assert exec_start[exec_start.index("--data-dir") + 1] == "/var/lib/ticketgate/gate"
    assert service["ReadWritePaths"] == ["/var/lib/ticketgate"] and service["ProtectSystem"] == ["strict"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_kiosk_unit_opens_the_door_page_full_screen():
    unit = parse_unit(PROVISIONING / "ticketgate-kiosk.service")
    exec_start = unit["Service"]["ExecStart"][0]
    gate_exec = parse_unit(PROVISIONING / "ticketgate-gate.service")["Service"]["ExecStart"][0].split()
    port = gate_exec[gate_exec.index("--port") + 1]
    assert "chromium" in exec_start and "--kiosk" in exec_start
    assert f"--app=http://127.0.0.1:{port}/" in exec_start
    assert unit["Service"]["Restart"] == ["always"]
    assert "ticketgate-gate.service" in unit["Unit"]["After"][0]


@pytest.mark.parametrize("name", UNITS)
def test_units_pass_systemd_analyze_verify(name, tmp_path):
    require(shutil.which("systemd-analyze") is not None, "systemd-analyze (Debian package systemd) is missing")
    # verify also checks that ExecStart binaries exist: point them at one that does
    text = (PROVISIONING / name).read_text("utf-8")
    for binary in ("/opt/ticketgate/venv/bin/gate-agent", "/usr/bin/cage", "/usr/bin/curl"):
        text = text.replace(binary, "/usr/bin/true")
    (tmp_path / name).write_text(text, "utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / name)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if name in line and ("Unknown" in line or "ignoring" in line or "rror" in line)
    ]
    assert result.returncode == 0 and problems == [], result.stderr


def test_install_script_plans_user_groups_venv_enrolment_and_units():
    script = PROVISIONING / "install-pi.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    result = subprocess.run(
        ["bash", str(script), "--dry-run", "--hub", "https://hub.example", "--token", "te_abc"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    plan = [line[2:] for line in result.stdout.splitlines() if line.startswith("+ ")]
    joined = "\n".join(plan)
    assert "usermod -a -G video ticketgate" in joined
    assert "install -d -o ticketgate -g ticketgate -m 0700" in joined
    assert any(
        "gate-agent enroll" in p and "--token te_abc" in p and p.startswith("runuser -u ticketgate") for p in plan
    )
    assert "systemctl enable --now ticketgate-gate.service" in joined
    assert "systemctl enable --now ticketgate-kiosk.service" in joined
    no_kiosk = subprocess.run(["bash", str(script), "--dry-run", "--no-kiosk"], capture_output=True, text=True)
    skipped = [line for line in no_kiosk.stdout.splitlines() if line.startswith("+ ")]
    assert skipped and not any("kiosk" in p or "gate-agent enroll" in p for p in skipped)


def test_install_script_rejects_a_token_without_a_hub():
    result = subprocess.run(
        ["bash", str(PROVISIONING / "install-pi.sh"), "--dry-run", "--token", "te_abc"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "--token needs --hub" in result.stderr
