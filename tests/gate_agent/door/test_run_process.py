"""A real `gate-agent run` process scanning a folder of QR images and serving its door page."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import requests

from common.signing.qr import save_qr
from tests.gate_agent.helpers import make_gate_folder
from tests.support import free_port, wait_for

GATE_AGENT = str(Path(sys.executable).parent / "gate-agent")


def test_run_scans_a_folder_source_and_serves_the_door_page(tmp_path):
    folder = make_gate_folder(tmp_path)
    images = tmp_path / "camera"
    images.mkdir()
    texts = [folder.ticket() for _ in range(3)]
    for i, text in enumerate(texts):
        save_qr(text, images / f"frame-{i}.png", scale=6)
    port = free_port()
    proc = subprocess.Popen(
        [GATE_AGENT, "run", "--data-dir", str(folder.path), "--source", str(images), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().startswith(f"door page: http://127.0.0.1:{port}/")
        base = f"http://127.0.0.1:{port}"
        state = wait_for(
            lambda: (s := requests.get(base + "/api/state", timeout=2).json())["admitted"] == 3 and s,
            what="three admissions",
        )
        assert [r["verdict"] for r in state["recent"]] == ["admitted"] * 3
        assert 'data-src="/preview.jpg"' in requests.get(base + "/", timeout=2).text
        assert requests.get(base + "/preview.jpg", timeout=2).headers["Content-Type"] == "image/jpeg"
        again = requests.post(base + "/api/scan", json={"text": texts[0]}, timeout=5).json()
        assert again["verdict"] == "already_admitted"
        # the folder ran out: the page says so instead of READY (a file is not reopened)
        camera = wait_for(
            lambda: (c := requests.get(base + "/api/state", timeout=2).json()["camera"])["state"] == "stopped" and c,
            what="the camera state to turn stopped",
        )
        assert camera["ok"] is False and camera["message"].startswith("The camera stopped")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_run_with_a_missing_source_is_a_clear_error(tmp_path):
    folder = make_gate_folder(tmp_path)
    proc = subprocess.run(
        [GATE_AGENT, "run", "--data-dir", str(folder.path), "--source", str(tmp_path / "nope.png"), "--headless"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert "nope.png: no such file, folder or camera" in proc.stderr and "Traceback" not in proc.stderr


def test_run_with_a_camera_that_is_not_there_is_a_clear_error(tmp_path):
    folder = make_gate_folder(tmp_path)
    proc = subprocess.run(
        [GATE_AGENT, "run", "--data-dir", str(folder.path), "--camera", "97", "--headless"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "camera 97 could not be opened" in proc.stderr and "Traceback" not in proc.stderr


def test_run_on_a_busy_port_is_a_clear_error(tmp_path):
    import socket

    folder = make_gate_folder(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [GATE_AGENT, "run", "--data-dir", str(folder.path), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1
    assert f"cannot serve the door page on 127.0.0.1:{port}" in proc.stderr and "Traceback" not in proc.stderr
