"""Serve the door page with waitress in a background thread, and stop it cleanly."""

from __future__ import annotations

import threading

from waitress import wasyncore
from waitress.server import create_server

LOOP_TICK_S = 0.2


class DoorServer:
    """waitress's server, driven by our own loop so that stopping it never
    closes sockets from another thread while its select() is using them."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 8080, threads: int = 16):
        # Each open screen holds one worker thread for its event stream and one for the preview.
        self._server = create_server(app, host=host, port=port, threads=threads)
        self.host = host
        self.port = self._server.effective_port
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="door-page", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> DoorServer:
        self._thread.start()
        return self

    def _run(self) -> None:
        server = self._server
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=LOOP_TICK_S, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1)
        finally:
            wasyncore.close_all(server._map)

    def stop(self, timeout: float = 5.0) -> None:
        """Let the worker threads finish first (close the app's streams before:
        ``detach``), then end the loop, which closes every socket in its thread."""
        self._server.task_dispatcher.shutdown(timeout=timeout)
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        else:
            wasyncore.close_all(self._server._map)
