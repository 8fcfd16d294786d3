"""Read spike during an on-sale (issue #12): 200 clients reload the whole seat map of a 10,000-seat
event while 32 buyers buy. What the spike costs the buyers, and whether the hub is back to normal
one second after it ends.

The hub is one `tickethub serve` process (SQLite, 16 threads, 4 buy threads, MAX_QUEUED_REQUESTS
twice the buyers so that no buyer is shed: each lane answers a fast 503 + Retry-After past it). Three phases on
the same hub, back to back:

1. undisturbed: 32 buyers (bench/aio_http.py keep-alive clients, each holding one best-available
   seat and buying it, again and again) for ``--duration`` seconds;
2. spike: the same buyers while ``--readers`` clients each reload
   ``GET /api/v1/events/{id}/seats`` (every seat spelled out, 767 KB decoded, gzip accepted, no
   conditional request: the worst case of a browser reload) as fast as they are answered;
3. after: the readers stop; the buyers go on for a few seconds.

Throughout, a prober asks one seat check (``GET /api/v1/events/{id}/seats/{s}/{r}/{n}``) every
50 ms on its own connection; its latencies are reported for the undisturbed phase, the spike,
and the window from 1 s to 2 s after the spike ended (the issue's "1 s after the spike a seat
check answers in its normal time"; before issue #12 it took > 15 s for minutes).

Run: .venv/bin/python -m bench.bench_spike [--readers 200] [--buyers 32] [--duration 20]
Writes bench/results/bench_spike.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import bench.results as results_file
from bench.aio_http import Connection
from bench.bench_sellout import Hub, make_event
from bench.bench_viewers import Buyers
from bench.cpu import cpu_seconds
from bench.stats import percentile_ms

RESULTS = Path(__file__).with_name("results") / "bench_spike.json"
SEATS = 10_000
PROBE_EVERY_S = 0.05
AFTER_S = 5.0  # buyers and prober go on this long after the spike
GZIP = b"Accept-Encoding: gzip\r\n"


class Readers:
    """Clients reloading the whole seat map, each on its own keep-alive connection."""

    def __init__(self, url: str, path: str, count: int):
        self.url, self.path, self.count = url, path, count
        self.answers: dict[int, int] = {}  # status -> count
        self.latencies: list[float] = []
        self.bytes = 0
        self.failed = 0  # connections refused or reset

    async def run(self, stop: float) -> None:
        await asyncio.gather(*(self._reader(stop) for _ in range(self.count)))

    async def _reader(self, stop: float) -> None:
        conn = Connection(self.url)
        try:
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    answer = await conn.request("GET", self.path, headers=GZIP)
                except (ConnectionError, asyncio.IncompleteReadError):
                    self.failed += 1
                    continue
                self.latencies.append(time.perf_counter() - started)
                self.answers[answer.status] = self.answers.get(answer.status, 0) + 1
                self.bytes += len(answer.body)
                if answer.status == 503:  # a browser would wait as told; the bench honours a short wait
                    await asyncio.sleep(min(1.0, float(answer.headers.get("retry-after", "1"))))
        finally:
            await conn.close()


class Prober:
    """One seat check every PROBE_EVERY_S on its own connection: (sent at, latency, status)."""

    def __init__(self, url: str, path: str):
        self.url, self.path = url, path
        self.samples: list[tuple[float, float, int]] = []

    async def run(self, stop: float) -> None:
        conn = Connection(self.url)
        try:
            while time.monotonic() < stop:
                sent = time.monotonic()
                answer = await conn.request("GET", self.path)
                self.samples.append((sent, time.monotonic() - sent, answer.status))
                await asyncio.sleep(max(0.0, sent + PROBE_EVERY_S - time.monotonic()))  # the probing rate
        finally:
            await conn.close()

    def between(self, start: float, end: float) -> list[float]:
        return [latency for sent, latency, _ in self.samples if start <= sent < end]


def _read_in_process(url: str, path: str, count: int, duration: float, results) -> None:
    """The readers, in a process of their own: their 45+ MB/s of answers must not starve the buyers'
    and the prober's event loop (the client would measure itself, not the hub)."""

    async def run() -> Readers:
        readers = Readers(url, path, count)
        await readers.run(time.monotonic() + duration)
        return readers

    readers = asyncio.run(run())
    results.put((readers.answers, readers.latencies, readers.bytes, readers.failed))


