"""`tickethub keys` / `tickethub ticket` / `tickethub demo`: the ticket-format CLI contract."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from hub.cli import main


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def key_dir(cli, tmp_path):
    result = cli("keys", "new", "--dir", str(tmp_path / "keys"))
    assert result.exit_code == 0, result.output
    return tmp_path / "keys", result.output.strip()


def test_keys_new_prints_kid_and_writes_keyring(key_dir):
    directory, kid = key_dir
    assert len(kid) == 4 and int(kid, 16) >= 0
    assert stat.S_IMODE((directory / f"{kid}.pem").stat().st_mode) == 0o600
    keyring = json.loads((directory / "keyring.json").read_text())
    assert [k["kid"] for k in keyring["keys"]] == [kid]


def test_encode_then_verify(cli, key_dir):
    directory, kid = key_dir
    enc = cli(
        "ticket",
        "encode",
        "--dir",
        str(directory),
        "--event",
        "42",
        "--ticket",
        "7",
        "--type",
        "3",
        "--zones",
        "1,2",
        "--seat",
        "12",
        "--not-before",
        "2026-12-01T18:00:00Z",
        "--not-after",
        "2026-12-01T23:00",
    )
    assert enc.exit_code == 0, enc.output
    text = enc.output.strip()
    assert text.startswith("TG1:")
    ok = cli("ticket", "verify", "--keyring", str(directory / "keyring.json"), "--at", "2026-12-01T19:00:00Z", text)
    assert ok.exit_code == 0
    verdict = json.loads(ok.output)
    assert verdict["valid"] is True and verdict["kid"] == kid
    assert (verdict["event_id"], verdict["ticket_id"], verdict["ticket_type"], verdict["seat"]) == (42, 7, 3, 12)
    assert verdict["zones"] == [1, 2] and verdict["not_after"] == "2026-12-01T23:00:00Z"
    early = cli("ticket", "verify", "--keyring", str(directory / "keyring.json"), "--at", "2026-12-01T17:00:00Z", text)
    assert early.exit_code == 0
    assert json.loads(early.output)["valid"] is False
    assert json.loads(early.output)["reason"] == "not_yet_valid"


@pytest.mark.parametrize(
    "text, reason", [("hello", "malformed"), ("TG1:AAAA", "malformed"), ("TG3:AAA", "unsupported_version")]
)
def test_verify_reports_reason_and_exits_zero(cli, key_dir, text, reason):
    directory, _ = key_dir
    result = cli("ticket", "verify", "--keyring", str(directory / "keyring.json"), text)
    assert result.exit_code == 0
    verdict = json.loads(result.output)
    assert verdict["valid"] is False and verdict["reason"] == reason


def test_usage_errors_exit_2(cli, key_dir, tmp_path):
    directory, _ = key_dir
    assert cli("ticket", "verify", "--keyring", str(tmp_path / "missing.json"), "TG1:").exit_code == 2
    (tmp_path / "bad.json").write_text("{")
    assert cli("ticket", "verify", "--keyring", str(tmp_path / "bad.json"), "TG1:").exit_code == 2
    assert (
        cli(
            "ticket", "encode", "--dir", str(directory), "--event", "1", "--ticket", "1", "--type", "1", "--zones", "99"
        ).exit_code
        == 2
    )
    assert (
        cli("ticket", "encode", "--dir", str(directory), "--event", "x", "--ticket", "1", "--type", "1").exit_code == 2
    )
    assert (
        cli(
            "ticket",
            "encode",
            "--dir",
            str(directory),
            "--event",
            "1",
            "--ticket",
            "1",
            "--type",
            "1",
            "--not-before",
            "tomorrow",
        ).exit_code
        == 2
    )


def test_encrypted_key_needs_the_passphrase(cli, tmp_path):
    env = {"TICKETHUB_KEY_PASSPHRASE": "s3cret"}
    assert cli("keys", "new", "--dir", str(tmp_path), env=env).exit_code == 0
    args = ("ticket", "encode", "--dir", str(tmp_path), "--event", "1", "--ticket", "1", "--type", "1")
    assert cli(*args, env=env).exit_code == 0
    denied = cli(*args, env={"TICKETHUB_KEY_PASSPHRASE": ""})
    assert denied.exit_code == 1 and "passphrase" in denied.output


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_qr_writes_file_and_reports_version(cli, key_dir, tmp_path, suffix):
    directory, _ = key_dir
    text = cli(
        "ticket", "encode", "--dir", str(directory), "--event", "42", "--ticket", "1001", "--type", "3", "--seat", "117"
    ).output.strip()
    out = tmp_path / f"t{suffix}"
    result = cli("ticket", "qr", text, "--out", str(out))
    assert result.exit_code == 0
    assert result.output.startswith("version 5 (37x37), ECC M")
    if suffix == ".png":
        image = np.asarray(Image.open(out).convert("L"))
        decoded = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        assert [r.text for r in decoded] == [text]
    else:
        assert out.read_text().startswith("<?xml") or "<svg" in out.read_text()


def test_console_script_and_demo(tmp_path):
    # the demo itself (hub, gate, photos, clean stop) is tested in tests/test_demo.py
    exe = [str(Path(sys.executable).with_name("tickethub"))]
    result = subprocess.run(exe + ["demo", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--exit-after-sync" in result.stdout and "--camera" in result.stdout


def test_keys_retire(cli, tmp_path):
    first = cli("keys", "new", "--dir", str(tmp_path)).output.strip()
    second = cli("keys", "new", "--dir", str(tmp_path)).output.strip()
    refused = cli("keys", "retire", "--dir", str(tmp_path), second)
    assert refused.exit_code == 1 and "create a new key" in refused.output
    done = cli("keys", "retire", "--dir", str(tmp_path), first)
    assert done.exit_code == 0 and f"retired {first}" in done.output
    assert [k["kid"] for k in json.loads((tmp_path / "keyring.json").read_text())["keys"]] == [second]
