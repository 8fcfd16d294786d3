"""The waiting room under 100,000 queued clients (issue #12, item 4): what their queue-status requests
cost one `tickethub serve` process, and how the buyers it lets in fare meanwhile.

Set-up (SQLite, the embedded default; one hub process, loopback only): an event of 10,000 seats with
its waiting room on, released a little after the run starts. A sample of clients joins over HTTP
(POST /api/v1/events/{id}/queue; join rate and latency are reported); the rest joined "before the
run": the bench raises the queue's ticket count in the database and signs their tickets with the
hub's own key and the hub's own function (services.waiting_room.issue_ticket), as a join would.

Run: every client asks GET /api/v1/events/{id}/queue/status with its ticket when the hub told it to
(`poll_after_seconds`); its first question falls at a random moment within the interval a client far
back is given (steady state). From before the release to a while after it: the places are drawn at
the release, then buyers are let in at the event's rate. A client told it is admitted becomes a buyer:
it asks for its admission (POST .../queue/admission), holds 1-2 best-available seats with it and buys
them (free), then leaves. The load client is an asyncio keep-alive client in this process.

Two phases in the same run: a reference with few queued clients (the buyers undisturbed), then the
main phase with 100,000. Each reports status requests per second, their p50/p99, the hub's CPU (cores:
CPU seconds / wall seconds, whole run and after the release), the load client's CPU, and the buyers'
admission/hold/order p99.

Run: .venv/bin/python -m bench.bench_waiting_room [--clients 100000] [--before 30] [--after 120]
     [--rate 600] [--reference-clients 1000]
Writes bench/results/bench_waiting_room.json.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import platform
import random
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from bench.bench_sellout import Hub
from bench.cpu import cpu_seconds, own_cpu_seconds, with_children
from bench.stats import percentile
from hub.services.clock import iso
from hub.services.waiting_room import issue_ticket

RESULTS = Path(__file__).with_name("results") / "bench_waiting_room.json"
POLL_CONNECTIONS = 64
JOIN_CONNECTIONS = 16
SERVER_THREADS = 16


# --- a lean keep-alive HTTP/1.1 client with headers -------------------------------------------------


class Connection:
    """One keep-alive connection doing one request at a time (Content-Length answers only)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict | None = None, body=None) -> tuple[int, dict, bytes]:
        payload = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(payload)}"]
        if body is not None:
            lines.append("Content-Type: application/json")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        for attempt in (1, 2):  # once more on a fresh connection if the server had closed this one
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                self.writer.write(data)
                return await self._response()
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _response(self) -> tuple[int, dict, bytes]:
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, headers, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        self.reader = self.writer = None


def hub_cpu_seconds(hub: Hub) -> float:
    """User + system CPU seconds of the `tickethub serve` process and its children so far (/proc)."""
    return cpu_seconds(with_children(hub.proc.pid))


# --- set-up -----------------------------------------------------------------------------------------


