"""`gate-agent decode FILE...` through click's runner and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from gate_agent.cli import main
from tests.support import REPO, require

from .images import on_canvas, qr_gray, ticket_text
from .test_decoders import hide_pyzbar


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.fixture
def ticket_files(tmp_path):
    plain, dark = ticket_text(ticket_id=31), ticket_text(ticket_id=32)
    cv2.imwrite(str(tmp_path / "plain.png"), on_canvas(qr_gray(plain)))
    cv2.imwrite(str(tmp_path / "dark.jpg"), on_canvas(qr_gray(dark, inverted=True), background=20))
    cv2.imwrite(str(tmp_path / "empty.png"), on_canvas(qr_gray(plain))[:40, :40])
    return tmp_path, plain, dark


@pytest.mark.parametrize("backend", ["zxing", "pyzbar"])
def test_decode_prints_one_json_line_per_file(ticket_files, backend):
    folder, plain, dark = ticket_files
    files = [str(folder / n) for n in ("plain.png", "dark.jpg", "empty.png")]
    result = CliRunner().invoke(main, ["decode", "--decoder", backend, *files])
    assert result.exit_code == 0, result.output
    lines = json_lines(result.output)
    assert [(line["file"], line["codes"], line["decoder"]) for line in lines] == [
        (files[0], [plain], backend),
        (files[1], [dark], backend),
        (files[2], [], backend),
    ]
    assert all(isinstance(line["ms"], float) and line["ms"] >= 0 for line in lines)


def test_bad_files_get_error_lines_and_exit_1_while_good_files_are_decoded(ticket_files):
    folder, plain, _ = ticket_files
    (folder / "notes.txt").write_text("no picture here")
    (folder / "cut.png").write_bytes((folder / "plain.png").read_bytes()[:100])
    args = [str(folder / n) for n in ("missing.png", "notes.txt", "cut.png", "plain.png")] + [str(folder)]
    result = CliRunner().invoke(main, ["decode", *args])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = json_lines(result.output)
    assert [line.get("error", {}).get("code") for line in lines] == [
        "not_found",
        "unreadable_image",
        "unreadable_image",
        None,
        "not_a_file",
    ]
    assert all(line["error"]["message"] for line in lines if "error" in line)
    assert lines[3]["codes"] == [plain]


def test_unknown_decoder_is_refused_by_click(ticket_files):
    folder, _, _ = ticket_files
    result = CliRunner().invoke(main, ["decode", "--decoder", "zbarx", str(folder / "plain.png")])
    assert result.exit_code == 2
    assert "zbarx" in result.output and "zxing" in result.output


def test_decode_console_script_on_real_photos(qr_photos):
    """The installed entry point, on real camera photos, non-ASCII text kept as UTF-8."""
    picked = [(png, text) for png, text in qr_photos if png.name in ("1-1.png", "2-30.png")]
    assert len(picked) == 2
    script = Path(sys.executable).parent / "gate-agent"
    require(script.exists(), f"{script} is not installed (pip install -e .)")
    done = subprocess.run(
        [str(script), "decode", *(str(p) for p, _ in picked)],
        capture_output=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = json_lines(done.stdout.decode("utf-8"))
    assert [line["codes"] for line in lines] == [[text] for _, text in picked]


def test_decode_without_pyzbar_says_what_to_install(monkeypatch, ticket_files):
    folder, _, _ = ticket_files
    hide_pyzbar(monkeypatch)
    result = CliRunner().invoke(main, ["decode", "--decoder", "pyzbar", str(folder / "plain.png")])
    assert result.exit_code == 1
    assert "libzbar0" in result.output and "Traceback" not in result.output
