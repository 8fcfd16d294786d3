"""The seat-map stream (hub/streaming.py): server-sent events of seat changes from an asyncio server on
its own port, served by the app's real seat maps; thousands of streams open on one process, a client
that does not read is dropped, one that cannot follow is told to reload."""

from __future__ import annotations

import json
import resource
import selectors
import socket
import threading

import pytest
from sqlalchemy import update

from hub.schema import event_seats
from hub.services import seatmap
from hub.streaming import start_stream_server
from tests.support import wait_for

from .helpers import buy, create_event, seat


@pytest.fixture
def streams(app):
    server = start_stream_server(app, socket.create_server(("127.0.0.1", 0)))
    yield server
    server.close()


def _port(app) -> int:
    from hub.streaming import PORT_EXTENSION

    return app.extensions[PORT_EXTENSION]


class Stream:
    """A raw stream client that collects the events it reads (on its own thread)."""

    def __init__(self, port: int, path: str, headers: str = ""):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
        self.data = b""
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.data += chunk
        except OSError:
            pass
        self.closed = True

    def events(self) -> list[tuple[str, dict]]:
        body = self.data.partition(b"\r\n\r\n")[2].decode()
        found = []
        for block in body.split("\n\n"):
            fields = dict(
                line.split(": ", 1) for line in block.split("\n") if ": " in line and not line.startswith(":")
            )
            if "event" in fields:
                found.append((fields["event"], json.loads(fields["data"])))
        return found

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reading thread; the server sees the client go
        self.sock.close()


