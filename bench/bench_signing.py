"""Tickets signed and verified per second through the project's API, beside raw
`cryptography` Ed25519 sign/verify measured in the same run.

Goal: project verify >= 0.8x raw verify (keys loaded once, not per ticket).
Run: .venv/bin/python -m bench.bench_signing [--seconds 1.0]
Writes bench/results/bench_signing.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from common.signing import Keyring, SigningKey, b45, sign_ticket, verify_ticket
from common.signing.ticket import DOMAIN, SIGNATURE_BYTES, TEXT_PREFIX

RESULTS = Path(__file__).with_name("results") / "bench_signing.json"


def rate(func, seconds: float) -> float:
    """Calls per second of func(), over at least `seconds` of wall time."""
    func()  # warm up
    calls, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            func()
        calls += 100
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


def run(seconds: float) -> dict:
    key = SigningKey.from_seed(bytes(range(32)), created_at=0)
    keyring = Keyring([key.public_entry()])
    fields = dict(event_id=4242, ticket_id=1_048_575, ticket_type=12, zones=[1, 2], seat=9876)
    text = sign_ticket(key, **fields)
    data = b45.decode(text[len(TEXT_PREFIX) :])
    payload, signature = data[:-SIGNATURE_BYTES], data[-SIGNATURE_BYTES:]
    message = DOMAIN + payload
    public_key = key.public_key
    private_sign = key.sign
    now = 1_800_000_000

    rows = []
    raw_sign = rate(lambda: private_sign(message), seconds)
    project_sign = rate(lambda: sign_ticket(key, **fields), seconds)
    rows.append(("sign", project_sign, raw_sign))
    raw_verify = rate(lambda: public_key.verify(signature, message), seconds)
    project_verify = rate(lambda: verify_ticket(text, keyring, now), seconds)
    rows.append(("verify", project_verify, raw_verify))
    return {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "ticket_text_length": len(text),
        "results": [
            {"operation": op, "project_per_s": round(p), "raw_ed25519_per_s": round(r), "ratio": round(p / r, 3)}
            for op, p, r in rows
        ],
        "goal": "verify ratio >= 0.8",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="measuring time per figure")
    args = parser.parse_args()
    print(f"measuring sign/verify ({args.seconds:.1f} s per figure)...", file=sys.stderr)
    report = run(args.seconds)
    print(f"{'operation':<10}{'project/s':>12}{'raw Ed25519/s':>16}{'ratio':>8}")
    for row in report["results"]:
        print(f"{row['operation']:<10}{row['project_per_s']:>12,}{row['raw_ed25519_per_s']:>16,}{row['ratio']:>8.2f}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
