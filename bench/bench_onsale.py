"""On-sale read path (issue #12): the seat check and the seat map of a 10,000-seat event, each beside
its reference measured in the same run with the same load client.

Rows (wrk, keep-alive, 16 connections, a bounded duration each, `Accept-Encoding: gzip`):

- seat check `GET /api/v1/events/{id}/seats/{section}/{row}/{seat}` on one `tickethub serve`
  process, beside a trivial Flask JSON route served by the same waitress set-up
  (hub.serving.serve with the same threads and bounds) and beside the seed proof-of-concept
  (node.js, ../shared/seed-poc: copied to a temporary folder, its three packages installed with
  npm, its port patched, started and stopped here);
- the same seat check behind nginx with a one-second micro-cache (Debian's /usr/sbin/nginx run as
  a child process on loopback with a configuration written to a temporary folder);
- the seat map JSON of the event (10,000 seats), direct and behind the micro-cache, beside the
  trivial route, with the bytes of one answer on the wire;
- the compact seat map (``/seatmap/status``: one character per seat and the version) and the
  changes since a version (``/seatmap/changes?since=V``), with the bytes of the changes after one
  sale (hold + order of one seat).

Each row reports req/s, p50/p99 latency, non-2xx answers, bytes per answer, the CPU share of the
load client (wrk) and of the server processes (share of all cores over the run).

Run: .venv/bin/python -m bench.bench_onsale [--duration 5] [--no-seed] [--no-nginx]
Needs wrk (`apt-get install wrk`); node/npm for the seed row, nginx for the cached rows.
Writes bench/results/bench_onsale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

import bench.results as results_file
from bench.bench_sellout import Hub, make_event
from bench.cpu import cpu_seconds, with_children
from tests.support import free_port, wait_for

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("results") / "bench_onsale.json"
SEED_POC = REPO.parent / "shared" / "seed-poc"
SEED_PACKAGES = ("express@3.2.5", "log4js@0.6.5", "seq@0.3.5")  # ../shared/seed-poc/RUNNING.md
NGINX = "/usr/sbin/nginx"
CONNECTIONS = 16
SERVER_THREADS = 16  # tickethub serve's default --threads; the trivial route gets the same
BUY_THREADS = 4

# wrk prints one JSON line when it is done (latencies in microseconds)
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "non_2xx_3xx": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d}\\n', summary.requests, summary.duration, summary.bytes, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
"""


# --- the trivial reference: a Flask JSON route on the hub's waitress set-up ----------------------


def trivial_app():
    from flask import Flask, jsonify

    app = Flask("trivial")

    @app.get("/seat/<section>/<row>/<seat>")
    def seat(section: str, row: str, seat: str):
        return jsonify({"section": section, "row": row, "seat": seat, "status": "available"})

    return app


def serve_trivial(port: int) -> None:
    """Entry point of the trivial server's process (``--trivial-server PORT``)."""
    from hub.config import DEFAULTS
    from hub.serving import serve

    serve(
        trivial_app(),
        threads=SERVER_THREADS,
        buy_threads=BUY_THREADS,
        max_queued_requests=DEFAULTS["MAX_QUEUED_REQUESTS"],
        connection_limit=DEFAULTS["CONNECTION_LIMIT"],
        overload_retry_seconds=DEFAULTS["OVERLOAD_RETRY_SECONDS"],
        host="127.0.0.1",
        port=port,
    )


class Server:
    """A child process serving HTTP on a loopback port; ``pids()`` are the processes whose CPU counts."""

    def __init__(self, name: str, argv: list[str], port: int, probe: str, cwd=None, env=None):
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self._up(probe), 60, f"{name} on port {port}")

    def _up(self, probe: str) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
        return requests.get(self.url + probe, timeout=5).status_code < 500

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _pids(procs: list[subprocess.Popen]) -> list[int]:
    """The processes whose CPU counts: each child and its own children (nginx's worker)."""
    return [pid for proc in procs for pid in with_children(proc.pid)]


