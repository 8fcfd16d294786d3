"""`tickethub demo`: the whole system on one machine.

A hub on SQLite (demo venue, events and an organizer from `tickethub demo-data`),
a few tickets sold through the services, photos of their QR codes (tilted,
noisy, as a camera would see them), `tickethub serve`, one gate enrolled with
`gate-agent enroll` and running `gate-agent run` on those photos (or a real
camera). With `localstripe` installed (the dev extra), the hub takes cards
through it: a local fake Stripe the demo starts itself, and one card purchase
runs end to end (order, PaymentIntent, payment, Stripe's webhook, tickets).
Ctrl-C stops every process. Running it again reuses `--out`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click

DEMO_PASSWORD = "demo-organizer"
SOLD_SEATS = [("Stalls", "A", str(n)) for n in range(1, 7)]


@click.command("demo")
@click.option(
    "--out",
    default="demo-output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the hub instance, the gate's data and the ticket photos (reused when it exists).",
)
@click.option("--camera", help="Scan with this camera (e.g. 0) instead of the ticket photos.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Hub port (a free one is taken when it is busy; 0: any free port).",
)
@click.option(
    "--gate-port",
    default=8081,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Door page port (a free one is taken when it is busy).",
)
@click.option("--fps", default=1.0, show_default=True, help="Photos shown to the gate per second.")
@click.option(
    "--exit-after-sync",
    is_flag=True,
    help="Stop everything once the gate's admissions have reached the hub (for tests).",
)
def demo_command(out: Path, camera, port: int, gate_port: int, fps: float, exit_after_sync: bool) -> None:
    """Run the hub and a gate with a simulated camera; print the storefront, dashboard and door URLs."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    instance, gate_dir, photos = out / "hub-instance", out / "gate", out / "ticket-photos"
    # demo-data and the child processes read these: this instance, on SQLite whatever the shell says
    os.environ["TICKETHUB_INSTANCE_PATH"] = str(instance)
    os.environ["TICKETHUB_DATABASE_URL"] = f"sqlite:///{instance / 'tickethub.sqlite3'}"
    step = _stepper(6)

    app = _prepared_app(instance, step)
    state = _seed(app, out / "demo.json", step)
    count = _render_photos(state["codes"], photos)
    step(
        f"{len(state['codes'])} tickets sold for {state['event_title']!r}; {count} photos of their QR codes in {photos}"
    )

    port, gate_port = _port(port), _port(gate_port)
    hub_url = f"http://127.0.0.1:{port}"
    os.environ["TICKETHUB_PUBLIC_URL"] = hub_url  # links in the demo's mails (outbox folder) lead to this hub
    children = Children(out)
    stopping = {"signal": None}

    def _stop(signum, _frame):
        stopping["signal"] = signum

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        stripe_base = _start_localstripe(children, stopping)  # before the hub: it reads the keys at start
        children.start("hub", [_script("tickethub"), "serve", "--port", str(port)])
        children.wait_http(f"{hub_url}/api/v1/keyring", "hub", stopping)
        step(f"hub serving on {hub_url} (log {children.log('hub')})")
        if stripe_base is None:
            step("card payments: skipped, localstripe is not installed (pip install -e '.[dev]' installs it)")
        else:
            step(_card_purchase(hub_url, stripe_base, state["event_id"]))
            click.echo(f"      (localstripe log {children.log('localstripe')})")
        device = _enrolled_gate(app, state, gate_dir, hub_url, children)
        source = ["--camera", camera] if camera is not None else ["--source", str(photos), "--fps", str(fps)]
        children.start(
            "gate",
            [_script("gate-agent"), "run", "--data-dir", str(gate_dir), "--port", str(gate_port), *source],
            # one gate on this machine: its peer exchange listens on loopback only, on any free port
            env={
                "GATE_PUSH_INTERVAL_S": "1",
                "GATE_PULL_INTERVAL_S": "2",
                "GATE_PEER_HOST": "127.0.0.1",
                "GATE_PEER_PORT": "0",
            },
        )
        door_url = f"http://127.0.0.1:{gate_port}/"
        children.wait_http(door_url + "api/state", "gate", stopping)
        step(
            f"gate {device['name']!r} (device {device['id']}) scanning "
            + (f"camera {camera}" if camera is not None else "the ticket photos")
        )
        click.echo("")
        click.echo(f"  storefront:  {hub_url}/")
        click.echo(
            f"  dashboard:   {hub_url}/dashboard/events/{state['event_id']}  "
            f"(log in as {state['email']} / {DEMO_PASSWORD})"
        )
        click.echo(f"  door page:   {door_url}")
        click.echo(f"  mail:        {instance / 'outbox'}  (links in mails point at {hub_url})")
        if stripe_base is not None:
            click.echo(f"  localstripe: {stripe_base}  (pay by card on the storefront with 4242 4242 4242 4242)")
        click.echo("")
        click.echo("Ctrl-C stops the hub and the gate.")
        while stopping["signal"] is None:
            children.check()
            if exit_after_sync and _admitted(app, state["event_id"]) > 0:
                click.echo(f"admissions reached the hub: {_admitted(app, state['event_id'])} admitted")
                break
            time.sleep(0.2)  # the foreground loop's pace; signals end it at once
    except Stopped:
        pass  # Ctrl-C while starting up
    except ChildFailed as exc:
        children.stop_all()
        raise click.ClickException(str(exc)) from None
    finally:
        children.stop_all()
        app.extensions["tickethub.engine"].dispose()
    click.echo("stopped the gate and the hub")


