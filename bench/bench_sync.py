"""Sync benchmark: scans ingested per second by one hub process from 20 simulated
gates pushing the largest signed batches the hub accepts (PUSH_MAX_SCANS, 500)
(SQLite, and PostgreSQL when reachable),
beside the raw database insert rate of the same rows measured in the same run;
and the time for an admission at gate A to reach gate B (two real gate-agent
processes, default intervals: push 2 s and right after each scan, pull 5 s).

Goals: ingest >= 20,000 scans/s on SQLite; propagation p95 <= 5 s.
Run: .venv/bin/python -m bench.bench_sync [--batches 10] [--gates 20] [--samples 20] [--postgres URL]
Writes bench/results/bench_sync.json. Everything runs on loopback.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import secrets
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.stats import percentile
from common.protocol import PUSH_DOMAIN, PUSH_MAX_SCANS
from tests.e2e.harness import GateProcess, HubServer, create_device
from tests.support import wait_for

RESULTS = Path(__file__).with_name("results") / "bench_sync.json"
BATCH = PUSH_MAX_SCANS  # the largest push the hub accepts


class SimulatedGate:
    """Enrols with a real key and pre-builds signed push bodies (not timed)."""

    def __init__(self, hub: HubServer, headers: dict, event_id: int, n: int, batches: int):
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        _device, token = create_device(hub, headers, event_id, f"Sim {n}")
        body = requests.post(
            hub.url + "/api/v1/enrol", json={"token": token, "public_key": base64.b64encode(raw).decode()}, timeout=10
        ).json()
        self.auth = body["credential"]
        self.bodies = []
        seq = 0
        now = time.time()
        for _ in range(batches):
            scans = []
            for _ in range(BATCH):
                seq += 1
                scans.append(
                    {
                        "scan_id": secrets.token_hex(16),
                        "seq": seq,
                        "wall_time": now + seq / 1000,
                        "event_id": event_id,
                        "ticket_id": n * 10_000_000 + seq,
                        "verdict": "admitted",
                        "reason": None,
                    }
                )
            data = json.dumps(
                {"sent_at": now, "last_rtt_ms": 1, "backlog": 0, "scans": scans}, separators=(",", ":")
            ).encode()
            self.bodies.append((data, base64.b64encode(self.key.sign(PUSH_DOMAIN + data)).decode(), scans))

    def push_all(self, url: str, errors: list) -> None:
        with requests.Session() as session:
            for data, signature, _scans in self.bodies:
                response = session.post(
                    url + "/api/v1/sync/push",
                    data=data,
                    timeout=120,
                    headers={
                        "Authorization": f"Bearer {self.auth}",
                        "X-Device-Signature": signature,
                        "Content-Type": "application/json",
                    },
                )
                if response.status_code != 200 or response.json()["stored"] != BATCH:
                    errors.append(f"{response.status_code} {response.text[:200]}")


def ingest(root: Path, database_url: str | None, gates: int, batches: int) -> dict:
    hub = HubServer(root)
    if database_url:
        hub.env["TICKETHUB_DATABASE_URL"] = database_url
        os.environ["TICKETHUB_DATABASE_URL"] = database_url  # the in-process set-up uses the same database
    try:
        headers = hub.organizer()
        event = hub.ga_event()
        hub.start()
        print(f"  enrolling {gates} simulated gates and signing {gates * batches} batches of {BATCH} ...", flush=True)
        sims = [SimulatedGate(hub, headers, event["id"], n + 1, batches) for n in range(gates)]
        errors: list[str] = []
        threads = [threading.Thread(target=s.push_all, args=(hub.url, errors)) for s in sims]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        total = gates * batches * BATCH
        stored = hub.api("GET", f"/events/{event['id']}/attendance", headers).json()["entries"]
        assert not errors and stored == total, (errors[:3], stored, total)
        rows = [s for sim in sims for _d, _s, batch in sim.bodies for s in batch]
        floor = raw_insert_rate(hub, rows)
        return {
            "scans": total,
            "seconds": round(elapsed, 3),
            "scans_per_s": round(total / elapsed),
            "raw_insert_per_s": round(floor),
            "ratio": round(total / elapsed / floor, 3),
        }
    finally:
        hub.close()
        os.environ.pop("TICKETHUB_DATABASE_URL", None)


def raw_insert_rate(hub: HubServer, scans: list[dict]) -> float:
    """The floor: the same rows through the database driver's executemany (a plain INSERT,
    no parsing, checks, sequence or duplicate work), one transaction per 500 rows."""
    from sqlalchemy import text

    from hub.db import atomic
    from hub.services.sync import INSERT_COLUMNS

    now = time.time()
    rows = [
        (
            secrets.token_hex(16),
            1,
            s["event_id"],
            s["ticket_id"],
            s["verdict"],
            s["reason"],
            s["seq"],
            s["wall_time"],
            s["wall_time"],
            now,
            10**12 + i,
        )
        for i, s in enumerate(scans)
    ]
    with hub.connect() as conn:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        sql = f"INSERT INTO gate_scans ({', '.join(INSERT_COLUMNS)}) VALUES ({', '.join([mark] * len(INSERT_COLUMNS))})"
        start = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            with atomic(conn):
                conn.exec_driver_sql(sql, rows[i : i + BATCH])
        elapsed = time.perf_counter() - start
        with atomic(conn):
            conn.execute(text("DELETE FROM gate_scans WHERE hub_seq >= :n"), {"n": 10**12})
    return len(rows) / elapsed


def propagation(root: Path, samples: int) -> dict:
    hub = HubServer(root)
    gates = []
    try:
        headers = hub.organizer()
        event = hub.ga_event(capacity=samples + 5)
        hub.start()
        default_intervals = {"GATE_PUSH_INTERVAL_S": "2", "GATE_PULL_INTERVAL_S": "5", "GATE_SYNC_MAX_BACKOFF_S": "60"}
        gates = [GateProcess(root, "gate-a", default_intervals), GateProcess(root, "gate-b", default_intervals)]
        for name, gate in zip("AB", gates):
            _device, token = create_device(hub, headers, event["id"], f"Gate {name}")
            assert gate.enroll(hub.url, token).returncode == 0
            gate.start()
        codes = [t["code"] for t in hub.buy(event, samples)["tickets"]]
        db_b = gates[1].data_dir / "gate.db"
        pending: dict[str, float] = {}
        delays: list[float] = []
        lock = threading.Lock()
        done = threading.Event()

        def watch() -> None:
            conn = sqlite3.connect(f"file:{db_b}?mode=ro", uri=True)
            while not done.is_set():
                with lock:
                    waiting = dict(pending)
                if waiting:
                    marks = ",".join("?" * len(waiting))
                    seen = [
                        r[0]
                        for r in conn.execute(
                            f"SELECT scan_id FROM remote_movements WHERE scan_id IN ({marks})", list(waiting)
                        )
                    ]
                    now = time.monotonic()
                    with lock:
                        for scan_id in seen:
                            delays.append(now - pending.pop(scan_id))
                time.sleep(0.01)
            conn.close()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        for i, code in enumerate(codes):
            scan_id = gates[0].scan(code)["scan_id"]
            with lock:
                pending[scan_id] = time.monotonic()
            print(f"\r  admissions at gate A: {i + 1}/{samples}", end="", flush=True)
            wait_for(
                lambda: time.monotonic() > pending.get(scan_id, 0) + 0.37 or scan_id not in pending,
                5,
                "the next admission slot",
            )  # spread admissions over the sync cycles
        print()
        wait_for(lambda: len(delays) == samples, 60, "every admission to reach gate B")
        done.set()
        watcher.join()
        return {
            "samples": samples,
            "p50_s": round(percentile(delays, 50), 2),
            "p95_s": round(percentile(delays, 95), 2),
            "max_s": round(max(delays), 2),
            "floor_s": "a scan pushes at once; B pulls every 5 s: worst case about 5 s, mean about 2.5 s",
        }
    finally:
        for gate in gates:
            gate.stop()
        hub.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gates", type=int, default=20)
    parser.add_argument("--batches", type=int, default=5, help=f"batches of {BATCH} per gate")
    parser.add_argument("--samples", type=int, default=20, help="admissions timed from gate A to gate B")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TICKETHUB_TEST_POSTGRES_URL"),
        help="a PostgreSQL URL to create a scratch database on (default $TICKETHUB_TEST_POSTGRES_URL)",
    )
    args = parser.parse_args()
    results: dict = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "gates": args.gates,
        "batch": BATCH,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print("[1/3] ingest, SQLite", flush=True)
        results["ingest_sqlite"] = ingest(root / "sqlite", None, args.gates, args.batches)
        if args.postgres:
            print("[2/3] ingest, PostgreSQL", flush=True)
            results["ingest_postgres"] = with_scratch_postgres(
                args.postgres, lambda url: ingest(root / "pg", url, args.gates, args.batches)
            )
        else:
            print("[2/3] ingest, PostgreSQL: skipped (no --postgres URL)")
        print("[3/3] propagation gate A -> hub -> gate B (default intervals)", flush=True)
        results["propagation"] = propagation(root / "prop", args.samples)
    print()
    print("| measure | project | floor | ratio |")
    print("|---|---:|---:|---:|")
    for name in ("ingest_sqlite", "ingest_postgres"):
        if name in results:
            r = results[name]
            print(
                f"| {name.replace('_', ', ')} scans/s | {r['scans_per_s']:,} | {r['raw_insert_per_s']:,} raw insert | {r['ratio']:.2f} |"
            )
    p = results["propagation"]
    print(f"| propagation p50 / p95 / max | {p['p50_s']} / {p['p95_s']} / {p['max_s']} s | {p['floor_s']} | |")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


def with_scratch_postgres(url: str, fn):
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"bench_sync_{secrets.token_hex(4)}"
    admin_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        return fn(make_url(url).set(database=name).render_as_string(hide_password=False))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
