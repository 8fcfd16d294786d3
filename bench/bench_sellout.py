"""Sell out a 10,000-seat event through a real `tickethub serve` with many concurrent
HTTP clients (hold best-available seats, then buy them), on SQLite and PostgreSQL.

Prints holds/s, orders/s, p50/p99 latency and the oversell count (must be 0), beside
the raw database's floor measured in the same run: the same number of single-row
transactional UPDATEs (BEGIN [IMMEDIATE]; UPDATE ... WHERE status='available'; COMMIT)
through the bare DB-API driver, one client, no HTTP.

Run: .venv/bin/python -m bench.bench_sellout [--backends sqlite,postgres] [--seats 10000] [--clients 32]
PostgreSQL URL: --postgres-url or TICKETHUB_TEST_POSTGRES_URL (a scratch database is created and dropped).
Writes bench/results/bench_sellout.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from bench.stats import percentile
from tests.support import free_port, wait_for

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("results") / "bench_sellout.json"
TICKETHUB = [sys.executable, "-m", "hub.cli"]


class Hub:
    """A `tickethub serve` subprocess on its own instance folder and database."""

    def __init__(self, db_url: str, threads: int, workers: int = 1, env: dict | None = None):
        self.dir = tempfile.TemporaryDirectory(prefix="bench-sellout-")
        self.env = {**os.environ, "TICKETHUB_INSTANCE_PATH": self.dir.name, "TICKETHUB_DATABASE_URL": db_url,
                    "TICKETHUB_HOLD_RATE_LIMIT": "1000000 per minute", "TICKETHUB_WEB_PAGES": "false",
                    # every simulated buyer comes from 127.0.0.1: no per-client share of holds
                    "TICKETHUB_HOLD_MAX_SEATS_PER_CLIENT": "0",
                    "PYTHONPATH": str(REPO), **(env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cli("db", "upgrade")
        self.cli("users", "create", "--email", "bench@example.org", "--password", "bench-password",
                 "--role", "organizer")
        self.token = self.cli("tokens", "create", "--email", "bench@example.org").strip().splitlines()[-1]
        self.proc = subprocess.Popen([*TICKETHUB, "serve", "--port", str(self.port), "--threads", str(threads),
                                      "--workers", str(workers)],
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: requests.get(self.url + "/api/v1/openapi.json", timeout=2), 60, "tickethub serve to start")

    def cli(self, *args: str) -> str:
        return subprocess.run([*TICKETHUB, *args], env=self.env, check=True, capture_output=True, text=True).stdout

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.dir.cleanup()


def make_event(hub: Hub, seats: int) -> int:
    headers = {"Authorization": f"Bearer {hub.token}"}
    per_row = 100
    rows = [{"name": str(r + 1), "seats": min(per_row, seats - r * per_row)} for r in range(-(-seats // per_row))]
    venue = requests.post(hub.url + "/api/v1/venues", headers=headers, timeout=60,
                          json={"name": "Bench Arena", "sections": [{"name": "Floor", "rows": rows}]})
    venue.raise_for_status()
    event = requests.post(hub.url + "/api/v1/events", headers=headers, timeout=60, json={
        "title": "Sell-out", "starts_at": "2031-01-01T20:00:00Z", "ticket_release_at": "2020-01-01T00:00:00Z",
        "venue_id": venue.json()["id"], "ticket_types": [{"name": "Seat", "kind": "seated", "price": 0}]})
    event.raise_for_status()
    return event.json()["id"]


def sell_out(hub: Hub, event_id: int, clients: int, seats: int) -> dict:
    hold_ms, order_ms, conflicts, sold = [], [], [0], []
    lock = threading.Lock()
    sold_out = threading.Event()
    barrier = threading.Barrier(clients + 1)

    def client(seed: int) -> None:
        rng = random.Random(seed)
        session = requests.Session()
        session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=1))
        barrier.wait()
        misses = 0
        while not sold_out.is_set():
            count = rng.randint(1, 4) if misses == 0 else 1
            t0 = time.perf_counter()
            hold = session.post(f"{hub.url}/api/v1/events/{event_id}/holds",
                                json={"best_available": {"count": count}}, timeout=120)
            t1 = time.perf_counter()
            if hold.status_code == 409:
                with lock:
                    conflicts[0] += 1
                misses += 1
                if count == 1 and hold.json()["error"]["code"] == "seats_unavailable":
                    sold_out.set()
                continue
            hold.raise_for_status()
            misses = 0
            body = hold.json()
            order = session.post(f"{hub.url}/api/v1/orders", timeout=120, json={
                "hold_id": body["hold_id"], "hold_token": body["hold_token"],
                "buyer": {"name": "Bench", "email": "bench@example.org"}, "payment": {"method": "free"}})
            t2 = time.perf_counter()
            order.raise_for_status()
            with lock:
                hold_ms.append((t1 - t0) * 1000)
                order_ms.append((t2 - t1) * 1000)
                sold.extend((t["seat"]["row"], t["seat"]["seat"]) for t in order.json()["tickets"])
        session.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    last_report = start
    while any(t.is_alive() for t in threads):
        threads[0].join(timeout=1)
        now = time.perf_counter()
        if now - last_report >= 5:
            with lock:
                done = len(sold)
            print(f"  ... {done}/{seats} seats sold after {now - start:.0f} s", file=sys.stderr)
            last_report = now
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    seat_map = requests.get(f"{hub.url}/api/v1/events/{event_id}/seats", timeout=60).json()
    return {
        "elapsed_s": elapsed, "holds": len(hold_ms), "orders": len(order_ms), "conflicts_409": conflicts[0],
        "seats_sold": len(sold), "client_side_duplicates": len(sold) - len(set(sold)),
        "num_available_after": seat_map["num_available"],
        "holds_per_s": len(hold_ms) / elapsed, "orders_per_s": len(order_ms) / elapsed,
        "requests_per_s": (len(hold_ms) + len(order_ms) + conflicts[0]) / elapsed,
        "hold_p50_ms": percentile(hold_ms, 50), "hold_p99_ms": percentile(hold_ms, 99),
        "order_p50_ms": percentile(order_ms, 50), "order_p99_ms": percentile(order_ms, 99),
        "hold_mean_ms": statistics.fmean(hold_ms) if hold_ms else 0.0,
    }


def oversell_count(db_url: str, event_id: int) -> int:
    """Seats with more than one valid ticket, plus any disagreement between sold seats and tickets."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        doubles = conn.execute(text(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM tickets WHERE event_id = :e "
            "AND status = 'valid' GROUP BY seat_id HAVING count(*) > 1) d"), {"e": event_id}).scalar()
        sold = conn.execute(text("SELECT count(*) FROM event_seats WHERE event_id = :e AND status = 'sold'"),
                            {"e": event_id}).scalar()
        tickets = conn.execute(text("SELECT count(*) FROM tickets WHERE event_id = :e AND status = 'valid'"),
                               {"e": event_id}).scalar()
    engine.dispose()
    return int(doubles) + abs(sold - tickets)


