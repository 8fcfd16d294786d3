"""A small fault-injecting HTTP/1.1 proxy for tests (loopback only, bounded).

Sits between a gate and the hub. Each request is read whole (headers and a
Content-Length body), then one fault is drawn from a seeded RNG:

* ``pass``           forward, relay the response
* ``drop``           close the client connection without forwarding anything
* ``delay``          wait a little (bounded), then forward
* ``cut_request``    send only part of the request to the hub, then close both sides
* ``lose_response``  forward the whole request, let the hub answer, close without relaying
* ``duplicate``      forward the request twice, relay the first answer

Every upstream exchange uses ``Connection: close``, and so does the answer to
the client, so one request never leaks into another. ``stats`` counts faults.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

FAULTS = ("pass", "drop", "delay", "cut_request", "lose_response", "duplicate")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_HEADER = 64 * 1024
MAX_BODY = 8 * 1024 * 1024


@dataclass
class FaultPlan:
    """Probabilities per fault; the rest passes. ``enabled`` can be flipped at any time."""

    weights: dict[str, float] = field(
        default_factory=lambda: {"drop": 0.1, "delay": 0.1, "cut_request": 0.1, "lose_response": 0.15, "duplicate": 0.1}
    )
    max_delay_s: float = 0.3
    enabled: bool = True
    seed: int = 1234
    script: list[str] = field(default_factory=list)  # faults used first, in order, then random ones

    def __post_init__(self):
        self.rng = random.Random(self.seed)
        self.lock = threading.Lock()

    def draw(self) -> str:
        if not self.enabled:
            return "pass"
        with self.lock:
            if self.script:
                return self.script.pop(0)
            x = self.rng.random()
        for name, weight in self.weights.items():
            if x < weight:
                return name
            x -= weight
        return "pass"


class FaultProxy:
    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        plan: FaultPlan | None = None,
        max_connections: int = 20_000,
        only: str | None = None,
    ):
        if upstream_host not in LOOPBACK:
            raise ValueError("the fault proxy only forwards to loopback addresses")
        self.upstream = (upstream_host, upstream_port)
        self.plan = plan or FaultPlan()
        self.only = only  # apply faults only to request paths starting with this
        self.max_connections = max_connections
        self.stats: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()  # path -> forwarded count
        self._stats_lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._accepted = 0
        self._thread = threading.Thread(target=self._serve, name="fault-proxy", daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _count(self, fault: str, path: str | None = None) -> None:
        with self._stats_lock:
            self.stats[fault] += 1
            if path is not None:
                self.requests[path] += 1

    def _serve(self) -> None:
        while not self._stop.is_set() and self._accepted < self.max_connections:
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._accepted += 1
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(10)
        try:
            request = _read_request(client)
            if request is None:
                return
            head, body, path = request
            fault = self.plan.draw() if (self.only is None or path.startswith(self.only)) else "pass"
            self._count(fault)
            raw = _close_header(head) + body
            if fault == "drop":
                return
            if fault == "delay":
                time.sleep(self.plan.rng.uniform(0, self.plan.max_delay_s))
            if fault == "cut_request":
                with socket.create_connection(self.upstream, timeout=10) as up:
                    up.sendall(raw[: max(1, len(raw) - max(1, len(body) // 2 or 1))])
                return
            answer = self._forward(raw, path)
            if fault == "duplicate":
                self._forward(raw, path)
            if fault == "lose_response":
                return
            client.sendall(answer)
        except OSError:
            pass
        finally:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.close()

    def _forward(self, raw: bytes, path: str) -> bytes:
        with socket.create_connection(self.upstream, timeout=30) as up:
            up.sendall(raw)
            chunks = []
            while True:
                data = up.recv(65536)
                if not data:
                    break
                chunks.append(data)
        with self._stats_lock:
            self.requests[path] += 1
        return b"".join(chunks)


def _read_request(sock: socket.socket) -> tuple[bytes, bytes, str] | None:
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            return None
        buf += data
        if len(buf) > MAX_HEADER:
            return None
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length > MAX_BODY:
        return None
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            return None
        rest += data
    path = head.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1").split("?")[0]
    return head + b"\r\n\r\n", rest[:length], path


def _close_header(head: bytes) -> bytes:
    lines = [line for line in head.rstrip(b"\r\n").split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n"
