"""`tickethub db upgrade | users create | tokens create/revoke | demo-data | serve`."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import requests
from click.testing import CliRunner

from hub.cli import main
from tests.support import free_port


def test_db_upgrade_on_a_fresh_instance(tmp_path):
    env = {"TICKETHUB_INSTANCE_PATH": str(tmp_path / "inst")}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "schema at revision" in result.output and "signing key" in result.output
    assert (tmp_path / "inst" / "tickethub.sqlite3").exists()
    assert (tmp_path / "inst" / "keys" / "keyring.json").exists()
    again = CliRunner().invoke(main, ["db", "current"], env=env, catch_exceptions=False)
    assert again.output.strip() not in ("", "empty")


def test_users_and_tokens(runner, client):
    created = runner.invoke(["users", "create", "--email", "Boss@Example.org", "--password", "long enough",
                             "--role", "admin"])
    assert created.exit_code == 0 and "boss@example.org (admin)" in created.output
    duplicate = runner.invoke(["users", "create", "--email", "boss@example.org", "--password", "long enough",
                               "--role", "admin"])
    assert duplicate.exit_code != 0 and "exists" in duplicate.output
    weak = runner.invoke(["users", "create", "--email", "x@example.org", "--password", "short", "--role", "organizer"])
    assert weak.exit_code != 0
    token = runner.invoke(["tokens", "create", "--email", "boss@example.org"]).output.strip()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["role"] == "admin"
    listing = runner.invoke(["tokens", "list", "--email", "boss@example.org"]).output
    token_id = listing.split()[0]
    assert runner.invoke(["tokens", "revoke", token_id]).exit_code == 0
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert runner.invoke(["tokens", "create", "--email", "nobody@example.org"]).exit_code != 0


def test_demo_data(runner, client):
    result = runner.invoke(["demo-data"])
    assert result.exit_code == 0, result.output
    events = client.get("/api/v1/events?sort=title").json["items"]
    assert [e["title"] for e in events] == ["Demo Night", "Demo Open Air"]
    seat_map = client.get(f"/api/v1/events/{events[0]['id']}/seats").json
    assert seat_map["num_available"] == 8 * 20 + 4 * 16 + 4


def test_serve_runs_a_real_server(tmp_path):
    port = free_port()
    env = {**os.environ, "TICKETHUB_INSTANCE_PATH": str(tmp_path / "inst"), "TICKETHUB_AREAS": ""}
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--port", str(port), "--threads", "4"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)  # polling for the server to listen, with a deadline
        assert response is not None and response.status_code == 200, proc.poll()
        assert response.headers["Server"] == "tickethub"  # waitress, not the Flask debug server
        assert requests.get(f"http://127.0.0.1:{port}/api/v1/keyring", timeout=5).json()["keys"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
