"""Dashboard latency: from a gate's push to an open dashboard having the new figures.

For each sample a real gate (gate_agent pipeline + sync client) admits one
ticket and pushes it; a logged-in dashboard stream waits for its "changed"
ping, then fetches the panel as the page does. Measured beside its floor, the
push round trip itself, in the same run:

- sqlite: one `tickethub serve` process (stream and push on the same process);
- postgres: two `tickethub serve` processes on one database, push to A, stream
  on B (LISTEN/NOTIFY), when --postgres URL or TICKETHUB_TEST_POSTGRES_URL is given.

Goal: sync -> page updated within 2 s.
Run: .venv/bin/python -m bench.bench_dashboard [--samples 30] [--postgres URL]
Writes bench/results/bench_dashboard.json. Everything runs on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import secrets
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench.stats import percentile, percentile_ms
from hub.services import users
from tests.e2e.dashboard import PASSWORD, Hub, login, next_changed, postgres_database, prepared_hub, read_events  # noqa: E501
from tests.hub.web.gates import LiveGate, sell_seats
from tests.hub.web.support import make_event

RESULTS = Path(__file__).with_name("results") / "bench_dashboard.json"
GOAL_S = 2.0


def run(name: str, root: Path, database_url: str, samples: int, processes: int) -> dict:
    app, env = prepared_hub(root, database_url)
    engine = app.extensions["tickethub.engine"]
    with engine.connect() as conn:
        organizer = users.create_user(conn, f"org{secrets.token_hex(3)}@example.org", PASSWORD, "organizer")
        event = make_event(conn, organizer["id"], rows=max(1, samples // 10 + 1), seats=10)
    seats = [("A", str(1 + i // 10), str(1 + i % 10)) for i in range(samples)]
    tickets = [t for i in range(0, len(seats), 10) for t in sell_seats(app, engine, event["id"], seats[i : i + 10])]
    hubs = [Hub(root, f"{name}-hub-{i}", env) for i in range(processes)]
    stream = gate = None
    try:
        for hub in hubs:
            hub.wait()
        pusher, watcher_hub = hubs[0], hubs[-1]
        watcher = requests.Session()
        login(watcher, watcher_hub.url, organizer["email"])
        base = f"{watcher_hub.url}/dashboard/events/{event['id']}"
        stream = watcher.get(base + "/stream", stream=True, timeout=(5, 60))
        events: queue.Queue = queue.Queue()
        threading.Thread(target=read_events, args=(stream, events), daemon=True).start()
        starts = 2 if database_url.startswith("postgresql") else 1  # connected, (and listener up)
        for _ in range(starts):
            assert next_changed(events, 10), "the dashboard stream did not start"
        gate = LiveGate(engine, pusher.url, event["id"], "Gate A", root / f"{name}-gate")
        push_s, ping_s, page_s = [], [], []
        for i, ticket in enumerate(tickets):
            assert gate.scan(ticket["code"]) == "admitted"
            t0 = time.perf_counter()
            assert gate.push().acked == 1
            t1 = time.perf_counter()
            assert next_changed(events, 10), f"no ping for sample {i}"
            t2 = time.perf_counter()
            panel = watcher.get(base + "/panel", timeout=10)
            t3 = time.perf_counter()
            assert f'data-admitted="{i + 1}"' in panel.text
            push_s.append(t1 - t0)
            ping_s.append(t2 - t0)
            page_s.append(t3 - t0)
            print(f"  {name}: {i + 1}/{len(tickets)}", end="\r", flush=True)
        print()
        return {
            "processes": processes,
            "samples": len(tickets),
            "push_round_trip_ms": summary(push_s),
            "push_to_ping_ms": summary(ping_s),
            "push_to_page_updated_ms": summary(page_s),
            "p95_over_floor": round(percentile(page_s, 95) / percentile(push_s, 95), 2),
            "goal_ms": GOAL_S * 1000,
            "meets_goal": percentile(page_s, 95) <= GOAL_S,
        }
    finally:
        for hub in hubs:
            hub.stop()
        if stream is not None:
            stream.close()
        if gate is not None:
            gate.close()
        engine.dispose()


def summary(values: list[float]) -> dict:
    return {
        "p50": percentile_ms(values, 50, 1),
        "p95": percentile_ms(values, 95, 1),
        "max": round(max(values) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--postgres", default=os.environ.get("TICKETHUB_TEST_POSTGRES_URL"))
    args = parser.parse_args(argv)
    report = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "sqlite").mkdir()
        report["runs"]["sqlite"] = run(
            "sqlite", root / "sqlite", f"sqlite:///{root / 'sqlite' / 'hub.sqlite3'}", args.samples, 1
        )
        if args.postgres:
            (root / "postgres").mkdir()
            with postgres_database(args.postgres) as url:
                report["runs"]["postgres"] = run("postgres", root / "postgres", url, args.samples, 2)
    print(
        f"{'run':<10} {'procs':>5} {'push p50/p95 ms':>16} {'ping p50/p95 ms':>16} "
        f"{'page p50/p95 ms':>16} {'p95/floor':>9} {'<= 2 s':>6}"
    )
    for name, r in report["runs"].items():
        cells = [
            f"{r[k]['p50']:.0f}/{r[k]['p95']:.0f}"
            for k in ("push_round_trip_ms", "push_to_ping_ms", "push_to_page_updated_ms")
        ]
        print(
            f"{name:<10} {r['processes']:>5} {cells[0]:>16} {cells[1]:>16} {cells[2]:>16} "
            f"{r['p95_over_floor']:>9} {'yes' if r['meets_goal'] else 'NO':>6}"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
