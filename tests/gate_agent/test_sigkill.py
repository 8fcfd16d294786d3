"""Kill a real `gate-agent run --headless` with SIGKILL while it scans, again and again.

Every verdict line the agent printed must be in gate.db with that verdict, the
database must pass integrity_check, and its derived tables (ticket_state,
verdict_counts) must agree with the scans: no half-written transaction. The
test synchronises on the printed lines only; the kill lands wherever the agent
happens to be in the codes queued behind them.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.gate_agent.helpers import make_gate_folder

GATE_AGENT = str(Path(sys.executable).parent / "gate-agent")
ROUNDS = 12
CODES_PER_ROUND = 40


def test_sigkill_at_random_moments_loses_no_shown_verdict(tmp_path):
    folder = make_gate_folder(tmp_path, reentry="single")
    tickets = [folder.ticket() for _ in range(25)]
    rng = random.Random(20261121)
    shown: list[dict] = []
    log = (tmp_path / "agent.log").open("w")

    for round_no in range(ROUNDS):
        proc = subprocess.Popen(
            [GATE_AGENT, "run", "--data-dir", str(folder.path), "--headless", "--source", "stdin"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            bufsize=1,
        )
        codes = [rng.choice(tickets) if rng.random() < 0.8 else f"junk-{rng.random()}" for _ in range(CODES_PER_ROUND)]
        proc.stdin.write("".join(code + "\n" for code in codes))  # fits the pipe buffer; stdin stays open
        proc.stdin.flush()
        kill_after = 0 if round_no == 0 else rng.randint(1, CODES_PER_ROUND - 1)  # round 0: during start-up
        for _ in range(kill_after):
            line = proc.stdout.readline()
            assert line.endswith("\n"), f"agent ended early in round {round_no}"
            shown.append(json.loads(line))
        proc.kill()
        proc.wait(timeout=10)
        # lines printed before the kill landed were shown too; a torn last line was not
        rest = proc.stdout.read()
        shown.extend(json.loads(line) for line in rest.split("\n")[:-1] if line)
        proc.stdout.close()
        proc.stdin.close()
    log.close()

    assert len(shown) >= ROUNDS  # the kills did not all land before any scan
    with sqlite3.connect(folder.path / "gate.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {
            scan_id: (verdict, seq) for scan_id, verdict, seq in conn.execute("SELECT scan_id, verdict, seq FROM scans")
        }
        for line in shown:
            assert stored.get(line["scan_id"]) == (line["verdict"], line["seq"]), line

        assert (
            conn.execute(
                "SELECT count(*) FROM scans WHERE scan_id IS NULL OR gate_id IS NULL OR verdict IS NULL"
                " OR wall_time IS NULL OR mono IS NULL OR code_digest IS NULL OR synced IS NULL"
            ).fetchone()[0]
            == 0
        )
        # single entry: each ticket admitted at most once over all restarts, and the
        # state table agrees with the scans (written in the same transactions)
        admitted = dict(
            conn.execute("SELECT ticket_id, count(*) FROM scans WHERE verdict = 'admitted' GROUP BY ticket_id")
        )
        assert admitted and set(admitted.values()) == {1}
        state = dict(conn.execute("SELECT ticket_id, admissions FROM ticket_state"))
        assert state == admitted
        counts = dict(conn.execute("SELECT verdict, n FROM verdict_counts"))
        assert counts == dict(conn.execute("SELECT verdict, count(*) FROM scans GROUP BY verdict"))

    # printed order is the store's order
    seqs = [line["seq"] for line in shown]
    assert seqs == sorted(seqs)