def test_a_stream_carries_each_hold_and_sale_and_sends_a_lost_client_to_reload(app, client, organizer, streams):
    event = create_event(client, organizer, rows=1, seats=4)
    status = client.get(f"/api/v1/events/{event['id']}/seatmap/status").json
    path = f"/api/v1/events/{event['id']}/seatmap/stream"
    stream = Stream(_port(app), f"{path}?since={status['version']}")
    wait_for(lambda: stream.events(), 10, "the stream's first event")
    assert stream.data.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Type: text/event-stream" in stream.data
    assert b"Access-Control-Allow-Origin: *" in stream.data  # the page is on another port: another origin
    assert stream.events()[0] == ("changes", {**stream.events()[0][1], "changes": [], "version": status["version"]})

    hold = client.post(f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", "2")]}).json
    wait_for(lambda: len(stream.events()) >= 2, 10, "the hold on the stream")
    assert stream.events()[1][0] == "changes" and stream.events()[1][1]["changes"] == [[1, "h"]]
    assert buy(client, hold).status_code == 201
    wait_for(lambda: len(stream.events()) >= 3, 10, "the sale on the stream")
    sold = stream.events()[2][1]
    assert sold["changes"] == [[1, "s"]] and sold["since"] == stream.events()[1][1]["version"]
    assert f"id: {sold['version']}\n".encode() in stream.data  # a reconnecting EventSource continues from here

    # reconnecting with Last-Event-ID (what EventSource sends) continues from that version
    again = Stream(_port(app), f"{path}?since=ignored", f"Last-Event-ID: {status['version']}\r\n")
    wait_for(lambda: again.events(), 10, "the catch-up")
    assert again.events()[0][1]["changes"] == [[1, "s"]]
    lost = Stream(_port(app), f"{path}?since=elsewhere.7")
    wait_for(lambda: lost.closed, 10, "a stream that cannot follow to end")
    assert lost.events() == [
        ("reload", {"event_id": event["id"], "version": sold["version"], "layout": sold["layout"]})
    ]
    unknown = Stream(_port(app), "/api/v1/events/999999/seatmap/stream?since=x.1")
    wait_for(lambda: unknown.closed, 10, "the unknown event's answer")
    assert unknown.data.startswith(b"HTTP/1.1 404 ")
    for each in (stream, again):
        each.close()
    wait_for(lambda: streams.count == 0, 10, "closed streams to be forgotten")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_thousand_streams_on_one_process_all_get_a_change(app, client, organizer, streams):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # both ends of 2,000 connections live here
    if soft != resource.RLIM_INFINITY and soft < 5000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (5000 if hard == resource.RLIM_INFINITY else min(5000, hard), hard))
    event = create_event(client, organizer, rows=1, seats=4)
    version = client.get(f"/api/v1/events/{event['id']}/seatmap/status").json["version"]
    request = (
        f"GET /api/v1/events/{event['id']}/seatmap/stream?since={version} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    ).encode()
    selector = selectors.DefaultSelector()
    received: dict[socket.socket, bytes] = {}
    try:
        for _ in range(2000):
            sock = socket.create_connection(("127.0.0.1", _port(app)), timeout=30)
            sock.sendall(request)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
            received[sock] = b""

        def read_until(marker: bytes) -> bool:
            for key, _mask in selector.select(timeout=0.2):
                try:
                    received[key.fileobj] += key.fileobj.recv(65536)
                except BlockingIOError:
                    pass
            return all(marker in data for data in received.values())

        wait_for(lambda: read_until(b"event: changes"), 60, "2,000 streams caught up")
        assert streams.count == 2000
        assert (
            client.post(f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", "3")]}).status_code == 201
        )
        wait_for(lambda: read_until(b'"changes":[[2,"h"]]'), 60, "the hold on every stream")
    finally:
        for sock in received:
            selector.unregister(sock)
            sock.close()
    wait_for(lambda: streams.count == 0, 30, "every stream closed")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_client_that_does_not_read_is_dropped_and_the_others_get_every_version(app, client, organizer, engine):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # accepted streams inherit a small buffer
    app.config["SEATMAP_STREAM_BUFFER_BYTES"] = 16 * 1024
    streams = start_stream_server(app, listener)
    try:
        event = create_event(client, organizer, rows=100, seats=100)
        version = client.get(f"/api/v1/events/{event['id']}/seatmap/status").json["version"]
        path = f"/api/v1/events/{event['id']}/seatmap/stream?since={version}"
        reader = Stream(_port(app), path)
        idle = socket.socket()
        idle.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        idle.connect(("127.0.0.1", _port(app)))
        idle.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())  # and never reads
        wait_for(lambda: streams.count == 2 and reader.events(), 10, "both streams open")
        for round_ in range(12):  # a thousand seats change each time: about 9 KB a message
            with engine.begin() as conn:
                conn.execute(
                    update(event_seats)
                    .where(event_seats.c.event_id == event["id"], event_seats.c.position < 1000)
                    .values(status="sold" if round_ % 2 == 0 else "available")
                )
            seatmap.changed(event["id"], app)
            wait_for(lambda: len(reader.events()) >= round_ + 2, 20, f"change {round_ + 1} on the reading stream")
        assert all(
            name == "changes" and len(data["changes"]) == (1000 if i else 0)
            for i, (name, data) in enumerate(reader.events())
        )
        wait_for(lambda: streams.dropped == 1 and streams.count == 1, 20, "the idle client dropped")
        idle.close()
        reader.close()
    finally:
        streams.close()


def test_versions_made_within_a_flush_go_out_as_one_message_or_as_a_reload():
    from hub.services.seatmap import Layout, Snapshot
    from hub.streaming import _follow

    layout = Layout(1, tuple((i, "A", "1", str(i + 1)) for i in range(4)), ())
    versions = [Snapshot(layout, "e", n, status, 0.0) for n, status in ((3, b"haaa"), (4, b"hsaa"), (5, b"asaa"))]
    steps = [(versions[0], 2, [[0, "h"]]), (versions[1], 3, [[1, "s"]]), (versions[2], 4, [[0, "a"]])]
    message, follows = _follow(steps, "e", 2)  # a client at version 2 gets 3..5 merged
    assert follows and b'"since":"e.2","version":"e.5"' in message and b'"changes":[[0,"a"],[1,"s"]]' in message
    assert _follow(steps, "e", 4)[0].count(b'"changes":[[0,"a"]]') == 1  # one that has 4 gets only 5
    assert _follow(steps, "e", 1) == (_follow(steps, "other", 2)[0], False)  # a gap, another sequence: reload
    assert _follow(steps, "e", 1)[0].startswith(b"event: reload\n")
