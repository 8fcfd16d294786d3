"""Real gates for dashboard tests: enrolled over HTTP against a live hub, scanning in
process (gate_agent's pipeline) and pushing with gate_agent's own sync client."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hub.services import devices as device_service
from hub.services.clock import iso, utcnow
from hub.services.event_admin import set_door_settings
from hub.services.events import event_row
from hub.services.holds import hold_seats
from hub.services.orders import confirm_payment, purchase


class LiveGate:
    def __init__(self, engine, base_url: str, event_id: int, name: str, data_dir: Path):
        from gate_agent.pipeline import Gate
        from gate_agent.sync.client import SyncClient
        from gate_agent.sync.enroll import enroll

        with engine.connect() as conn:
            # a live gate scans now: the event's doors are open (by default they open 4 h before its start)
            if event_row(conn, event_id).doors_open_at is None:
                set_door_settings(conn, event_id, {"doors_open_at": iso(utcnow() - timedelta(hours=1))})
            self.device, token = device_service.create_device(conn, {"name": name, "event_id": event_id})
        enroll(data_dir, base_url, token)
        self.gate = Gate.open(data_dir)
        self.client = SyncClient(data_dir, self.gate.store, self.gate)

    def scan(self, code: str) -> str:
        return self.gate.check(code, source="manual").verdict

    def push(self):
        return self.client.push_once()

    def close(self) -> None:
        self.client.close()
        self.gate.close()


def sell_seats(app, engine, event_id: int, seats: list[tuple[str, str, str]]) -> list[dict]:
    """A paid box-office order of ``seats``; returns its tickets (with their codes)."""
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        held = hold_seats(conn, event_id, seats)
        order = purchase(
            conn, held["hold_id"], held["hold_token"], {"name": "Guest", "email": "g@example.org"}, "box_office", signer
        )
        return confirm_payment(conn, order["id"], signer)["tickets"]