def floor_sqlite(path: str, n: int) -> float:
    """Single-row transactional updates per second with bare sqlite3 (WAL, synchronous=NORMAL)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, status TEXT NOT NULL)")
    conn.executemany("INSERT INTO bench_floor VALUES (?, 'available')", [(i,) for i in range(n)])
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE bench_floor SET status = 'sold' WHERE id = ? AND status = 'available'", (i,))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.execute("DROP TABLE bench_floor")
    conn.close()
    return n / elapsed


def floor_postgres(url: str, n: int) -> float:
    import psycopg
    from sqlalchemy.engine import make_url

    conn = psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
                           autocommit=True)
    conn.execute("CREATE TABLE bench_floor (id integer PRIMARY KEY, status text NOT NULL)")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO bench_floor VALUES (%s, 'available')", [(i,) for i in range(n)])
    start = time.perf_counter()
    for i in range(n):
        with conn.transaction():
            conn.execute("UPDATE bench_floor SET status = 'sold' WHERE id = %s AND status = 'available'", (i,))
    elapsed = time.perf_counter() - start
    conn.execute("DROP TABLE bench_floor")
    conn.close()
    return n / elapsed


def run_backend(backend: str, args) -> dict:
    scratch = None
    if backend == "sqlite":
        tmp = tempfile.TemporaryDirectory(prefix="bench-sellout-db-")
        db_path = str(Path(tmp.name) / "hub.sqlite3")
        db_url = f"sqlite:///{db_path}"
    else:
        import psycopg
        from sqlalchemy.engine import make_url

        base = args.postgres_url
        scratch = f"tg_bench_{secrets.token_hex(4)}"
        admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {scratch}")
        db_url = make_url(base).set(database=scratch).render_as_string(hide_password=False)
    print(f"[{backend}] starting tickethub serve ({args.workers} x {args.server_threads} threads)", file=sys.stderr)
    hub = Hub(db_url, args.server_threads, args.workers)
    try:
        event_id = make_event(hub, args.seats)
        print(f"[{backend}] event {event_id} with {args.seats} seats; {args.clients} clients selling out",
              file=sys.stderr)
        result = sell_out(hub, event_id, args.clients, args.seats)
    finally:
        hub.stop()
    result["oversell"] = oversell_count(db_url, event_id) + result["client_side_duplicates"]
    transactions = result["holds"] + result["orders"]
    print(f"[{backend}] floor: {transactions} single-row transactions, bare driver", file=sys.stderr)
    if backend == "sqlite":
        result["floor_tx_per_s"] = floor_sqlite(db_path, transactions)
        tmp.cleanup()
    else:
        result["floor_tx_per_s"] = floor_postgres(db_url, transactions)
        import psycopg

        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")
    result["sale_tx_per_s"] = transactions / result["elapsed_s"]
    result["ratio_to_floor"] = result["sale_tx_per_s"] / result["floor_tx_per_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seats", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--server-threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="tickethub serve --workers (processes)")
    parser.add_argument("--out", default=str(RESULTS), help="JSON results file")
    parser.add_argument("--postgres-url", default=os.environ.get("TICKETHUB_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    results = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "postgres" and not args.postgres_url:
            print("skipping postgres: no --postgres-url / TICKETHUB_TEST_POSTGRES_URL", file=sys.stderr)
            continue
        results[backend] = run_backend(backend, args)

    print(f"\nSell-out of {args.seats} seats, {args.clients} HTTP clients, "
          f"waitress {args.workers} process(es) x {args.server_threads} threads")
    print(f"{'backend':9} {'holds/s':>8} {'orders/s':>9} {'hold p50/p99 ms':>16} {'order p50/p99 ms':>17} "
          f"{'409s':>6} {'oversell':>8} {'sale tx/s':>9} {'floor tx/s':>10} {'ratio':>6}")
    for backend, r in results.items():
        print(f"{backend:9} {r['holds_per_s']:8.0f} {r['orders_per_s']:9.0f} "
              f"{r['hold_p50_ms']:7.1f}/{r['hold_p99_ms']:<8.1f} {r['order_p50_ms']:8.1f}/{r['order_p99_ms']:<8.1f} "
              f"{r['conflicts_409']:6d} {r['oversell']:8d} {r['sale_tx_per_s']:9.0f} {r['floor_tx_per_s']:10.0f} "
              f"{r['ratio_to_floor']:6.3f}")
    out = Path(args.out)
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "seats": args.seats, "clients": args.clients, "server_threads": args.server_threads,
        "workers": args.workers, "results": results,
    }, indent=2) + "\n")
    print(f"wrote {out}")
    if any(r["oversell"] for r in results.values()):
        raise SystemExit("OVERSOLD")


if __name__ == "__main__":
    main()