# --- set-up ----------------------------------------------------------------------


def _prepared_app(instance: Path, step):
    from hub import create_app
    from hub.db import upgrade

    app = create_app({"INSTANCE_PATH": str(instance), "SWEEP_INTERVAL_SECONDS": 0})
    upgrade(app.extensions["tickethub.engine"])
    key = app.extensions["tickethub.keys"].ensure()
    step(f"hub instance {instance} (SQLite, migrated, signing key {key.kid})")
    return app


def _seed(app, state_file: Path, step) -> dict:
    """Demo data and sold tickets, once; later runs read them back from ``state_file``."""
    from hub.commands.demo_data import DEMO_EMAIL, demo_data_command
    from hub.services.events import list_events
    from hub.services.holds import hold_seats
    from hub.services.orders import confirm_payment, purchase

    if state_file.exists():
        state = json.loads(state_file.read_text())
        step(f"reusing the demo data: organizer {state['email']} (password {DEMO_PASSWORD!r})")
        return state
    click.get_current_context().invoke(demo_data_command, password=DEMO_PASSWORD)
    signer = app.extensions["tickethub.keys"].current()
    with app.extensions["tickethub.engine"].connect() as conn:
        event = next(e for e in list_events(conn, limit=100)["items"] if e["title"] == "Demo Night")
        held = hold_seats(conn, event["id"], SOLD_SEATS)
        order = purchase(
            conn,
            held["hold_id"],
            held["hold_token"],
            {"name": "Demo Guest", "email": "guest@demo.example"},
            "box_office",
            signer,
        )
        order = confirm_payment(conn, order["id"], signer)
    state = {
        "email": DEMO_EMAIL,
        "event_id": event["id"],
        "event_title": event["title"],
        "codes": [t["code"] for t in order["tickets"]],
        "device_id": None,
    }
    state_file.write_text(json.dumps(state, indent=2))
    step(f"demo data created: organizer {DEMO_EMAIL} (password {DEMO_PASSWORD!r})")
    return state


def _enrolled_gate(app, state: dict, gate_dir: Path, hub_url: str, children: Children) -> dict:
    """Create the device and enrol the gate folder once; reuse both afterwards."""
    from hub.services import devices as device_service

    state_file = gate_dir.parent / "demo.json"
    with app.extensions["tickethub.engine"].connect() as conn:
        device = device_service.get_device(conn, state["device_id"]) if state.get("device_id") else None
        if device is None or device["status"] == "revoked":
            device, token = device_service.create_device(conn, {"name": "Gate A", "event_id": state["event_id"]})
        else:
            identity = gate_dir / "device.json"
            enrolled_with = json.loads(identity.read_text()).get("hub_url") if identity.exists() else None
            if device["status"] == "active" and enrolled_with == hub_url:
                return device
            token = device_service.new_enrolment_token(conn, device["id"])  # e.g. the hub got another port
    enrolled = children.run(
        [_script("gate-agent"), "enroll", "--data-dir", str(gate_dir), "--hub", hub_url, "--token", token, "--force"]
    )
    if enrolled.returncode != 0:
        raise ChildFailed(f"gate-agent enroll failed: {enrolled.stderr.strip()}")
    state["device_id"] = device["id"]
    state_file.write_text(json.dumps(state, indent=2))
    return device