def _measure(hub: Hub, event_id: int, args) -> dict:
    async def run() -> dict:
        probe = Prober(hub.url, f"/api/v1/events/{event_id}/seats/Floor/50/50")
        quiet_buyers = Buyers(hub.url, event_id, args.buyers)
        t0 = time.monotonic()
        prober = asyncio.create_task(probe.run(t0 + 2 * args.duration + AFTER_S + 1))
        await quiet_buyers.run(args.duration)

        spike_buyers = Buyers(hub.url, event_id, args.buyers)
        results = multiprocessing.Queue()
        reading = multiprocessing.Process(
            target=_read_in_process,
            args=(hub.url, f"/api/v1/events/{event_id}/seats", args.readers, args.duration, results),
        )
        pids = hub.pids()
        cpu_before, wall = cpu_seconds(pids), time.perf_counter()
        spike_start = time.monotonic()
        reading.start()
        await spike_buyers.run(args.duration)
        spike_end = spike_start + args.duration  # when the readers stop asking
        hub_cpu = (cpu_seconds(pids) - cpu_before) / (time.perf_counter() - wall) / (os.cpu_count() or 1)

        after_buyers = Buyers(hub.url, event_id, args.buyers)
        await after_buyers.run(AFTER_S)
        await prober
        answers, latencies, received, failed = await asyncio.to_thread(results.get, True, 120)
        reading.join(30)

        def buyers_row(buyers: Buyers, seconds: float) -> dict:
            return {
                "sales": len(buyers.sold_at),
                "sales_per_s": len(buyers.sold_at) / seconds,
                "p50_ms": percentile_ms(buyers.latencies, 50),
                "p99_ms": percentile_ms(buyers.latencies, 99),
                "errors": buyers.errors,
            }

        def probe_row(latencies: list[float]) -> dict:
            return {
                "samples": len(latencies),
                "p50_ms": percentile_ms(latencies, 50) if latencies else None,
                "max_ms": max(latencies) * 1000 if latencies else None,
            }

        return {
            "undisturbed": buyers_row(quiet_buyers, args.duration),
            "spike": buyers_row(spike_buyers, args.duration),
            "after": buyers_row(after_buyers, AFTER_S),
            "readers": {
                "count": args.readers,
                "answers": {str(k): v for k, v in sorted(answers.items())},
                "map_reads_per_s": answers.get(200, 0) / args.duration,
                "p50_ms": percentile_ms(latencies, 50) if latencies else None,
                "p99_ms": percentile_ms(latencies, 99) if latencies else None,
                "bytes_per_s": received / args.duration,
                "connection_failures": failed,
            },
            "hub_cpu_share_during_spike": hub_cpu,
            "seat_check": {
                "undisturbed": probe_row(probe.between(t0, spike_start)),
                "spike": probe_row(probe.between(spike_start, spike_end)),
                "1s_to_2s_after": probe_row(probe.between(spike_end + 1, spike_end + 2)),
                "non_200": sum(1 for *_, status in probe.samples if status != 200),
            },
        }

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--buyers", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of the undisturbed and spike phases")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.readers + args.buyers + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted, hard)
        )
    work = tempfile.mkdtemp(prefix="bench-spike-")
    # room for every buyer in the buy lane (as bench_viewers; docs/deployment.md, sizing the buy lane);
    # the read lane gets the same bound, so the readers are shed later than with the default
    hub = Hub(f"sqlite:///{work}/hub.sqlite3", 16, env={"TICKETHUB_MAX_QUEUED_REQUESTS": str(2 * args.buyers)})
    try:
        event_id = make_event(hub, SEATS)
        print(
            f"hub: 1 process, {SEATS:,}-seat event; {args.buyers} buyers, {args.readers} readers, "
            f"{args.duration:.0f} s per phase",
            file=sys.stderr,
        )
        result = _measure(hub, event_id, args)
    finally:
        hub.stop()
    quiet, spike = result["undisturbed"], result["spike"]
    checks = result["seat_check"]
    summary = {
        "sales_ratio_during_spike": spike["sales_per_s"] / quiet["sales_per_s"],
        "seat_check_after_vs_undisturbed_p50": (
            checks["1s_to_2s_after"]["p50_ms"] / checks["undisturbed"]["p50_ms"]
            if checks["1s_to_2s_after"]["p50_ms"] and checks["undisturbed"]["p50_ms"]
            else None
        ),
    }
    rows = [
        ("buyers undisturbed", quiet),
        ("buyers during the spike", spike),
        ("buyers after the spike", result["after"]),
    ]
    print(f"{'phase':<26}{'sales/s':>9}{'p50 ms':>9}{'p99 ms':>9}  errors")
    for name, row in rows:
        print(f"{name:<26}{row['sales_per_s']:>9.1f}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}  {row['errors']}")
    print(f"{'seat check':<26}{'samples':>9}{'p50 ms':>9}{'max ms':>9}")
    for name in ("undisturbed", "spike", "1s_to_2s_after"):
        row = checks[name]
        print(f"{name:<26}{row['samples']:>9}{row['p50_ms'] or 0:>9.1f}{row['max_ms'] or 0:>9.1f}")
    print(f"readers: {json.dumps(result['readers'])}")
    print(f"summary: {json.dumps(summary)} (goal: sales ratio >= 0.8; seat check back to normal 1 s after)")
    results_file.write(
        args.out,
        {
            "readers": args.readers,
            "buyers": args.buyers,
            "duration_s": args.duration,
            "result": result,
            "summary": summary,
        },
    )


if __name__ == "__main__":
    main()
