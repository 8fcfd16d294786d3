"""Real processes for end-to-end tests: `tickethub serve` and `gate-agent run` on loopback.

Synchronisation is by polling HTTP or files with a deadline (`wait_for`), never
by sleeping a fixed time. Short sync intervals keep the suite fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support import REPO, free_port, start_process, stop_process

BIN = Path(sys.executable).parent
FAST_SYNC = {"GATE_PUSH_INTERVAL_S": "0.2", "GATE_PULL_INTERVAL_S": "0.3", "GATE_SYNC_MAX_BACKOFF_S": "1"}


def command(name: str, module: str) -> list[str]:
    """The console script when installed, else the same entry point through this Python."""
    script = BIN / name
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", f"import sys; from {module} import main; sys.exit(main())"]


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TICKETHUB_", "GATE_"))}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


class HubServer:
    """A hub instance folder with a SQLite database, served by a `tickethub serve` subprocess."""

    def __init__(self, root: Path):
        self.instance = root / "hub-instance"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "hub.log"
        self.proc: subprocess.Popen | None = None
        self.env = {
            **_base_env(),
            "TICKETHUB_INSTANCE_PATH": str(self.instance),
            "TICKETHUB_WEB_PAGES": "false",
            "TICKETHUB_SWEEP_INTERVAL_SECONDS": "0",
            "TICKETHUB_RATELIMIT_ENABLED": "false",
        }
        self._app = None

    # --- in-process set-up on the same database (organizer, event, tickets) ---------
    @property
    def app(self):
        if self._app is None:
            from hub import create_app
            from hub.db import upgrade

            self._app = create_app(
                {"INSTANCE_PATH": str(self.instance), "WEB_PAGES": False, "SWEEP_INTERVAL_SECONDS": 0}
            )
            upgrade(self._app.extensions["tickethub.engine"])
            self._app.extensions["tickethub.keys"].ensure()
        return self._app

    def connect(self):
        return self.app.extensions["tickethub.engine"].connect()

    def organizer(self) -> dict[str, str]:
        from hub.services import users

        with self.connect() as conn:
            user = users.create_user(conn, f"org{time.monotonic_ns()}@example.org", "correct horse", "organizer")
            _tid, token = users.create_token(conn, user["id"], "e2e")
        self.organizer_id = user["id"]
        return {"Authorization": f"Bearer {token}"}

    def ga_event(self, capacity: int = 500) -> dict:
        from datetime import timedelta

        from hub.services import event_admin, events
        from hub.services.clock import iso, utcnow

        now = utcnow()
        with self.connect() as conn:
            event = events.create_event(
                conn,
                {
                    "title": "E2E Night",
                    "starts_at": iso(now + timedelta(days=1)),
                    "ticket_release_at": iso(now),
                    "ticket_types": [{"name": "Standing", "kind": "ga", "price": 0, "capacity": capacity}],
                },
                organizer_id=self.organizer_id,
            )
            # doors open: gates admit its tickets now (the default window opens 4 h before the start)
            event_admin.set_door_settings(conn, event["id"], {"doors_open_at": iso(now - timedelta(hours=1))})
            return events.get_event(conn, event["id"])

    def buy(self, event: dict, count: int = 1) -> dict:
        """A free order of ``count`` tickets: {"id", "tickets": [{"ticket_id", "code"}, ...]}."""
        from hub.services import holds, orders

        type_id = event["ticket_types"][0]["id"]
        signer = self.app.extensions["tickethub.keys"].current()
        with self.connect() as conn:
            hold = holds.hold_ga(conn, event["id"], type_id, count)
            return orders.purchase(
                conn,
                hold["hold_id"],
                hold["hold_token"],
                {"name": "Guest", "email": "guest@example.org"},
                "free",
                signer,
            )

    def refund(self, order_id: int) -> None:
        from hub.services import orders

        with self.connect() as conn:
            orders.refund(conn, order_id)

    # --- the server process ----------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        _ = self.app  # migrate and create the signing key before serving
        self.proc = start_process(
            [*command("tickethub", "hub.cli"), "serve", "--port", str(self.port), "--threads", "8"],
            env=self.env,
            log=self.log,
            ready_url=self.url + "/api/v1/keyring",
            what="tickethub serve",
            cwd=self.instance.parent,
            timeout=timeout,
        )

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def close(self) -> None:
        self.stop()
        if self._app is not None:
            self._app.extensions["tickethub.engine"].dispose()

    def api(self, method: str, path: str, headers: dict, **kwargs) -> requests.Response:
        return requests.request(method, self.url + "/api/v1" + path, headers=headers, timeout=30, **kwargs)


class GateProcess:
    """A gate data folder and its `gate-agent run` process (door page on loopback)."""

    def __init__(self, root: Path, name: str, env: dict[str, str] | None = None):
        self.name = name
        self.data_dir = root / name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / f"{name}.log"
        self.peer_port = free_port()
        # peers on loopback, found through the hub's list (mDNS is tested on its own, tests/gate_agent/peers)
        peers = {"GATE_PEER_HOST": "127.0.0.1", "GATE_PEER_PORT": str(self.peer_port), "GATE_PEER_MDNS": "false"}
        self.env = {**_base_env(), **FAST_SYNC, **peers, **(env or {})}
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*command("gate-agent", "gate_agent.cli"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def enroll(self, hub_url: str, token: str) -> subprocess.CompletedProcess:
        return self.cli("enroll", "--data-dir", str(self.data_dir), "--hub", hub_url, "--token", token)

    def start(self, *args: str, timeout: float = 60.0) -> None:
        """``args``: more `gate-agent run` options, e.g. a frame source."""
        self.proc = start_process(
            [
                *command("gate-agent", "gate_agent.cli"),
                "run",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
                *args,
            ],
            env=self.env,
            log=self.log,
            ready_url=self.url + "/api/state",
            what=f"{self.name}'s gate-agent run",
            timeout=timeout,
        )

    def scan(self, text: str) -> dict:
        response = requests.post(self.url + "/api/scan", json={"text": text}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def state(self) -> dict:
        return requests.get(self.url + "/api/state", timeout=30).json()

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def create_device(hub: HubServer, headers: dict, event_id: int, name: str, **fields) -> tuple[dict, str]:
    response = hub.api("POST", "/devices", headers, json={"name": name, "event_id": event_id, **fields})
    assert response.status_code == 201, response.text
    return response.json()["device"], response.json()["enrolment_token"]