def start_seed_poc(work: Path) -> Server:
    """The seed proof-of-concept, unmodified but for its port, in a copy with its packages installed."""
    copy = work / "seed-poc"
    shutil.copytree(SEED_POC, copy)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)  # shared/ is read-only
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", *SEED_PACKAGES],
        cwd=copy,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port = free_port()
    http_js = copy / "lib" / "http.js"
    source = http_js.read_text()
    if "var port = 3000;" not in source:
        raise RuntimeError("seed-poc: lib/http.js no longer says 'var port = 3000;'")
    http_js.write_text(source.replace("var port = 3000;", f"var port = {port};"))
    return Server("seed-poc", ["node", "main.js"], port, "/seat/num_available", cwd=copy)


def start_nginx(work: Path, upstream_port: int) -> Server:
    """nginx with a one-second micro-cache in front of the hub's public seat routes (loopback only).

    The hub answered those routes with `Cache-Control: no-store` before issue #12 and says `public,
    max-age=1` now; this configuration lets the proxy decide either way (`proxy_ignore_headers`), so
    the before and after figures compare alike (docs/deployment.md has the configuration to deploy).
    nginx serves one answer per second per URL from the hub and the rest from its cache, and holds
    concurrent misses on one request to the hub."""
    root = work / "nginx"
    (root / "cache").mkdir(parents=True)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(f"""
daemon off;
master_process on;
worker_processes 1;
user root;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    proxy_cache_path {root}/cache levels=1:2 keys_zone=micro:10m max_size=256m inactive=60s use_temp_path=off;
    upstream hub {{ server 127.0.0.1:{upstream_port}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port};
        location ~ ^/api/v1/events/[0-9]+/seats(/|$) {{
            proxy_pass http://hub;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_cache micro;
            proxy_cache_valid 200 1s;
            proxy_cache_lock on;
            proxy_cache_use_stale updating;
            proxy_cache_background_update on;
            proxy_ignore_headers Cache-Control Expires Set-Cookie Vary;
            proxy_hide_header Set-Cookie;
        }}
        location / {{ return 404; }}
    }}
}}
""")
    return Server(
        "nginx", [NGINX, "-e", str(root / "error.log"), "-p", str(root), "-c", str(conf)], port, "/nginx-probe"
    )


# --- the load client -------------------------------------------------------------------------------


def wrk(url: str, duration: int, script: Path, servers: list[subprocess.Popen]) -> dict:
    """One wrk run (2 threads, 16 keep-alive connections) against ``url``: its report, plus the CPU
    shares of wrk and of the ``servers`` processes over the run (1.0 = every core of the machine)."""
    cores = os.cpu_count() or 1
    argv = [
        "wrk",
        "-t2",
        f"-c{CONNECTIONS}",
        f"-d{duration}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        "-H",
        "Accept-Encoding: gzip",
        url,
    ]
    pids = _pids(servers)
    server_cpu = cpu_seconds(pids)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode()
    server_cpu = cpu_seconds(pids) - server_cpu
    report = next((line[4:] for line in text.splitlines() if line.startswith("WRK ")), None)
    if proc.returncode or report is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {text[-1000:]}")
    result = json.loads(report)
    seconds = result["duration_us"] / 1e6
    result.update(
        {
            "req_per_s": result["requests"] / seconds,
            "bytes_per_answer": result["bytes"] / max(result["requests"], 1),
            "p50_ms": result["p50_us"] / 1000,
            "p90_ms": result["p90_us"] / 1000,
            "p99_ms": result["p99_us"] / 1000,
            "client_cpu_share": (usage.ru_utime + usage.ru_stime) / wall / cores,
            "server_cpu_share": server_cpu / wall / cores,
        }
    )
    return result


def settle(url: str) -> None:
    """Wait until a server has finished what a previous run left in flight (one answer gets through)."""
    wait_for(lambda: requests.get(url, timeout=120).status_code == 200, 300, f"{url} to answer again")


def measure(name: str, url: str, servers: list[subprocess.Popen], args, script: Path) -> dict:
    settle(url)
    print(f"  {name}: warm-up, then {args.duration} s", file=sys.stderr)
    wrk(url, 1, script, servers)
    settle(url)
    result = wrk(url, args.duration, script, servers)
    print(f"  {name}: {result['req_per_s']:.0f} req/s, p99 {result['p99_ms']:.1f} ms", file=sys.stderr)
    return {"name": name, "url": url, **result}


