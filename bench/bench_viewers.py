"""On-sale viewers (issue #12): many seat-map streams held open on one `tickethub serve` process
while 32 buyers buy. How long a sold seat takes to show on the viewers' streams, and what the
viewers cost the buyers: their request p99 without viewers, then with them, back to back.

The hub is one `tickethub serve` process (SQLite, 16 threads, 4 buy threads) with its seat-map
stream server (--stream-port) and a 10,000-seat event. Buyers are asyncio keep-alive clients
(bench/aio_http.py), each holding one best-available seat and buying it, again and again, for
``--duration`` seconds. Viewers are raw asyncio stream connections (``/seatmap/stream?since=V``):
every tenth parses its events and notes when it first sees each seat sold (the delay is measured
from the moment the buyer's order answer arrived); the others read and discard. After the buyers
stop, viewers get a few seconds to see the last sales; a seat sold but not seen by a parsing
viewer counts as missed. CPU shares are of the whole machine (1.0 = every core).

With ``--stream-process`` the streams come from a second `tickethub serve` process on the same
database (the deployment where nginx sends the stream path to a process of its own): the buyers'
process then reads no seat map, and the streaming process rebuilds the map once a second
(SEATMAP_MAX_AGE_MS) instead of after each change.

Run: .venv/bin/python -m bench.bench_viewers [--viewers 10000] [--buyers 32] [--duration 20] [--stream-process]
Writes bench/results/bench_viewers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

import bench.results as results_file
from bench.aio_http import Connection
from bench.bench_sellout import TICKETHUB, Hub, make_event
from bench.cpu import cpu_seconds
from bench.stats import percentile_ms
from tests.support import free_port

RESULTS = Path(__file__).with_name("results") / "bench_viewers.json"
SEATS = 10_000
GRACE_S = 5.0  # after the buyers stop: time for the last sales to reach the viewers
PARSE_EVERY = 10  # every tenth viewer parses its events


class Buyers:
    def __init__(self, url: str, event_id: int, count: int):
        self.url, self.event_id, self.count = url, event_id, count
        self.latencies: list[float] = []
        self.errors: dict[int, int] = {}  # status -> count of answers that were not a sale
        self.sold_at: dict[int, float] = {}  # seat index -> when its order answer arrived

    async def run(self, duration: float) -> None:
        connections = [Connection(self.url) for _ in range(self.count)]
        for conn in connections:
            await conn.request("GET", "/api/v1/openapi.json")  # connected before the clock starts
        stop = time.monotonic() + duration
        await asyncio.gather(*(self._buyer(conn, stop) for conn in connections))
        for conn in connections:
            await conn.close()

    async def _buyer(self, conn: Connection, stop: float) -> None:
        while time.monotonic() < stop:
            started = time.perf_counter()
            hold = await conn.request("POST", f"/api/v1/events/{self.event_id}/holds", {"best_available": {"count": 1}})
            held = time.perf_counter()
            if hold.status != 201:
                self.errors[hold.status] = self.errors.get(hold.status, 0) + 1
                continue
            body = hold.json()
            order = await conn.request(
                "POST",
                "/api/v1/orders",
                {
                    "hold_id": body["hold_id"],
                    "hold_token": body["hold_token"],
                    "buyer": {"name": "Bench", "email": "bench@example.org"},
                    "payment": {"method": "free"},
                },
            )
            self.latencies += [held - started, time.perf_counter() - held]
            if order.status == 201:
                self.sold_at[body["seats"][0]["index"]] = time.monotonic()
            else:
                self.errors[order.status] = self.errors.get(order.status, 0) + 1


class Viewers:
    def __init__(self, port: int, path: str, count: int):
        self.port, self.path, self.count = port, path, count
        self.seen: list[dict[int, float]] = []  # per parsing viewer: seat index -> first seen sold
        self.opened = self.closed = 0
        self.tasks: list[asyncio.Task] = []

    async def open(self) -> None:
        ready = []
        for start in range(0, self.count, 500):
            batch = [asyncio.get_running_loop().create_future() for _ in range(min(500, self.count - start))]
            for i, future in enumerate(batch):
                seen = {} if (start + i) % PARSE_EVERY == 0 else None
                if seen is not None:
                    self.seen.append(seen)
                self.tasks.append(asyncio.create_task(self._viewer(seen, future)))
            await asyncio.gather(*batch)
            ready += batch

    async def _viewer(self, seen: dict | None, ready: asyncio.Future) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.opened += 1
        buffer = b""
        try:
            while chunk := await reader.read(65536):
                if not ready.done():
                    ready.set_result(True)
                if seen is None:
                    continue
                buffer += chunk
                *events, buffer = buffer.split(b"\n\n")
                now = time.monotonic()
                for event in events:
                    if b"event: changes" in event:
                        data = json.loads(event.rpartition(b"data: ")[2])
                        for index, code in data["changes"]:
                            if code == "s":
                                seen.setdefault(index, now)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if not ready.done():
                ready.set_result(False)
            self.closed += 1
            writer.close()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _phase(hub: Hub, event_id: int, args, viewers: int) -> dict:
    async def run() -> dict:
        reads = hub.reads_url  # the process whose versions the streams follow; the first read builds its map
        version = (
            requests.get(f"{reads}/api/v1/events/{event_id}/seatmap/status", timeout=60).json()["version"]
            if viewers
            else ""
        )
        watching = Viewers(hub.stream_port, f"/api/v1/events/{event_id}/seatmap/stream?since={version}", viewers)
        opened_at = time.monotonic()
        await watching.open()
        opened_s = time.monotonic() - opened_at
        buyers = Buyers(hub.url, event_id, args.buyers)
        pids = hub.pids() + ([hub.streamer.pid] if hub.streamer else [])
        cpu_hub, usage, wall = cpu_seconds(pids), resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        await buyers.run(args.duration)
        wall = time.perf_counter() - wall
        cores = os.cpu_count() or 1
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = {
            "hub": (cpu_seconds(pids) - cpu_hub) / wall / cores,
            "client": (after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime) / wall / cores,
        }
        await asyncio.sleep(GRACE_S if viewers else 0)  # the last sales' way to the viewers (not a synchronisation)
        delays, missed = [], 0
        for seen in watching.seen:
            for index, sold in buyers.sold_at.items():
                if index in seen:
                    delays.append(max(0.0, seen[index] - sold))
                else:
                    missed += 1
        still_open = watching.opened - watching.closed
        await watching.close()
        return {
            "viewers": viewers,
            "viewers_open_at_end": still_open,
            "open_seconds": round(opened_s, 1),
            "sales": len(buyers.sold_at),
            "sales_per_s": len(buyers.sold_at) / args.duration,
            "buyer_errors": buyers.errors,
            "buyer_p50_ms": percentile_ms(buyers.latencies, 50),
            "buyer_p99_ms": percentile_ms(buyers.latencies, 99),
            "seen_p50_ms": percentile_ms(delays, 50) if delays else None,
            "seen_p99_ms": percentile_ms(delays, 99) if delays else None,
            "seen_samples": len(delays),
            "missed": missed,
            "cpu_share": cpu,
        }

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=10_000)
    parser.add_argument("--buyers", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of buying per phase")
    parser.add_argument(
        "--stream-process",
        action="store_true",
        help="serve the streams from a second tickethub serve process on the same database",
    )
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.viewers + args.buyers + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard)
        )
    stream_port = free_port()
    work = tempfile.mkdtemp(prefix="bench-viewers-")
    streams = {
        "TICKETHUB_SEATMAP_STREAM_PORT": str(stream_port),
        "TICKETHUB_SEATMAP_STREAM_MAX_CLIENTS": str(args.viewers + 100),
    }
    hub = Hub(
        f"sqlite:///{work}/hub.sqlite3",
        16,
        env={**({} if args.stream_process else streams), "TICKETHUB_MAX_QUEUED_REQUESTS": str(2 * args.buyers)},
    )  # room for every buyer in the buy lane
    hub.stream_port, hub.streamer, hub.reads_url = stream_port, None, hub.url
    if args.stream_process:  # seat-map reads and streams go to this process (nginx routes them there)
        reads_port = free_port()
        hub.reads_url = f"http://127.0.0.1:{reads_port}"
        hub.streamer = subprocess.Popen(
            [*TICKETHUB, "serve", "--port", str(reads_port), "--no-upgrade"],
            cwd=hub.tree,
            env={
                **hub.env,
                **streams,
                "TICKETHUB_SWEEP_INTERVAL_SECONDS": "0",
                "TICKETHUB_REMINDER_INTERVAL_SECONDS": "0",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import socket

        from tests.support import wait_for

        wait_for(
            lambda: socket.create_connection(("127.0.0.1", stream_port), timeout=1).close() or True,
            60,
            "the streaming process",
        )
    try:
        event_id = make_event(hub, SEATS)
        print(
            f"hub: 1 process, stream port {stream_port}, {SEATS:,}-seat event; {args.buyers} buyers, "
            f"{args.duration:.0f} s per phase",
            file=sys.stderr,
        )
        phases = {}
        for viewers in (0, args.viewers):
            print(f"  {viewers:,} viewers ...", file=sys.stderr)
            phases[str(viewers)] = _phase(hub, event_id, args, viewers)
            print(f"  {json.dumps(phases[str(viewers)])}", file=sys.stderr)
    finally:
        if hub.streamer:
            hub.streamer.terminate()
            hub.streamer.wait(30)
        hub.stop()
    quiet, busy = phases["0"], phases[str(args.viewers)]
    summary = {
        "buyer_p99_ratio": busy["buyer_p99_ms"] / quiet["buyer_p99_ms"],
        "sales_ratio": busy["sales_per_s"] / quiet["sales_per_s"],
        "seen_p99_ms": busy["seen_p99_ms"],
        "missed": busy["missed"],
    }
    print(json.dumps({"phases": phases, "summary": summary}, indent=2))
    results_file.write(
        args.out,
        {
            "viewers": args.viewers,
            "buyers": args.buyers,
            "duration_s": args.duration,
            "stream_process": args.stream_process,
            "phases": phases,
            "summary": summary,
        },
    )


if __name__ == "__main__":
    main()