def make_queued_event(hub: Hub, seats: int, rate: int, release_at: datetime, title: str) -> int:
    headers = {"Authorization": f"Bearer {hub.token}"}
    rows = [{"name": str(r + 1), "seats": min(100, seats - r * 100)} for r in range(-(-seats // 100))]
    venue = requests.post(
        hub.url + "/api/v1/venues",
        headers=headers,
        timeout=120,
        json={"name": "Bench Arena", "sections": [{"name": "Floor", "rows": rows}]},
    )
    venue.raise_for_status()
    event = requests.post(
        hub.url + "/api/v1/events",
        headers=headers,
        timeout=120,
        json={
            "title": title,
            "starts_at": iso(release_at + timedelta(days=30)),
            "ticket_release_at": iso(release_at),
            "venue_id": venue.json()["id"],
            "ticket_types": [{"name": "Seat", "kind": "seated", "price": 0}],
            "waiting_room": True,
            "admit_per_minute": rate,
        },
    )
    event.raise_for_status()
    return event.json()["id"]


async def join_over_http(url: str, event_id: int, count: int) -> dict:
    """`count` clients join through the API: the join's latency and rate."""
    parts = url.split(":")
    host, port = parts[1].strip("/"), int(parts[2])
    tickets, latencies = [], []
    remaining = iter(range(count))

    async def worker():
        conn = Connection(host, port)
        for _ in remaining:
            t0 = time.perf_counter()
            status, _headers, body = await conn.request("POST", f"/api/v1/events/{event_id}/queue")
            latencies.append(time.perf_counter() - t0)
            if status != 201:
                raise RuntimeError(f"join: {status} {body[:200]!r}")
            tickets.append(json.loads(body)["queue_ticket"])
        await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(JOIN_CONNECTIONS)))
    elapsed = time.perf_counter() - started
    return {
        "tickets": tickets,
        "joins": count,
        "joins_per_s": round(count / elapsed, 1),
        "join_p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "join_p99_ms": round(percentile(latencies, 99) * 1000, 2),
    }


def add_joined_before(hub: Hub, db_path: str, event_id: int, count: int) -> list[str]:
    """`count` more places, as if they had joined before the run: the ticket count raised in the
    database, their tickets signed with the hub's key by the hub's own function."""
    with sqlite3.connect(db_path, timeout=30) as db:
        first = db.execute("SELECT entries FROM waiting_rooms WHERE event_id = ?", (event_id,)).fetchone()[0] + 1
        db.execute("UPDATE waiting_rooms SET entries = entries + ? WHERE event_id = ?", (count, event_id))
    secret = (Path(hub.dir.name) / "secret_key").read_text().strip()
    return [issue_ticket(secret, event_id, seq) for seq in range(first, first + count)]


def set_release(db_path: str, event_id: int, release_at: datetime) -> None:
    """Move the release to `release_at` (the set-up took however long it took; the hub's copy of the
    queue follows within a second)."""
    naive = release_at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    with sqlite3.connect(db_path, timeout=30) as db:
        db.execute("UPDATE events SET ticket_release_at = ? WHERE id = ?", (naive, event_id))


# --- the run ----------------------------------------------------------------------------------------


class QueueRun:
    """Every ticket asks for its status when told to; admitted ones buy and leave. One dispatcher hands
    the questions that are due to a pool of keep-alive connections."""

    def __init__(self, url: str, event_id: int, tickets: list[str], first_spread: float, end: float):
        parts = url.split(":")
        self.host, self.port = parts[1].strip("/"), int(parts[2])
        self.event_id, self.tickets, self.end = event_id, tickets, end
        rng = random.Random(12)
        now = time.monotonic()
        self.due = [(now + rng.uniform(0, first_spread), i) for i in range(len(tickets))]
        heapq.heapify(self.due)
        self.ready: asyncio.Queue = asyncio.Queue()
        self.status_ms: list[tuple[float, float]] = []  # (when, latency)
        self.late_s: list[float] = []
        self.errors: dict[str, int] = {}
        self.refused_at: list[float] = []  # time.monotonic() of each 503 to a status request
        self.buy_ms: dict[str, list[float]] = {"admission": [], "hold": [], "order": []}
        self.bought = self.admitted = 0
        self.buyers: set[asyncio.Task] = set()

    def _error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def later(self, index: int, seconds: float) -> None:
        heapq.heappush(self.due, (time.monotonic() + seconds, index))

    async def dispatch(self, pollers: int) -> None:
        while True:
            now = time.monotonic()
            if now >= self.end:
                break
            while self.due and self.due[0][0] <= now:
                due, index = heapq.heappop(self.due)
                self.ready.put_nowait((due, index))
            await asyncio.sleep(0.005)
        for _ in range(pollers):
            self.ready.put_nowait(None)

    async def poller(self) -> None:
        conn = Connection(self.host, self.port)
        path = f"/api/v1/events/{self.event_id}/queue/status"
        while (item := await self.ready.get()) is not None:
            due, index = item
            self.late_s.append(time.monotonic() - due)
            t0 = time.perf_counter()
            try:
                status, headers, body = await conn.request("GET", path, {"X-Queue-Ticket": self.tickets[index]})
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                self._error("status: connection")
                self.later(index, 2)
                continue
            self.status_ms.append((time.monotonic(), (time.perf_counter() - t0) * 1000))
            if status != 200:
                self._error(f"status: {status}")
                if status == 503:
                    self.refused_at.append(time.monotonic())
                self.later(index, int(headers.get("retry-after", "2")))
                continue
            answer = json.loads(body)
            if answer["status"] == "admitted":
                self.admitted += 1
                task = asyncio.create_task(self.buy(index))
                self.buyers.add(task)
                task.add_done_callback(self.buyers.discard)
            else:
                self.later(index, answer["poll_after_seconds"])
        await conn.close()

    async def buy(self, index: int) -> None:
        conn = Connection(self.host, self.port)
        ticket = {"X-Queue-Ticket": self.tickets[index]}
        try:
            t0 = time.perf_counter()
            status, _h, body = await conn.request("POST", f"/api/v1/events/{self.event_id}/queue/admission", ticket)
            t1 = time.perf_counter()
            if status != 200:
                self._error(f"admission: {status}")
                return
            token = json.loads(body)["admission_token"]
            status, _h, body = await conn.request(
                "POST",
                f"/api/v1/events/{self.event_id}/holds",
                {"X-Admission-Token": token},
                {"best_available": {"count": 1 + index % 2}},
            )
            t2 = time.perf_counter()
            if status != 201:
                self._error(f"hold: {status}")
                return
            hold = json.loads(body)
            status, _h, body = await conn.request(
                "POST",
                "/api/v1/orders",
                None,
                {
                    "hold_id": hold["hold_id"],
                    "hold_token": hold["hold_token"],
                    "buyer": {"name": "Bench", "email": "bench@example.org"},
                    "payment": {"method": "free"},
                },
            )
            t3 = time.perf_counter()
            if status != 201:
                self._error(f"order: {status}")
                return
            self.buy_ms["admission"].append((t1 - t0) * 1000)
            self.buy_ms["hold"].append((t2 - t1) * 1000)
            self.buy_ms["order"].append((t3 - t2) * 1000)
            self.bought += 1
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            self._error("buyer: connection")
        finally:
            await conn.close()


async def run_phase(
    hub: Hub, event_id: int, tickets: list[str], release_mono: float, after: float, first_spread: float
) -> dict:
    end = release_mono + after
    run = QueueRun(hub.url, event_id, tickets, first_spread, end)
    start_wall, start_cpu, client_cpu = time.monotonic(), hub_cpu_seconds(hub), own_cpu_seconds()
    pollers = [asyncio.create_task(run.poller()) for _ in range(POLL_CONNECTIONS)]
    dispatcher = asyncio.create_task(run.dispatch(POLL_CONNECTIONS))
    await asyncio.sleep(max(0.0, release_mono - time.monotonic()))
    release_cpu, release_wall = hub_cpu_seconds(hub), time.monotonic()
    await asyncio.gather(dispatcher, *pollers)
    end_cpu, end_wall, end_client = hub_cpu_seconds(hub), time.monotonic(), own_cpu_seconds()
    if run.buyers:
        await asyncio.wait(run.buyers, timeout=30)
    wall, after_wall = end_wall - start_wall, end_wall - release_wall
    latencies = [ms for _when, ms in run.status_ms]
    after_release = [ms for when, ms in run.status_ms if when >= release_wall]
    out = {
        "clients": len(tickets),
        "seconds": round(wall, 1),
        "seconds_after_release": round(after_wall, 1),
        "status_requests": len(latencies),
        "status_per_s": round(len(latencies) / wall, 1),
        "status_per_s_after_release": round(len(after_release) / after_wall, 1),
        "status_p50_ms": round(percentile(latencies, 50), 2) if latencies else None,
        "status_p99_ms": round(percentile(latencies, 99), 2) if latencies else None,
        "client_lateness_p99_s": round(percentile(run.late_s, 99), 3) if run.late_s else None,
        "hub_cores": round((end_cpu - start_cpu) / wall, 3),
        "hub_cores_after_release": round((end_cpu - release_cpu) / after_wall, 3),
        "client_cores": round((end_client - client_cpu) / wall, 3),
        "admitted_seen": run.admitted,
        "bought": run.bought,
        "errors": run.errors,
        # when the 503s came, in seconds after the release (negative: before it)
        "refused_seconds_after_release": sorted({round(t - release_wall) for t in run.refused_at}),
    }
    for step, values in run.buy_ms.items():
        out[f"{step}_p50_ms"] = round(percentile(values, 50), 2) if values else None
        out[f"{step}_p99_ms"] = round(percentile(values, 99), 2) if values else None
    return out


def phase(
    hub: Hub, db_path: str, clients: int, http_joins: int, before: float, after: float, rate: int, title: str
) -> dict:
    """One event: its queue filled, then released `before` seconds after the clients start asking."""
    event_id = make_queued_event(hub, 10_000, rate, datetime.now(UTC) + timedelta(hours=1), title)
    joined = asyncio.run(join_over_http(hub.url, event_id, http_joins))
    tickets = joined.pop("tickets") + add_joined_before(hub, db_path, event_id, clients - http_joins)
    release_mono = time.monotonic() + before
    set_release(db_path, event_id, datetime.now(UTC) + timedelta(seconds=before))
    first_spread = max(30.0, clients / 400)  # the interval a far-back client is given (QUEUE_POLL_BUDGET)
    result = asyncio.run(run_phase(hub, event_id, tickets, release_mono, after, first_spread))
    return {"phase": title, **joined, **result}


ROWS = (
    ("clients", "clients"),
    ("status req/s", "status_per_s"),
    ("after release", "status_per_s_after_release"),
    ("p50 ms", "status_p50_ms"),
    ("p99 ms", "status_p99_ms"),
    ("hub cores", "hub_cores"),
    ("hub cores after release", "hub_cores_after_release"),
    ("client cores", "client_cores"),
    ("joins/s (HTTP)", "joins_per_s"),
    ("join p99 ms", "join_p99_ms"),
    ("bought", "bought"),
    ("admission p99 ms", "admission_p99_ms"),
    ("hold p99 ms", "hold_p99_ms"),
    ("order p99 ms", "order_p99_ms"),
    ("errors", "errors"),
)


def print_table(phases: list[dict]) -> None:
    width = max(len(label) for label, _key in ROWS)
    print(f"{'':<{width}}  " + "  ".join(f"{p['phase']:>18}" for p in phases))
    for label, key in ROWS:
        print(f"{label:<{width}}  " + "  ".join(f"{str(p.get(key)):>18}" for p in phases))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--http-joins", type=int, default=2_000, help="clients that join over HTTP (measured)")
    parser.add_argument("--reference-clients", type=int, default=1_000)
    parser.add_argument("--before", type=float, default=30, help="seconds the clients ask before the release")
    parser.add_argument("--after", type=float, default=120, help="seconds after the release")
    parser.add_argument("--reference-after", type=float, default=45)
    parser.add_argument("--rate", type=int, default=600, help="buyers let in per minute")
    args = parser.parse_args()

    db_dir = Path(os.environ.get("TMPDIR", "/tmp"))
    db_path = str(db_dir / f"bench-waiting-room-{os.getpid()}.sqlite3")
    hub = Hub(f"sqlite:///{db_path}", SERVER_THREADS, env={"TICKETHUB_QUEUE_JOIN_RATE_LIMIT": "100000000 per minute"})
    try:
        phases = [
            phase(
                hub,
                db_path,
                args.reference_clients,
                min(args.http_joins, args.reference_clients // 2),
                10,
                args.reference_after,
                args.rate,
                "reference",
            ),
            phase(hub, db_path, args.clients, args.http_joins, args.before, args.after, args.rate, "queued"),
        ]
    finally:
        hub.stop()
        for suffix in ("", "-wal", "-shm"):
            Path(db_path + suffix).unlink(missing_ok=True)
    print_table(phases)
    result = {
        "benchmark": "bench_waiting_room",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": {
            "server_threads": SERVER_THREADS,
            "poll_connections": POLL_CONNECTIONS,
            "admit_per_minute": args.rate,
            "before_s": args.before,
            "after_s": args.after,
            "database": "sqlite",
        },
        "phases": phases,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
