"""The running peer exchange of one gate: a small HTTP server that takes its peers' signed
movements, and a sender that gives each peer this gate's own movements it has not yet taken.

Sending: after each admission or exit (and every ``RETRY_S`` otherwise) the sender posts,
to every peer address it knows — the hub's roster, mDNS, ``GATE_PEERS`` — the own
movements after that address's cursor (in memory: after a restart a gate sends its
movements again, which changes nothing at the receiver). A peer that does not answer 200
keeps its cursor and is tried again after a growing pause, so a peer that was away gets
everything it missed. Receiving: verified against the roster, then folded into gate.db by
the offline store (``apply_peer_movements``), which the rules read at the next scan.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from common.protocol import (
    MOVEMENT_VERDICTS,
    PEER_MAX_BYTES,
    PEER_MAX_MOVEMENTS,
    PEER_MOVEMENT_FIELDS,
    PEER_PATH,
    PEER_SIGNATURE_HEADER,
)

from ..config import setting_from_env
from ..sync.identity import DeviceIdentity, is_enrolled, load_identity
from .messages import PeerRefused, sign_message, verify_message
from .roster import PEERS_FILE, Roster, key_fingerprint, load_roster

log = logging.getLogger(__name__)

RETRY_S = 1.0  # the sender's tick when no scan wakes it: retries and newly found peers
MAX_PAUSE_S = 10.0  # the longest pause before trying an unreachable peer again
TIMEOUT = (1.0, 3.0)  # connect, read: a peer is on the LAN


class PeerService:
    def __init__(
        self,
        gate,
        identity: DeviceIdentity,
        *,
        host: str = "0.0.0.0",
        port: int = 0,
        mdns: bool = False,
        static: tuple[str, ...] = (),
        wall_clock: Callable[[], float] | None = None,
    ):
        self.gate = gate
        self.identity = identity
        self.host = host
        self.static = tuple(static)
        self.wall_clock = wall_clock or gate.wall_clock
        self._want_mdns = mdns
        self._mdns = None
        self._roster_path = Path(gate.data.data_dir) / PEERS_FILE
        self._roster_stamp: int | None = None
        self._roster = Roster()
        self._roster_lock = threading.Lock()
        self._cursors: dict[str, int] = {}
        self._pause: dict[str, tuple[int, float]] = {}  # address -> (failures, not before)
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="peer-send")
        self._sessions: dict[str, requests.Session] = {}
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._threads = [
            threading.Thread(target=self._server.serve_forever, args=(0.2,), name="peer-server", daemon=True),
            threading.Thread(target=self._send_loop, name="peer-sender", daemon=True),
        ]

    # --- life cycle ------------------------------------------------------------------------
    def start(self) -> PeerService:
        for thread in self._threads:
            thread.start()
        if self._want_mdns:
            from .discovery import MdnsPeers

            try:
                fingerprint = key_fingerprint(self.identity.key.public_key)
                events = set(self.gate.data.config.events)
                self._mdns = MdnsPeers(self.identity.device_id, fingerprint, events, self.host, self.port).start()
            except Exception:  # no multicast here: the hub's list and GATE_PEERS still work
                log.exception("mDNS is not available: peers are found by the hub's list and GATE_PEERS only")
                self._mdns = None
        self.gate.subscribe(self.wake)
        log.info("peer exchange on %s:%d", self.host, self.port)
        return self

    def stop(self) -> None:
        self.gate.unsubscribe(self.wake)
        self._stopped.set()
        self._wake.set()
        if self._threads[0].is_alive():
            self._server.shutdown()  # waits for serve_forever: only when it runs
        self._server.server_close()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=5)
        self._pool.shutdown(wait=True)
        if self._mdns is not None:
            self._mdns.stop()
        for session in self._sessions.values():
            session.close()

    def wake(self, result=None) -> None:
        """Send now (called after each scan): only an admission or exit is news for the peers."""
        if result is None or result.verdict.value in MOVEMENT_VERDICTS:
            self._wake.set()

    # --- the roster, reloaded when the sync client wrote a new one ---------------------------
    def roster(self) -> Roster:
        try:
            stamp = self._roster_path.stat().st_mtime_ns
        except OSError:
            stamp = None
        with self._roster_lock:
            if stamp != self._roster_stamp:
                self._roster = load_roster(self._roster_path.parent)
                self._roster_stamp = stamp
            return self._roster

    # --- receiving -------------------------------------------------------------------------
    def receive(self, body: bytes, signature: str) -> int:
        """Verify a peer message and fold its movements; returns how many were new here."""
        peer, movements = verify_message(body, signature, self.roster(), set(self.gate.data.config.events))
        applied = self.gate.store.apply_peer_movements(movements)
        if applied:
            log.info("%d movement(s) from peer %s (device %d)", applied, peer.name, peer.device_id)
        return applied

    # --- sending ---------------------------------------------------------------------------
    def targets(self) -> set[str]:
        """Every address to send to: the roster's, mDNS's (roster devices only) and GATE_PEERS."""
        roster = self.roster()
        found = self._mdns.addresses() if self._mdns is not None else {}
        addresses = {p.address for p in roster if p.address}
        addresses |= {found[fp] for fp in (key_fingerprint(p.public_key) for p in roster) if fp in found}
        return addresses | set(self.static)

    def _send_loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(RETRY_S)
            self._wake.clear()
            if self._stopped.is_set():
                break
            now = time.monotonic()
            due = [t for t in self.targets() if self._pause.get(t, (0, 0.0))[1] <= now]
            try:
                for future in [self._pool.submit(self._send_to, t) for t in due]:
                    future.result()
            except Exception:  # a bug must not end the exchange
                log.exception("sending to peers failed")

    def _send_to(self, address: str) -> None:
        session = self._sessions.get(address) or self._sessions.setdefault(address, _session())
        while not self._stopped.is_set():
            rows = self.gate.store.own_movements_after(self._cursors.get(address, 0), PEER_MAX_MOVEMENTS)
            if not rows:
                return
            movements = [{k: row[k] for k in PEER_MOVEMENT_FIELDS} for row in rows]
            body, signature = sign_message(self.identity.device_id, self.identity.key, self.wall_clock(), movements)
            try:
                response = session.post(
                    f"http://{address}{PEER_PATH}",
                    data=body,
                    headers={"Content-Type": "application/json", PEER_SIGNATURE_HEADER: signature},
                    timeout=TIMEOUT,
                )
            except requests.RequestException as exc:
                self._failed(address, exc.__class__.__name__)
                return
            if response.status_code != 200:
                self._failed(address, f"HTTP {response.status_code} {response.text[:200]}")
                return
            self._cursors[address] = rows[-1]["seq"]
            self._pause.pop(address, None)
            if len(rows) < PEER_MAX_MOVEMENTS:
                return

    def _failed(self, address: str, why: str) -> None:
        failures = self._pause.get(address, (0, 0.0))[0] + 1
        pause = min(MAX_PAUSE_S, 0.5 * 2 ** min(failures, 8))
        self._pause[address] = (failures, time.monotonic() + pause)
        log.warning("peer %s did not take our movements (%s); next try in %.1f s", address, why, pause)


def _session() -> requests.Session:
    """One kept-alive connection per peer. A connection the peer closed while idle (its handler's
    timeout) fails at once on reuse: one immediate retry, not a pause (messages are idempotent)."""
    session = requests.Session()
    retry = Retry(total=1, connect=1, read=1, status=0, backoff_factor=0, allowed_methods=frozenset({"POST"}))
    session.mount("http://", HTTPAdapter(max_retries=retry, pool_maxsize=1))
    return session


def _handler(service: PeerService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ticketgate-peer/1"
        timeout = 10  # seconds a connection may idle or trickle: a stalled client does not keep its thread

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            if self.path != PEER_PATH:
                return self._answer(404, {"error": {"code": "not_found", "message": "no such peer route"}})
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                return self._answer(411, {"error": {"code": "length_required", "message": "Content-Length needed"}})
            if not 0 <= length <= PEER_MAX_BYTES:
                self.close_connection = True  # the body stays unread
                message = f"a peer message has at most {PEER_MAX_BYTES} bytes"
                return self._answer(413, {"error": {"code": "too_large", "message": message}})
            body = self.rfile.read(length)
            try:
                applied = service.receive(body, self.headers.get(PEER_SIGNATURE_HEADER, ""))
            except PeerRefused as exc:
                log.warning("refused a peer message from %s: %s (%s)", self.client_address[0], exc.code, exc)
                return self._answer(exc.status, {"error": {"code": exc.code, "message": str(exc)}})
            except Exception:
                log.exception("a peer message from %s could not be applied", self.client_address[0])
                return self._answer(500, {"error": {"code": "internal", "message": "not applied"}})
            self._answer(200, {"applied": applied})

        def _answer(self, status: int, doc: dict) -> None:
            data = json.dumps(doc).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
            log.debug("peer %s: " + format, self.client_address[0], *args)

    return Handler


def start_peers(gate, environ: Mapping[str, str] | None = None) -> PeerService | None:
    """Start the exchange for a running gate that is enrolled and has it on; else None."""
    if not setting_from_env("GATE_PEERS_ENABLED", environ):
        log.info("peer exchange is switched off (GATE_PEERS_ENABLED)")
        return None
    if not is_enrolled(gate.data.data_dir):
        return None  # a gate without a device key has nothing to sign with, and no roster
    try:
        service = PeerService(
            gate,
            load_identity(gate.data.data_dir),
            host=setting_from_env("GATE_PEER_HOST", environ),
            port=setting_from_env("GATE_PEER_PORT", environ),
            mdns=setting_from_env("GATE_PEER_MDNS", environ),
            static=setting_from_env("GATE_PEERS", environ) or (),
        )
    except OSError as exc:  # the port is taken: the gate still scans, and syncs through the hub
        log.error("peer exchange not started: cannot listen on its port (%s)", exc)
        return None
    return service.start()