def _admitted(app, event_id: int) -> int:
    from hub.services.attendance import attendance

    with app.extensions["tickethub.engine"].connect() as conn:
        return attendance(conn, event_id)["admitted"]


# --- card payments through localstripe ----------------------------------------------

# localstripe takes any sk_/pk_ key; the webhook secret is what it signs its events with
DEMO_STRIPE = {
    "TICKETHUB_STRIPE_SECRET_KEY": "sk_test_demo",
    "TICKETHUB_STRIPE_PUBLISHABLE_KEY": "pk_test_demo",
    "TICKETHUB_STRIPE_WEBHOOK_SECRET": "whsec_demo",
}


def _start_localstripe(children: Children, stopping: dict) -> str | None:
    """A localstripe on a free port and the hub's Stripe settings pointing at it; None when it is not installed."""
    import importlib.util

    if importlib.util.find_spec("localstripe") is None:
        return None
    port = _port(0)
    base = f"http://127.0.0.1:{port}"
    # --from-scratch: not the objects an earlier run left in localstripe's file (/tmp/localstripe.pickle)
    children.start("localstripe", [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"])
    children.wait_http(f"{base}/js.stripe.com/v3/", "localstripe", stopping)
    os.environ.update(DEMO_STRIPE, TICKETHUB_STRIPE_API_BASE=base)  # the hub child reads them
    return base


def _card_purchase(hub_url: str, stripe_base: str, event_id: int) -> str:
    """One card purchase through the hub's API, paid at (local) Stripe, made paid by Stripe's webhook;
    what went wrong instead, in one line (the rest of the demo runs on)."""
    import requests
    import stripe

    try:
        return _card_purchase_steps(hub_url, stripe_base, event_id)
    except (requests.RequestException, stripe.StripeError, ChildFailed) as exc:
        return f"card purchase FAILED: {exc}"


def _card_purchase_steps(hub_url: str, stripe_base: str, event_id: int) -> str:
    import requests
    import stripe

    requests.post(
        f"{stripe_base}/_config/webhooks/hub",
        json={"url": f"{hub_url}/payments/stripe/webhook", "secret": DEMO_STRIPE["TICKETHUB_STRIPE_WEBHOOK_SECRET"]},
        timeout=10,
    ).raise_for_status()
    held = requests.post(f"{hub_url}/api/v1/events/{event_id}/holds", json={"best_available": {"count": 2}}, timeout=30)
    held.raise_for_status()
    hold = held.json()
    placed = requests.post(
        f"{hub_url}/api/v1/orders",
        json={
            "hold_id": hold["hold_id"],
            "hold_token": hold["hold_token"],
            "buyer": {"name": "Card Buyer", "email": "card@demo.example"},
            "payment": {"method": "card"},
        },
        timeout=30,
    )
    placed.raise_for_status()
    order = placed.json()
    click.echo(f"      order {order['id']} placed, pending: {order['total'] / 100:.2f} {order['currency']} by card")
    # what the buyer's Stripe.js does with the client secret: pay the PaymentIntent with a test card
    client = stripe.StripeClient(DEMO_STRIPE["TICKETHUB_STRIPE_SECRET_KEY"], base_addresses={"api": stripe_base})
    intent = order["payment"]["client_secret"].split("_secret_")[0]
    client.v1.payment_intents.update(intent, {"payment_method": "pm_card_visa"})
    paid_at_stripe = client.v1.payment_intents.confirm(intent)
    click.echo(f"      PaymentIntent {intent} {paid_at_stripe.status} at localstripe (card 4242 4242 4242 4242)")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen = requests.get(
            f"{hub_url}/api/v1/orders/{order['id']}", headers={"X-Order-Token": order["access_token"]}, timeout=10
        ).json()
        if seen["status"] != "pending":
            break
        time.sleep(0.2)  # Stripe's webhook arrives about a second later
    else:
        raise ChildFailed(f"the hub did not get localstripe's webhook for order {order['id']} within 30 s")
    return (
        f"card purchase end to end: order {order['id']} {seen['status']} by Stripe's webhook, "
        f"{len(seen['tickets'])} tickets issued"
    )


# --- ticket photos -----------------------------------------------------------------


def _render_photos(codes: list[str], folder: Path) -> int:
    """One camera-like photo per ticket (tilted, noisy, on a cluttered background), plus a
    photo of a forged ticket for the dashboard's rejected list."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    forged = codes[0][:-4] + ("AAAA" if not codes[0].endswith("AAAA") else "BBBB")
    for i, text in enumerate([*codes, forged], start=1):
        path = folder / f"{i:02d}.png"
        if not path.exists():
            _write_photo(text, path, rng)
    return len(codes) + 1


def _write_photo(text: str, path: Path, rng) -> None:
    import cv2
    import numpy as np
    import segno

    qr = segno.make(text, error="m")
    code = np.array(qr.matrix, dtype=np.uint8)
    code = np.pad(code, 4)  # quiet zone
    module = 8
    image = np.where(np.kron(code, np.ones((module, module), dtype=np.uint8)) > 0, 20, 245).astype(np.uint8)
    h, w = 720, 960
    scene = rng.normal(140, 30, (h, w)).clip(0, 255).astype(np.uint8)
    scene = cv2.GaussianBlur(scene, (0, 0), 6)
    size = image.shape[0]
    src = np.float32([[0, 0], [size, 0], [size, size], [0, size]])
    cx, cy, half = w / 2 + rng.uniform(-80, 80), h / 2 + rng.uniform(-40, 40), 210
    jitter = rng.uniform(-25, 25, (4, 2))
    dst = np.float32(
        [[cx - half, cy - half], [cx + half, cy - half], [cx + half, cy + half], [cx - half, cy + half]]
    ) + jitter.astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    mask = cv2.warpPerspective(np.full_like(image, 255), matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    frame = np.where(mask > 0, warped, scene).astype(np.float32)
    frame = cv2.GaussianBlur(frame, (0, 0), 0.8) + rng.normal(0, 6, frame.shape)
    cv2.imwrite(str(path), cv2.cvtColor(frame.clip(0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR))


# --- child processes ---------------------------------------------------------------


class ChildFailed(Exception):
    pass


class Stopped(Exception):
    """Ctrl-C or SIGTERM arrived while waiting for a child to start."""


class Children:
    """The demo's subprocesses, each in its own session: Ctrl-C reaches only the demo, which
    stops them in order (the gate first, then the hub, then localstripe)."""

    def __init__(self, out: Path):
        self.out = out
        self.procs: dict[str, subprocess.Popen] = {}

    def log(self, name: str) -> Path:
        return self.out / f"{name}.log"

    def _env(self, extra: dict | None = None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATE_")}
        env["PYTHONUNBUFFERED"] = "1"
        return {**env, **(extra or {})}

    def start(self, name: str, argv: list[str], env: dict | None = None) -> None:
        with open(self.log(name), "ab") as log:
            self.procs[name] = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=self._env(env), start_new_session=True
            )

    def run(self, argv: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(argv, capture_output=True, text=True, env=self._env(), timeout=120)

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = self.log(name).read_text(errors="replace")[-1500:]
                raise ChildFailed(f"{name} exited with {proc.returncode}; end of {self.log(name)}:\n{tail}")

    def wait_http(self, url: str, name: str, stopping: dict, timeout: float = 90.0) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and stopping["signal"] is None:
            self.check()
            try:
                if requests.get(url, timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        if stopping["signal"] is not None:
            raise Stopped()
        raise ChildFailed(f"{name} did not answer on {url} within {timeout:.0f} s (log {self.log(name)})")

    def stop_all(self) -> None:
        for name in ("gate", "hub", "localstripe"):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()  # the gate stops its scanner and sync; the hub has nothing to flush
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _script(name: str) -> str:
    """The console script beside this Python (the venv's), else from PATH."""
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else name


def _port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stepper(total: int):
    count = 0

    def step(message: str) -> None:
        nonlocal count
        count += 1
        click.echo(f"[{count}/{total}] {message}")

    return step
