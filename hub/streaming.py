"""The seat-map stream: server-sent events of seat changes to thousands of viewers per process.

Waitress gives every open response a thread of its own, so a stream per viewer there would take
the threads that serve sales. This is a small HTTP/1.1 server on its own port (``tickethub serve
--stream-port``), one thread running an asyncio loop: an open stream costs a socket and a few
hundred bytes, not a thread. It answers one path::

    GET /api/v1/events/{id}/seatmap/stream?since=<version>      (or Last-Event-ID: <version>)

with ``text/event-stream``: first the changes from ``since`` to the current version (``event:
changes``), then the new versions' changes as the process's seat maps (services.seatmap) make them,
merged to at most one message every FLUSH_S per event, made once and written to every viewer. Every message carries ``id: <version>``, so a browser that
reconnects (EventSource does so by itself) continues from where it was. A client the stream cannot
bring up to date (no or an unknown version, too far behind, a new layout) gets ``event: reload``
and the stream ends: it loads ``/seatmap/status`` (cacheable) and opens the stream again with its
version. An idle stream gets a comment every SEATMAP_STREAM_HEARTBEAT_SECONDS (proxies keep it
open; a dead client is noticed). A client that does not read is dropped once
SEATMAP_STREAM_BUFFER_BYTES wait for it; beyond SEATMAP_STREAM_MAX_CLIENTS streams a new one gets
503 and the page polls ``/seatmap/changes`` instead.

Behind nginx the stream path goes to this port (docs/deployment.md); the pages learn where the
stream is from SEATMAP_STREAM_URL, else they use their own host at the stream port.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
from urllib.parse import parse_qs, urlsplit

from .services.errors import NotFound
from .services.seatmap import SeatMaps, Snapshot, seatmaps_for

log = logging.getLogger(__name__)

PORT_EXTENSION = "tickethub.seatmap_stream_port"
PATH = re.compile(r"/api/v1/events/([0-9]{1,18})/seatmap/stream")
HEAD_LIMIT = 8192  # bytes of request line and headers
HEAD_TIMEOUT_S = 10.0
RETRY_MS = 2000  # EventSource's reconnection delay
# New versions go out at most this often per event, merged: in a sale storm a stream gets four
# messages a second instead of one per version (each message is one write per open stream).
FLUSH_S = 0.25


def stream_url(app) -> str | None:
    """Where a page served now tells the browser to open seat-map streams, or None (no stream: poll)."""
    from flask import request

    configured = (app.config.get("SEATMAP_STREAM_URL") or "").rstrip("/")
    if configured:
        return configured
    port = app.extensions.get(PORT_EXTENSION)
    if not port:
        return None
    host = urlsplit(request.host_url).hostname or "localhost"
    return f"{request.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def _event(name: str, data: dict, version: str | None = None) -> bytes:
    head = f"id: {version}\n" if version else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _reload(snapshot: Snapshot) -> bytes:
    return _event(
        "reload", {"event_id": snapshot.event_id, "version": snapshot.version, "layout": snapshot.layout.etag}
    )


def _changes(snapshot: Snapshot, since: str, changes: list) -> bytes:
    return _event(
        "changes",
        {
            "event_id": snapshot.event_id,
            "since": since,
            "version": snapshot.version,
            "layout": snapshot.layout.etag,
            "changes": changes,
        },
        snapshot.version,
    )


class _Client:
    def __init__(self, writer: asyncio.StreamWriter, event_id: int):
        self.writer = writer
        self.event_id = event_id
        self.epoch: str | None = None
        self.n = -1  # the version it has; -1 while it is being brought up to date
        self.waiting: list[tuple[Snapshot, int | None, list | None]] = []  # versions made meanwhile


class SeatMapStreams:
    """The stream server of one hub process (see the module's docstring)."""

    def __init__(
        self, store: SeatMaps, *, max_clients: int = 10_000, heartbeat: float = 15.0, buffer_bytes: int = 256 * 1024
    ):
        self.store = store
        self.max_clients = max_clients
        self.heartbeat = heartbeat
        self.buffer_bytes = buffer_bytes
        self.clients: dict[int, set[_Client]] = {}
        self.pending: dict[int, list[tuple[Snapshot, int | None, list | None]]] = {}  # versions to send
        self.count = 0
        self.dropped = 0  # slow clients dropped, for the log and tests
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        store.listen(self._from_refresher)

    # -- life cycle --

    def start(self, sock: socket.socket) -> None:
        """Serve ``sock`` (listening) on a thread of its own."""
        self._thread = threading.Thread(target=self._run, args=(sock,), name="seatmap-streams", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the seat-map stream server did not start")

    def _run(self, sock: socket.socket) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(asyncio.start_server(self._serve, sock=sock, backlog=2048))
        heartbeat = self.loop.create_task(self._heartbeats())
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            heartbeat.cancel()
            self._server.close()
            for clients in self.clients.values():
                for client in clients:
                    client.writer.transport.abort()
            self.loop.run_until_complete(asyncio.sleep(0))
            self.loop.close()

    def close(self) -> None:
        if self.loop is not None and self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)

    # -- one connection --

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = None
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
            target, last_id = _parse(head)
            match = PATH.fullmatch(urlsplit(target).path) if target else None
            if match is None:
                return _plain(writer, "404 Not Found", "no such stream\n")
            if self.count >= self.max_clients:
                return _plain(
                    writer, "503 Service Unavailable", "too many streams; poll instead\n", "Retry-After: 10\r\n"
                )
            event_id = int(match.group(1))
            since = last_id or (parse_qs(urlsplit(target).query).get("since") or [""])[0]
            client = self._add(_Client(writer, event_id))
            try:  # reading the map may wait for its first build: not on the loop's thread
                snapshot, changes = await asyncio.get_running_loop().run_in_executor(
                    None, self.store.changes_since, event_id, since[:80]
                )
            except NotFound:
                return _plain(writer, "404 Not Found", "no such event\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
                b"Access-Control-Allow-Origin: *\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\n"
                + f"retry: {RETRY_MS}\n\n".encode()
            )
            if changes is None:
                writer.write(_reload(snapshot))
                return
            writer.write(_changes(snapshot, since, changes))
            client.epoch, client.n = snapshot.epoch, snapshot.n
            if client.waiting:  # versions made while it was brought up to date
                self._send(client, client.waiting, {})
            client.waiting = []
            while not writer.is_closing() and await reader.read(1024):
                pass  # a stream's client sends nothing more; this ends when it goes
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except Exception:  # noqa: BLE001 - one stream's failure must not stop the others
            log.exception("seat-map stream failed")
        finally:
            if client is not None:
                self._remove(client)
            writer.close()

    def _add(self, client: _Client) -> _Client:
        self.clients.setdefault(client.event_id, set()).add(client)
        self.count += 1
        self.store.watch(client.event_id, +1)
        return client

    def _remove(self, client: _Client) -> None:
        clients = self.clients.get(client.event_id)
        if clients is not None and client in clients:
            clients.discard(client)
            if not clients:
                del self.clients[client.event_id]
            self.count -= 1
            self.store.watch(client.event_id, -1)

    # -- fan-out --

    def _from_refresher(self, snapshot: Snapshot, since: int | None, changes: list | None) -> None:
        """A new version (on the refresher's thread), handed to the loop."""
        if self.loop is not None and snapshot.event_id in self.clients:
            self.loop.call_soon_threadsafe(self._queue, snapshot, since, changes)

    def _queue(self, snapshot: Snapshot, since: int | None, changes: list | None) -> None:
        steps = self.pending.setdefault(snapshot.event_id, [])
        steps.append((snapshot, since, changes))
        if len(steps) == 1:
            self.loop.call_later(FLUSH_S, self._flush, snapshot.event_id)

    def _flush(self, event_id: int) -> None:
        """The versions made since the last flush, merged into one message per version a client has
        (usually one message, made once, written to every stream)."""
        steps = self.pending.pop(event_id, [])
        payloads: dict = {}
        for client in list(self.clients.get(event_id, ())):
            if client.n < 0:
                client.waiting.extend(steps)
            else:
                self._send(client, steps, payloads)

    def _send(self, client: _Client, steps: list, payloads: dict) -> None:
        latest = steps[-1][0] if steps else None
        if latest is None or (client.epoch == latest.epoch and client.n >= latest.n):
            return  # it has these versions already
        key = (client.epoch, client.n)
        if key not in payloads:
            payloads[key] = _follow(steps, client.epoch, client.n)
        payload, follows = payloads[key]
        transport = client.writer.transport
        transport.write(payload)
        if not follows:  # it cannot follow from where it is: it loads the status and comes back
            transport.close()
            return
        client.n = latest.n
        self._check_buffer(client)

    def _check_buffer(self, client: _Client) -> None:
        if client.writer.transport.get_write_buffer_size() > self.buffer_bytes:
            self.dropped += 1
            log.info("seat-map stream of event %d dropped: the client does not read", client.event_id)
            client.writer.transport.abort()

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            for clients in list(self.clients.values()):
                for client in list(clients):
                    if client.n >= 0:
                        client.writer.transport.write(b": keep-alive\n\n")
                        self._check_buffer(client)


def _follow(steps: list, epoch: str | None, n: int) -> tuple[bytes, bool]:
    """The message that brings a client at version (epoch, n) to the last of ``steps`` [(snapshot, since,
    changes)], and whether it does (else it is a reload)."""
    latest = steps[-1][0]
    merged: dict[int, str] = {}
    at = n
    for snapshot, since, changes in steps:
        if snapshot.epoch != epoch:
            return _reload(latest), False
        if snapshot.n <= at:
            continue
        if since != at or changes is None:
            return _reload(latest), False
        merged.update((index, code) for index, code in changes)
        at = snapshot.n
    if at != latest.n:
        return _reload(latest), False
    return _changes(latest, f"{epoch}.{n}", [[index, merged[index]] for index in sorted(merged)]), True


def _parse(head: bytes) -> tuple[str | None, str]:
    """(request target of a GET, Last-Event-ID) from a request head; (None, "") for anything else."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[0] != "GET" or not parts[2].startswith("HTTP/1."):
        return None, ""
    last_id = ""
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "last-event-id":
            last_id = value.strip()
    return parts[1], last_id


def _plain(writer: asyncio.StreamWriter, status: str, text: str, extra: str = "") -> None:
    body = text.encode()
    writer.write(
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        f"Access-Control-Allow-Origin: *\r\n{extra}Connection: close\r\n\r\n".encode()
        + body
    )


def start_stream_server(app, sock: socket.socket) -> SeatMapStreams:
    """Serve the app's seat-map streams on ``sock`` (a listening socket) from a thread of this process;
    pages served by ``app`` then point browsers at its port (unless SEATMAP_STREAM_URL says otherwise)."""
    streams = SeatMapStreams(
        seatmaps_for(app),
        max_clients=int(app.config["SEATMAP_STREAM_MAX_CLIENTS"]),
        heartbeat=float(app.config["SEATMAP_STREAM_HEARTBEAT_SECONDS"]),
        buffer_bytes=int(app.config["SEATMAP_STREAM_BUFFER_BYTES"]),
    )
    streams.start(sock)
    app.extensions[PORT_EXTENSION] = sock.getsockname()[1]
    return streams
