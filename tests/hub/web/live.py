"""A real hub server on loopback (waitress in a background thread) for browser tests."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

from waitress.server import create_server

from tests.support import free_port


@contextmanager
def serve_hub(tmp_path: Path, **config):
    """Yield (app, base_url) for a migrated SQLite hub served by waitress."""
    from hub import create_app
    from hub.db import upgrade

    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
            "SWEEP_INTERVAL_SECONDS": 0,
            "HOLD_RATE_LIMIT": "100000 per minute",
            **config,
        }
    )
    upgrade(app.extensions["tickethub.engine"])
    app.extensions["tickethub.keys"].ensure()
    port = free_port()
    server = create_server(app, host="127.0.0.1", port=port, threads=6)
    thread = threading.Thread(target=server.run, name="hub-server", daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.close()
        server.task_dispatcher.shutdown()
        thread.join(timeout=10)
        app.extensions["tickethub.engine"].dispose()
