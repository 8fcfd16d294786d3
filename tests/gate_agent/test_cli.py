"""gate-agent init / scan / status through click, and one real subprocess for errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from gate_agent.cli import main
from tests.gate_agent.helpers import make_gate_folder
from tests.support import REPO

GATE_AGENT = str(Path(sys.executable).parent / "gate-agent")


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def test_init_then_scan_then_status(tmp_path):
    folder = make_gate_folder(tmp_path)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(["Row 1 Seat 1", "Row 1 Seat 2"]))
    data = tmp_path / "new-gate"
    result = run(
        "init",
        "--data-dir",
        data,
        "--keyring",
        folder.keyring_file,
        "--event",
        1,
        "--event",
        2,
        "--zones",
        "1,2",
        "--reentry",
        "reentry",
        "--gate-name",
        "Gate B",
        "--seat-labels",
        labels,
        "--doors-open",
        "2000-01-01T18:00:00+00:00",
        "--timezone",
        "UTC",
    )
    assert result.exit_code == 0, result.output
    config = json.loads((data / "gate.json").read_text())
    assert config["gate_id"] == "gate-b" and config["reentry"] == "reentry" and config["zones"] == [1, 2]
    assert config["events"][0]["seat_labels"] == ["Row 1 Seat 1", "Row 1 Seat 2"]

    ticket = folder.ticket(event_id=2, seat=1)
    result = run("scan", "--data-dir", data, "--text", ticket, "--text", ticket, "--text", "hello")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["verdict"] for line in lines] == ["admitted", "already_admitted", "not_a_ticket"]
    assert lines[0]["message"] == "Welcome — Row 1 Seat 2"
    assert lines[1]["message"].startswith("Just admitted here ")  # the same gate seconds ago

    result = run("scan", "--data-dir", data, "-", input=f"{folder.ticket(event_id=1)}\n\n{folder.ticket(event_id=3)}\n")
    assert [json.loads(line)["verdict"] for line in result.output.splitlines()] == ["admitted", "wrong_event"]

    status = run("status", "--data-dir", data, "--json")
    info = json.loads(status.output)
    assert info["store"]["verdicts_here"] == {"admitted": 2, "already_admitted": 1, "not_a_ticket": 1, "wrong_event": 1}
    assert info["store"]["unsynced"] == 5 and info["store"]["schema_version"] >= 1
    text = run("status", "--data-dir", data).output
    assert "Gate B (gate-b): entry, re-entry reentry" in text and "admitted 2" in text


def test_init_refuses_to_overwrite_and_bad_keyring(tmp_path):
    folder = make_gate_folder(tmp_path)
    result = run("init", "--data-dir", folder.path, "--keyring", folder.keyring_file, "--event", 1)
    assert result.exit_code == 1 and "already exists: pass --force" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text("nope")
    result = run("init", "--data-dir", tmp_path / "x", "--keyring", bad, "--event", 1)
    assert result.exit_code == 1 and "is not JSON" in result.output
    assert not (tmp_path / "x").exists()


def test_unreadable_file_is_reported_and_others_still_scanned(tmp_path):
    folder = make_gate_folder(tmp_path)
    result = run("scan", "--data-dir", folder.path, "--text", folder.ticket(), tmp_path / "missing.png")
    assert result.exit_code == 1
    assert "missing.png: no such file or folder" in result.stderr
    assert json.loads(result.stdout.splitlines()[0])["verdict"] == "admitted"


def test_not_an_image_is_named_once_and_an_empty_text_is_refused(tmp_path):
    folder = make_gate_folder(tmp_path)
    junk = tmp_path / "junk.png"
    junk.write_text("not a picture")
    result = run("scan", "--data-dir", folder.path, junk)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {junk}: not an image OpenCV can read (nor a known video suffix)"
    result = run("scan", "--data-dir", folder.path, "--text", "  ")
    assert result.exit_code == 2 and "--text is empty" in result.stderr
    assert run("status", "--data-dir", folder.path, "--json").output.count('"unsynced": 0') == 1  # nothing recorded


def test_bad_data_folder_gives_one_clear_line_not_a_traceback(tmp_path):
    folder = make_gate_folder(tmp_path)
    (folder.path / "gate.json").write_text('{"direction": "up"}')
    for command in ("status", "scan"):
        proc = subprocess.run(
            [GATE_AGENT, command, "--data-dir", str(folder.path), "--text", "x"][: 4 if command == "status" else 6],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        assert "gate.json: direction must be one of entry, exit; got 'up'" in proc.stderr


def test_scan_reads_qr_images_through_the_decoder(tmp_path):
    from PIL import Image

    from common.signing.qr import save_qr

    folder = make_gate_folder(tmp_path)
    text = folder.ticket(seat=3)
    code_png, blank_png, broken_png = tmp_path / "ticket.png", tmp_path / "blank.png", tmp_path / "broken.png"
    save_qr(text, code_png, scale=6)
    Image.new("L", (200, 200), 255).save(blank_png)
    broken_png.write_text("not an image")
    result = run("scan", "--data-dir", folder.path, code_png, blank_png, code_png, broken_png)
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["file"], line["verdict"]) for line in lines] == [
        (str(code_png), "admitted"),
        (str(blank_png), None),
        (str(code_png), "already_admitted"),
    ]
    assert lines[1]["error"] == "no_code_found"
    assert "broken.png: not an image" in result.stderr


def test_corrupt_database_is_a_clear_error(tmp_path):
    folder = make_gate_folder(tmp_path)
    (folder.path / "gate.db").write_bytes(b"garbage" * 1000)
    result = run("status", "--data-dir", folder.path)
    assert result.exit_code == 1
    assert "cannot open the gate database" in result.output and "Traceback" not in result.output


def test_run_refuses_a_zero_resolution_and_a_non_positive_frame_rate(tmp_path):
    folder = make_gate_folder(tmp_path)
    for option, value in (("--resolution", "0x0"), ("--fps", "0"), ("--fps", "-5"), ("--fps", "nan")):
        result = run("run", "--data-dir", folder.path, "--headless", "--source", "stdin", option, value)
        assert result.exit_code == 2, (option, value, result.output)
        assert option in result.stderr
