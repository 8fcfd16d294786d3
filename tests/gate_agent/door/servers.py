"""A real door page: the Flask app served by waitress on a loopback port, in a thread."""

from __future__ import annotations

from contextlib import contextmanager

from gate_agent.door import DoorServer, PreviewBuffer, create_door_app
from gate_agent.pipeline import Gate


@contextmanager
def door_server(data_dir, *, has_camera=False, camera=None, sound=False, **clocks):
    gate = Gate.open(data_dir, **clocks)
    preview = PreviewBuffer()
    app = create_door_app(gate, preview=preview, has_camera=has_camera, camera=camera, sound=sound)
    server = DoorServer(app, port=0, threads=8).start()
    try:
        yield server.url.rstrip("/"), gate, preview
    finally:
        app.extensions["door"].detach()
        server.stop()
        gate.close()
