"""Sell out a 10,000-seat event through a real `tickethub serve` with concurrent HTTP clients (hold
best-available seats, then buy them), on SQLite and PostgreSQL, one or more server processes.

The load client is an asyncio keep-alive client (bench/aio_http.py) in this process, one connection
per simulated buyer: it costs a small fraction of the hub's CPU. CPU shares are of the whole
machine (all cores) over the sell-out: the hub's processes, this client, the PostgreSQL server's
processes (every database's), and everything on the machine (other work included).
Prints holds/s, orders/s, p50/p99 latency per request, the CPU shares and the oversell count
(must be 0), beside the raw database's floor measured in the same run: the same number of
single-row transactional UPDATEs (BEGIN [IMMEDIATE]; UPDATE ... WHERE status='available'; COMMIT)
through the bare DB-API driver, one client, no HTTP.

Before/after: `--reference-tree DIR` (a checkout of an earlier commit, e.g.
`git archive <commit> | tar -x -C DIR`) sells out the same event with the hub from DIR first and then
with this tree's hub, back to back, and reports this tree's rates as ratios of the reference's.
`--workers 1,2` sells out with one and then two server processes and reports two's ratio to one.

Run: .venv/bin/python -m bench.bench_sellout [--backends sqlite,postgres] [--workers 1] [--seats 10000]
     [--clients 32] [--reference-tree DIR]
PostgreSQL URL: --postgres-url or TICKETHUB_TEST_POSTGRES_URL (a scratch database is created and dropped).
Writes bench/results/bench_sellout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

import bench.results as results_file
from bench.aio_http import Connection
from bench.cpu import cpu_seconds, own_cpu_seconds, with_children
from bench.stats import percentile
from tests.support import free_port, wait_for

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("results") / "bench_sellout.json"
TICKETHUB = [sys.executable, "-m", "hub.cli"]


class Hub:
    """A `tickethub serve` subprocess on its own instance folder and database (the hub's code from
    ``tree``, this repository by default)."""

    def __init__(
        self,
        db_url: str,
        threads: int,
        workers: int = 1,
        env: dict | None = None,
        buy_threads: int = 4,
        tree: Path = REPO,
    ):
        self.dir = tempfile.TemporaryDirectory(prefix="bench-sellout-")
        self.tree = Path(tree)
        self.env = {
            **os.environ,
            "TICKETHUB_INSTANCE_PATH": self.dir.name,
            "TICKETHUB_DATABASE_URL": db_url,
            "TICKETHUB_HOLD_RATE_LIMIT": "1000000 per minute",
            "TICKETHUB_WEB_PAGES": "false",
            # every simulated buyer comes from 127.0.0.1: no per-client share of holds
            "TICKETHUB_HOLD_MAX_SEATS_PER_CLIENT": "0",
            "PYTHONPATH": str(self.tree),
            **(env or {}),
        }
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cli("db", "upgrade")
        self.cli(
            "users", "create", "--email", "bench@example.org", "--password", "bench-password", "--role", "organizer"
        )
        self.token = self.cli("tokens", "create", "--email", "bench@example.org").strip().splitlines()[-1]
        self.proc = subprocess.Popen(
            [
                *TICKETHUB,
                "serve",
                "--port",
                str(self.port),
                "--threads",
                str(threads),
                "--buy-threads",
                str(buy_threads),
                "--workers",
                str(workers),
            ],
            cwd=self.tree,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: requests.get(self.url + "/api/v1/openapi.json", timeout=2), 60, "tickethub serve to start")

    def cli(self, *args: str) -> str:
        return subprocess.run(
            [*TICKETHUB, *args], cwd=self.tree, env=self.env, check=True, capture_output=True, text=True
        ).stdout

    def pids(self) -> list[int]:
        """The server's processes: the one started and its pre-forked workers."""
        return with_children(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.dir.cleanup()


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (every database's: other work shows too)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().split(" (", 1)[1].startswith("postgres)"):
                pids.append(int(stat.parent.name))
        except (OSError, IndexError):
            continue
    return pids


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU time of the whole machine so far, in clock ticks (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def make_event(hub: Hub, seats: int) -> int:
    headers = {"Authorization": f"Bearer {hub.token}"}
    per_row = 100
    rows = [{"name": str(r + 1), "seats": min(per_row, seats - r * per_row)} for r in range(-(-seats // per_row))]
    venue = requests.post(
        hub.url + "/api/v1/venues",
        headers=headers,
        timeout=60,
        json={"name": "Bench Arena", "sections": [{"name": "Floor", "rows": rows}]},
    )
    venue.raise_for_status()
    event = requests.post(
        hub.url + "/api/v1/events",
        headers=headers,
        timeout=60,
        json={
            "title": "Sell-out",
            "starts_at": "2031-01-01T20:00:00Z",
            "ticket_release_at": "2020-01-01T00:00:00Z",
            "venue_id": venue.json()["id"],
            "ticket_types": [{"name": "Seat", "kind": "seated", "price": 0}],
        },
    )
    event.raise_for_status()
    return event.json()["id"]


class SellOut:
    """Simulated buyers, each on its own keep-alive connection, holding 1-4 best-available seats and
    buying them until one seat can no longer be held."""

    def __init__(self, url: str, event_id: int, clients: int, seats: int):
        self.url, self.event_id, self.clients, self.seats = url, event_id, clients, seats
        self.hold_ms: list[float] = []
        self.order_ms: list[float] = []
        self.conflicts = self.overloaded = 0
        self.sold: list[tuple[str, str]] = []
        self.sold_out = False

    async def buyer(self, seed: int, start: asyncio.Event) -> None:
        rng = random.Random(seed)
        conn = Connection(self.url)
        await conn.request("GET", "/api/v1/openapi.json")  # connected before the clock starts
        await start.wait()
        misses = 0
        hold_path = f"/api/v1/events/{self.event_id}/holds"
        try:
            while not self.sold_out:
                count = rng.randint(1, 4) if misses == 0 else 1
                t0 = time.perf_counter()
                hold = await conn.request("POST", hold_path, {"best_available": {"count": count}})
                t1 = time.perf_counter()
                if await self._refused(hold):
                    continue
                if hold.status == 409:
                    self.conflicts += 1
                    misses += 1
                    if count == 1 and hold.json()["error"]["code"] == "seats_unavailable":
                        self.sold_out = True
                    continue
                self._expect(hold, 201)
                misses = 0
                body = hold.json()
                order_body = {
                    "hold_id": body["hold_id"],
                    "hold_token": body["hold_token"],
                    "buyer": {"name": "Bench", "email": "bench@example.org"},
                    "payment": {"method": "free"},
                }
                while True:
                    order = await conn.request("POST", "/api/v1/orders", order_body)
                    if not await self._refused(order):
                        break
                t2 = time.perf_counter()
                self._expect(order, 201)
                self.hold_ms.append((t1 - t0) * 1000)
                self.order_ms.append((t2 - t1) * 1000)
                self.sold.extend((t["seat"]["row"], t["seat"]["seat"]) for t in order.json()["tickets"])
        finally:
            await conn.close()

    async def _refused(self, response) -> bool:
        """A 503 `overloaded` (the server's queue bound): counted, and asked again after Retry-After."""
        if response.status != 503:
            return False
        self.overloaded += 1
        await asyncio.sleep(int(response.headers.get("retry-after", "1")))
        return True

    @staticmethod
    def _expect(response, status: int) -> None:
        if response.status != status:
            raise RuntimeError(f"expected {status}, got {response.status}: {response.body[:300]!r}")

    async def _progress(self, start: float) -> None:
        while True:
            await asyncio.sleep(5)
            print(
                f"  ... {len(self.sold)}/{self.seats} seats sold after {time.perf_counter() - start:.0f} s",
                file=sys.stderr,
            )

    async def run(self, server_pids, database_pids) -> dict:
        start_event = asyncio.Event()
        buyers = [asyncio.create_task(self.buyer(i, start_event)) for i in range(self.clients)]
        await asyncio.sleep(0.5)  # every buyer connected
        server_cpu, client_cpu = cpu_seconds(server_pids()), own_cpu_seconds()
        database_cpu, machine = {pid: cpu_seconds([pid]) for pid in database_pids()}, machine_busy()
        start = time.perf_counter()
        start_event.set()
        progress = asyncio.create_task(self._progress(start))
        try:
            await asyncio.gather(*buyers)
        finally:
            progress.cancel()
        elapsed = time.perf_counter() - start
        server_cpu, client_cpu = cpu_seconds(server_pids()) - server_cpu, own_cpu_seconds() - client_cpu
        # the server's processes now, less what they had used before (its backends start as the hub connects)
        database = database_pids()
        database_cpu = sum(cpu_seconds([pid]) - database_cpu.get(pid, 0.0) for pid in database)
        busy, total = (after - before for after, before in zip(machine_busy(), machine))
        result = self.summary(elapsed, server_cpu, client_cpu)
        cores = os.cpu_count()
        result["machine_cpu_share"] = busy / total  # everything on the machine, other work included
        if database:
            result["database_cpu_share"] = database_cpu / (elapsed * cores)
        return result

    def summary(self, elapsed: float, server_cpu: float, client_cpu: float) -> dict:
        requests_ms = self.hold_ms + self.order_ms
        cores = os.cpu_count()
        return {
            "elapsed_s": elapsed,
            "holds": len(self.hold_ms),
            "orders": len(self.order_ms),
            "conflicts_409": self.conflicts,
            "overloaded_503": self.overloaded,
            "seats_sold": len(self.sold),
            "client_side_duplicates": len(self.sold) - len(set(self.sold)),
            "holds_per_s": len(self.hold_ms) / elapsed,
            "orders_per_s": len(self.order_ms) / elapsed,
            "requests_per_s": (len(requests_ms) + self.conflicts) / elapsed,
            "hold_p50_ms": percentile(self.hold_ms, 50),
            "hold_p99_ms": percentile(self.hold_ms, 99),
            "order_p50_ms": percentile(self.order_ms, 50),
            "order_p99_ms": percentile(self.order_ms, 99),
            "request_p99_ms": percentile(requests_ms, 99),
            "hold_mean_ms": statistics.fmean(self.hold_ms),
            # shares of the whole machine (all cores) over the sell-out
            "server_cpu_share": server_cpu / (elapsed * cores),
            "client_cpu_share": client_cpu / (elapsed * cores),
            "server_cpu_ms_per_sale": 1000 * server_cpu / max(1, len(self.order_ms)),
        }


def sell_out(hub: Hub, event_id: int, clients: int, seats: int) -> dict:
    database_pids = postgres_pids if hub.env["TICKETHUB_DATABASE_URL"].startswith("postgresql") else list
    result = asyncio.run(SellOut(hub.url, event_id, clients, seats).run(hub.pids, database_pids))
    seat_map = requests.get(f"{hub.url}/api/v1/events/{event_id}/seats", timeout=60).json()
    result["num_available_after"] = seat_map["num_available"]
    return result


def oversell_count(db_url: str, event_id: int) -> int:
    """Seats with more than one valid ticket, plus any disagreement between sold seats and tickets."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        doubles = conn.execute(
            text(
                "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM tickets WHERE event_id = :e "
                "AND status = 'valid' GROUP BY seat_id HAVING count(*) > 1) d"
            ),
            {"e": event_id},
        ).scalar()
        sold = conn.execute(
            text("SELECT count(*) FROM event_seats WHERE event_id = :e AND status = 'sold'"), {"e": event_id}
        ).scalar()
        tickets = conn.execute(
            text("SELECT count(*) FROM tickets WHERE event_id = :e AND status = 'valid'"), {"e": event_id}
        ).scalar()
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

    conn = psycopg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    )
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


class Database:
    """A scratch database for one sell-out: a SQLite file, or a PostgreSQL database created and dropped."""

    def __init__(self, backend: str, postgres_url: str | None):
        self.backend = backend
        if backend == "sqlite":
            self.tmp = tempfile.TemporaryDirectory(prefix="bench-sellout-db-")
            self.path = str(Path(self.tmp.name) / "hub.sqlite3")
            self.url = f"sqlite:///{self.path}"
            return
        import psycopg
        from sqlalchemy.engine import make_url

        self.scratch = f"tg_bench_{secrets.token_hex(4)}"
        self.admin = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.scratch}")
        self.url = make_url(postgres_url).set(database=self.scratch).render_as_string(hide_password=False)

    def floor(self, transactions: int) -> float:
        return (
            floor_sqlite(self.path, transactions)
            if self.backend == "sqlite"
            else floor_postgres(self.url, transactions)
        )

    def drop(self) -> None:
        if self.backend == "sqlite":
            self.tmp.cleanup()
            return
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.scratch} WITH (FORCE)")


def run_one(backend: str, workers: int, tree: Path, args) -> dict:
    db = Database(backend, args.postgres_url)
    try:
        print(
            f"[{backend}] hub from {tree}: tickethub serve ({workers} x {args.server_threads} threads "
            f"+ {args.buy_threads} buy threads)",
            file=sys.stderr,
        )
        hub = Hub(
            db.url,
            args.server_threads,
            workers,
            buy_threads=args.buy_threads,
            tree=tree,
            env={"TICKETHUB_MAX_QUEUED_REQUESTS": str(args.max_queued)},
        )
        try:
            event_id = make_event(hub, args.seats)
            print(
                f"[{backend}] event {event_id} with {args.seats} seats; {args.clients} clients selling out",
                file=sys.stderr,
            )
            result = sell_out(hub, event_id, args.clients, args.seats)
        finally:
            hub.stop()
        result["oversell"] = oversell_count(db.url, event_id) + result["client_side_duplicates"]
        transactions = result["holds"] + result["orders"]
        result["floor_tx_per_s"] = db.floor(transactions)
    finally:
        db.drop()
    result["sale_tx_per_s"] = (result["holds"] + result["orders"]) / result["elapsed_s"]
    result["ratio_to_floor"] = result["sale_tx_per_s"] / result["floor_tx_per_s"]
    return result


def row_name(backend: str, workers: int, tree: str) -> str:
    return f"{backend}, {workers} process{'es' if workers > 1 else ''}, {tree}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seats", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--server-threads", type=int, default=16)
    parser.add_argument("--buy-threads", type=int, default=4, help="tickethub serve --buy-threads")
    parser.add_argument(
        "--max-queued",
        type=int,
        default=64,
        help="MAX_QUEUED_REQUESTS: room for every client's request in the buy lane, so a sell-out "
        "measures the sale path rather than the load shedding",
    )
    parser.add_argument("--workers", default="1", help="tickethub serve --workers, or a list: '1,2'")
    parser.add_argument(
        "--reference-tree",
        type=Path,
        help="a checkout of an earlier commit: sell out with its hub first, then with this tree's",
    )
    parser.add_argument("--out", default=str(RESULTS), help="JSON results file")
    parser.add_argument("--postgres-url", default=os.environ.get("TICKETHUB_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    trees = {"reference": args.reference_tree.resolve()} if args.reference_tree else {}
    trees["this tree"] = REPO
    workers_list = [int(w) for w in args.workers.split(",")]
    results = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "postgres" and not args.postgres_url:
            print("skipping postgres: no --postgres-url / TICKETHUB_TEST_POSTGRES_URL", file=sys.stderr)
            continue
        for workers in workers_list:
            for tree_name, tree in trees.items():
                row = {"backend": backend, "workers": workers, "tree": tree_name, "load_average": os.getloadavg()}
                row.update(run_one(backend, workers, tree, args))
                results[row_name(backend, workers, tree_name)] = row
    add_ratios(results, workers_list[0])
    print_table(args, results)
    results_file.write(
        args.out,
        {
            "seats": args.seats,
            "clients": args.clients,
            "server_threads": args.server_threads,
            "buy_threads": args.buy_threads,
            "max_queued_requests": args.max_queued,
            "reference_tree": str(args.reference_tree) if args.reference_tree else None,
            "results": results,
        },
    )
    if any(r["oversell"] for r in results.values()):
        raise SystemExit("OVERSOLD")


def add_ratios(results: dict, base_workers: int) -> None:
    """Sales/s of each row as a ratio of its references: the reference tree's same row, and the same
    tree with the first --workers count."""
    for row in results.values():
        reference = results.get(row_name(row["backend"], row["workers"], "reference"))
        if reference is not None and row["tree"] != "reference":
            row["x_reference"] = row["orders_per_s"] / reference["orders_per_s"]
        fewer = results.get(row_name(row["backend"], base_workers, row["tree"]))
        if fewer is not None and row["workers"] != base_workers:
            row[f"x_{base_workers}_process"] = row["orders_per_s"] / fewer["orders_per_s"]


def print_table(args, results: dict) -> None:
    print(
        f"\nSell-out of {args.seats} seats, {args.clients} HTTP clients, waitress x {args.server_threads} "
        f"threads + {args.buy_threads} buy threads per process"
    )
    print(
        f"{'row':38} {'sales/s':>7} {'x ref':>6} {'x 1 proc':>8} {'hold p50/p99':>13} {'order p50/p99':>14} "
        f"{'req p99':>7} {'409':>4} {'503':>4} {'over':>4} {'srv CPU':>7} {'cli CPU':>7} {'db CPU':>6} "
        f"{'all CPU':>7} {'ms/sale':>7}"
    )
    for name, r in results.items():
        ratio = f"{r['x_reference']:.2f}" if "x_reference" in r else ""
        procs = next((f"{v:.2f}" for k, v in r.items() if k.startswith("x_") and k.endswith("_process")), "")
        print(
            f"{name:38} {r['orders_per_s']:7.0f} {ratio:>6} {procs:>8} "
            f"{r['hold_p50_ms']:6.0f}/{r['hold_p99_ms']:<6.0f} {r['order_p50_ms']:6.0f}/{r['order_p99_ms']:<7.0f} "
            f"{r['request_p99_ms']:7.0f} {r['conflicts_409']:4d} {r['overloaded_503']:4d} {r['oversell']:4d} "
            f"{r['server_cpu_share']:7.0%} {r['client_cpu_share']:7.0%} "
            f"{format(r['database_cpu_share'], '6.0%') if 'database_cpu_share' in r else '':>6} "
            f"{r['machine_cpu_share']:7.0%} {r['server_cpu_ms_per_sale']:7.1f}"
        )


if __name__ == "__main__":
    main()
