"""`tickethub db upgrade | users create | tokens create/revoke | demo-data | serve`."""

from __future__ import annotations

import os
import subprocess
import sys

import requests
from click.testing import CliRunner

from hub.cli import main
from tests.support import free_port, wait_for


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
    created = runner.invoke(
        ["users", "create", "--email", "Boss@Example.org", "--password", "long enough", "--role", "admin"]
    )
    assert created.exit_code == 0 and "boss@example.org (admin)" in created.output
    duplicate = runner.invoke(
        ["users", "create", "--email", "boss@example.org", "--password", "long enough", "--role", "admin"]
    )
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
    env = {**os.environ, "TICKETHUB_INSTANCE_PATH": str(tmp_path / "inst"), "TICKETHUB_WEB_PAGES": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port), "--threads", "4"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        response = wait_for(
            lambda: proc.poll() is None and requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2),
            timeout=30,
            what="the server to listen",
        )
        assert response.status_code == 200
        assert response.headers["Server"] == "tickethub"  # waitress, not the Flask debug server
        assert requests.get(f"http://127.0.0.1:{port}/api/v1/keyring", timeout=5).json()["keys"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_with_several_worker_processes(tmp_path):
    port = free_port()
    env = {**os.environ, "TICKETHUB_INSTANCE_PATH": str(tmp_path / "inst"), "TICKETHUB_WEB_PAGES": "false"}
    subprocess.run([sys.executable, "-m", "hub.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hub.cli",
            "users",
            "create",
            "--email",
            "o@example.org",
            "--password",
            "long enough",
            "--role",
            "organizer",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port), "--threads", "2", "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_for(
            lambda: proc.poll() is None and requests.get(f"{base}/keyring", timeout=2),
            timeout=30,
            what="the workers to listen",
        )
        token = subprocess.run(
            [sys.executable, "-m", "hub.cli", "tokens", "create", "--email", "o@example.org"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        venue = requests.post(
            f"{base}/venues",
            headers=headers,
            timeout=10,
            json={"name": "V", "sections": [{"name": "A", "rows": [{"name": "1", "seats": 4}]}]},
        ).json()
        event = requests.post(
            f"{base}/events",
            headers=headers,
            timeout=10,
            json={
                "title": "T",
                "starts_at": "2031-01-01T20:00:00Z",
                "venue_id": venue["id"],
                "ticket_types": [{"name": "S", "kind": "seated", "price": 0}],
            },
        ).json()
        sold = []
        for _ in range(4):  # requests land on either worker; the seat map stays consistent
            hold = requests.post(
                f"{base}/events/{event['id']}/holds", json={"best_available": {"count": 1}}, timeout=10
            ).json()
            order = requests.post(
                f"{base}/orders",
                timeout=10,
                json={
                    "hold_id": hold["hold_id"],
                    "hold_token": hold["hold_token"],
                    "buyer": {"name": "B", "email": "b@example.org"},
                    "payment": {"method": "free"},
                },
            )
            assert order.status_code == 201
            sold.append(hold["seats"][0]["seat"])
        assert sorted(sold) == ["1", "2", "3", "4"]
        assert requests.get(f"{base}/events/{event['id']}/seats", timeout=10).json()["num_available"] == 0
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0 or proc.returncode < 0
    try:
        requests.get(f"{base}/keyring", timeout=2)
    except requests.ConnectionError:
        pass  # every worker stopped with the supervisor
    else:
        raise AssertionError("a worker outlived the supervisor")


def test_a_fresh_operator_gets_one_line_errors_not_tracebacks(tmp_path):
    """Commands before `tickethub db upgrade`, and bad settings, say what to do."""
    instance = {"TICKETHUB_INSTANCE_PATH": str(tmp_path / "inst")}

    def run(args, **env):
        result = CliRunner().invoke(main, args, env={**instance, **env})
        # a ClickException: exit status 1 and a message (an uncaught error would be the exception itself)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), repr(result.exception)
        return result.output

    for args in (
        ["users", "create", "--email", "o@example.org", "--password", "long enough", "--role", "admin"],
        ["tokens", "create", "--email", "o@example.org"],
        ["tokens", "list", "--email", "o@example.org"],
        ["devices", "list"],
    ):
        assert "has no hub schema: run `tickethub db upgrade`" in run(args), args
    assert "TICKETHUB_DATABASE_URL is not a database URL" in run(["db", "upgrade"], TICKETHUB_DATABASE_URL="nope")
    assert "TICKETHUB_HOLD_TTL_SECONDS must be an integer" in run(["db", "upgrade"], TICKETHUB_HOLD_TTL_SECONDS="ten")
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=5"
    assert "cannot use the database: connection failed" in run(["db", "upgrade"], TICKETHUB_DATABASE_URL=unreachable)
    # after the upgrade the same command works
    assert CliRunner().invoke(main, ["db", "upgrade"], env=instance).exit_code == 0
    created = CliRunner().invoke(
        main,
        ["users", "create", "--email", "o@example.org", "--password", "long enough", "--role", "admin"],
        env=instance,
    )
    assert created.exit_code == 0, created.output

    encrypted = {"TICKETHUB_INSTANCE_PATH": str(tmp_path / "encrypted")}
    made = CliRunner().invoke(main, ["db", "upgrade"], env={**encrypted, "TICKETHUB_KEY_PASSPHRASE": "right one"})
    assert made.exit_code == 0, made.output
    instance = encrypted
    assert "wrong passphrase" in run(["db", "upgrade"], TICKETHUB_KEY_PASSPHRASE="wrong one")
    assert "set TICKETHUB_KEY_PASSPHRASE" in run(["db", "upgrade"])


def test_serve_on_a_busy_port_or_unknown_host_says_so(tmp_path):
    import socket

    env = {"TICKETHUB_INSTANCE_PATH": str(tmp_path / "inst")}
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--port", str(port)], env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), repr(result.exception)
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.output
    unknown = CliRunner().invoke(main, ["serve", "--host", "999.1.1.1", "--port", str(free_port())], env=env)
    assert unknown.exit_code == 1 and "cannot listen on 999.1.1.1" in unknown.output
