"""A serving hub runs every background job: hold and order sweeper, mail queue, event reminders."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from hub.scheduler import start_background_jobs
from tests.support import free_port


def test_background_jobs_include_the_sweeper_and_reminders(app_config):
    from hub import create_app

    app = create_app(app_config | {"SWEEP_INTERVAL_SECONDS": 60, "REMINDER_INTERVAL_SECONDS": 600})
    scheduler = start_background_jobs(app)
    try:
        assert {job.id for job in scheduler.get_jobs()} == {"sweep_holds", "mail_queue", "event_reminders", "webhooks"}
    finally:
        scheduler.shutdown(wait=False)
        app.extensions["tickethub.engine"].dispose()


def test_serve_starts_the_background_jobs(tmp_path):
    env = {**os.environ, "TICKETHUB_INSTANCE_PATH": str(tmp_path / "inst")}
    env.pop("TICKETHUB_WEB_PAGES", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(free_port()), "--threads", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        seen = []
        for line in proc.stdout:  # ends if the server exits
            seen.append(line)
            if "background jobs:" in line or time.monotonic() > deadline:
                break
        assert any("background jobs: event_reminders, mail_queue, sweep_holds, webhooks" in line for line in seen), (
            "".join(seen)
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
