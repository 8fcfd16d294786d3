"""Gate <-> hub: enrolment, the sync client (push scans, pull changes) and its scheduler.

See docs/sync-protocol.md. Scanning never waits for any of this: the store is
the meeting point, and every network call runs on a scheduler thread.
"""

from .client import DeviceRevoked, SyncClient, SyncError
from .identity import DeviceIdentity, load_identity

__all__ = ["DeviceIdentity", "DeviceRevoked", "SyncClient", "SyncError", "load_identity"]