# --- the run -------------------------------------------------------------------------------------

# (figure, reference, goal ratio (figure / reference must be at least this), what the goal says)
COMPARISONS = (
    ("seat check, hub", "trivial Flask route", 0.8, "seat check >= 0.8x trivial route"),
    ("seat check, hub", "seed PoC", None, ""),
    ("seat check, nginx micro-cache", "seed PoC", 1.0, "behind nginx >= 1x seed PoC"),
    ("seat map 10k, hub", "trivial Flask route", 0.5, "map >= 0.5x trivial route and <= 100 KB"),
    ("seat map 10k, nginx micro-cache", "trivial Flask route", None, ""),
    ("seat status 10k (compact), hub", "trivial Flask route", 0.5, "compact map >= 0.5x trivial route"),
    ("changes since V, hub", "trivial Flask route", None, ""),
)
MAP_BYTES_GOAL = 100 * 1024


def run(args) -> dict:
    rows: dict[str, dict] = {}
    servers: list[Server] = []
    work = Path(tempfile.mkdtemp(prefix="bench-onsale-"))
    script = work / "report.lua"
    script.write_text(WRK_REPORT)
    hub = None
    try:
        print(f"hub: tickethub serve (1 process x {SERVER_THREADS} threads), 10,000-seat event", file=sys.stderr)
        hub = Hub(f"sqlite:///{work / 'hub.sqlite3'}", SERVER_THREADS, env={"TICKETHUB_WEB_PAGES": "true"})
        event_id = make_event(hub, 10_000)
        check = f"/api/v1/events/{event_id}/seats/Floor/50/50"
        seat_map = f"/api/v1/events/{event_id}/seats"
        trivial = Server(
            "trivial",
            [sys.executable, "-m", "bench.bench_onsale", "--trivial-server", str(port := free_port())],
            port,
            "/seat/Floor/50/50",
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        servers.append(trivial)
        rows["trivial Flask route"] = measure(
            "trivial Flask route", trivial.url + "/seat/Floor/50/50", [trivial.proc], args, script
        )
        rows["seat check, hub"] = measure("seat check, hub", hub.url + check, [hub.proc], args, script)
        if not args.no_seed:
            seed = start_seed_poc(work)
            servers.append(seed)
            rows["seed PoC"] = measure("seed PoC", seed.url + "/seat/check/orchestra/a/3", [seed.proc], args, script)
            seed.stop()
        if not args.no_nginx:
            nginx = start_nginx(work, hub.port)
            servers.append(nginx)
            rows["seat check, nginx micro-cache"] = measure(
                "seat check, nginx micro-cache", nginx.url + check, [nginx.proc, hub.proc], args, script
            )
        rows["seat map 10k, hub"] = measure("seat map 10k, hub", hub.url + seat_map, [hub.proc], args, script)
        rows["seat map 10k, hub"]["answer_bytes"] = _answer_size(hub.url + seat_map)
        status = f"/api/v1/events/{event_id}/seatmap/status"
        rows["seat status 10k (compact), hub"] = measure(
            "seat status 10k (compact), hub", hub.url + status, [hub.proc], args, script
        )
        rows["seat status 10k (compact), hub"]["answer_bytes"] = _answer_size(hub.url + status)
        changes = f"/api/v1/events/{event_id}/seatmap/changes?since={_sell_one(hub, event_id)}"
        rows["changes since V, hub"] = measure("changes since V, hub", hub.url + changes, [hub.proc], args, script)
        rows["changes since V, hub"]["answer_bytes"] = _answer_size(hub.url + changes)
        if not args.no_nginx:
            rows["seat map 10k, nginx micro-cache"] = measure(
                "seat map 10k, nginx micro-cache", nginx.url + seat_map, [nginx.proc, hub.proc], args, script
            )
    finally:
        for server in reversed(servers):
            server.stop()
        if hub is not None:
            hub.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {"rows": rows, "comparisons": _compare(rows)}


def _sell_one(hub: Hub, event_id: int) -> str:
    """Sell one seat (hold + order); returns the map's version before the sale."""
    base = f"{hub.url}/api/v1/events/{event_id}"
    version = requests.get(base + "/seatmap/status", timeout=60).json()["version"]
    hold = requests.post(
        base + "/holds", json={"seats": [{"section": "Floor", "row": "1", "seat": "1"}]}, timeout=60
    ).json()
    requests.post(
        hub.url + "/api/v1/orders",
        timeout=60,
        json={
            "hold_id": hold["hold_id"],
            "hold_token": hold["hold_token"],
            "buyer": {"name": "Bench", "email": "bench@example.org"},
            "payment": {"method": "free"},
        },
    ).raise_for_status()
    return version


def _answer_size(url: str) -> dict:
    """Bytes of one answer's body on the wire (as sent, asking for gzip) and once decoded."""
    reply = requests.get(url, headers={"Accept-Encoding": "gzip, br"}, stream=True, timeout=120)
    wire = len(reply.raw.read(decode_content=False))
    return {
        "wire": wire,
        "content_encoding": reply.headers.get("Content-Encoding", ""),
        "decoded": len(requests.get(url, timeout=120).content),
    }


def _compare(rows: dict) -> list[dict]:
    out = []
    for figure, reference, goal, text in COMPARISONS:
        if figure not in rows or reference not in rows:
            continue
        ratio = rows[figure]["req_per_s"] / rows[reference]["req_per_s"]
        met = None if goal is None else ratio >= goal
        if figure == "seat map 10k, hub" and met is not None:
            met = met and rows[figure]["answer_bytes"]["wire"] <= MAP_BYTES_GOAL
        out.append(
            {
                "figure": figure,
                "reference": reference,
                "req_per_s": rows[figure]["req_per_s"],
                "reference_req_per_s": rows[reference]["req_per_s"],
                "ratio": ratio,
                "goal": text,
                "met": met,
            }
        )
    return out


def print_tables(results: dict) -> None:
    print(
        f"\n{'row':34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>7} {'B/answer':>9} "
        f"{'client CPU':>10} {'server CPU':>10}"
    )
    for name, r in results["rows"].items():
        print(
            f"{name:34} {r['req_per_s']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.1f} {r['non_2xx_3xx']:7d} "
            f"{r['bytes_per_answer']:9.0f} {r['client_cpu_share']:10.0%} {r['server_cpu_share']:10.0%}"
        )
    print(f"\n{'figure':34} {'reference':22} {'req/s':>8} {'ref req/s':>9} {'ratio':>6}  goal")
    for c in results["comparisons"]:
        verdict = "" if c["met"] is None else (" (met)" if c["met"] else " (not met)")
        print(
            f"{c['figure']:34} {c['reference']:22} {c['req_per_s']:8.0f} {c['reference_req_per_s']:9.0f} "
            f"{c['ratio']:6.2f}  {c['goal']}{verdict}"
        )
    for name in ("seat map 10k, hub", "seat status 10k (compact), hub", "changes since V, hub"):
        size = results["rows"].get(name, {}).get("answer_bytes")
        if size:
            print(
                f"{name}: {size['wire']:,} bytes on the wire ({size['content_encoding'] or 'not compressed'}), "
                f"{size['decoded']:,} decoded"
            )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--trivial-server":
        serve_trivial(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per row")
    parser.add_argument("--no-seed", action="store_true", help="leave out the seed proof-of-concept (node)")
    parser.add_argument("--no-nginx", action="store_true", help="leave out the rows behind nginx")
    parser.add_argument("--out", default=str(RESULTS), help="JSON results file")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    args.no_seed = args.no_seed or not (shutil.which("node") and shutil.which("npm") and SEED_POC.is_dir())
    args.no_nginx = args.no_nginx or not os.access(NGINX, os.X_OK)
    load_before = os.getloadavg()
    results = run(args)
    print_tables(results)
    results_file.write(
        args.out,
        {
            "duration_s": args.duration,
            "connections": CONNECTIONS,
            "server_threads": SERVER_THREADS,
            **results,
        },
        load_before,
    )


if __name__ == "__main__":
    main()
