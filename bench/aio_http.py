"""A lean HTTP/1.1 keep-alive client on asyncio streams, for load clients that must cost less CPU than
the server they measure (a `requests` session per thread costs about as much as the hub itself).

One `Connection` is one keep-alive TCP connection doing one request at a time; bodies are JSON.
It speaks only what a loopback bench needs: Content-Length bodies (waitress sends no chunked
answers to these requests), no redirects, no TLS, reconnect when the server closes.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class Connection:
    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.host_header = f"{self.host}:{self.port}".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body=None, headers: bytes = b"") -> Response:
        """Send one request (``body``: a JSON-serialisable value or None; ``headers``: extra raw header
        lines, each ending in CRLF) and read its whole answer."""
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nContent-Length: {len(payload)}\r\n".encode()
            + b"Host: "
            + self.host_header
            + b"\r\nContent-Type: application/json\r\n"
            + headers
            + b"\r\n"
        )
        for attempt in (1, 2):  # once more on a fresh connection if the server had closed this one
            if self.writer is None:
                await self._connect()
            try:
                self.writer.write(head + payload)
                return await self._read_response()
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise

    async def _read_response(self) -> Response:
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, body)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except ConnectionError:
                pass
        self.reader = self.writer = None
