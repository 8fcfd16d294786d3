"""The roster: the event's other enrolled gates, as the hub listed them in this gate's configuration.

peers.json  [{"device_id", "gate_id", "name", "public_key", "address"}, ...]

Only a device on the roster is a peer: its public key verifies its messages, and its
address (what it reported at its last pull, as the hub saw it) is where this gate sends
its own movements. A device the hub revoked, or enrolled for another event or
organizer, is not on it. The roster is as fresh as the last configuration pulled.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..sync.identity import write_private

log = logging.getLogger(__name__)

PEERS_FILE = "peers.json"


@dataclass(frozen=True)
class Peer:
    device_id: int
    gate_id: str
    name: str
    public_key: Ed25519PublicKey
    address: str | None  # host:port, or None while the hub has seen none


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """What a gate announces by mDNS to be matched with its roster entry (SHA-256 of the raw key, 32 hex)."""
    return hashlib.sha256(public_key.public_bytes_raw()).hexdigest()[:32]


class Roster:
    def __init__(self, peers: Iterable[Peer] = ()):
        self._by_id = {p.device_id: p for p in peers}

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self):
        return iter(self._by_id.values())

    def get(self, device_id: object) -> Peer | None:
        return self._by_id.get(device_id) if type(device_id) is int else None

    @classmethod
    def from_json(cls, items: Any) -> Roster:
        """The usable entries of the hub's list; an entry without a valid key is left out (logged)."""
        peers = []
        for item in items if isinstance(items, list) else []:
            try:
                raw = base64.b64decode(item["public_key"].encode("ascii"), validate=True)
                address = item.get("address")
                peers.append(
                    Peer(
                        int(item["device_id"]),
                        str(item.get("gate_id", f"device-{item['device_id']}")),
                        str(item.get("name", "")),
                        Ed25519PublicKey.from_public_bytes(raw),
                        address if isinstance(address, str) and address else None,
                    )
                )
            except (KeyError, TypeError, ValueError, AttributeError, binascii.Error, UnicodeEncodeError):
                log.warning("ignored an unusable peer entry from the hub: %r", item)
        return cls(peers)


def install_roster(data_dir: Path, items: Any) -> Roster:
    """Write the hub's roster (none from an older hub: an empty one) to peers.json."""
    items = items if isinstance(items, list) else []
    roster = Roster.from_json(items)
    write_private(Path(data_dir) / PEERS_FILE, (json.dumps(items, indent=2) + "\n").encode("utf-8"))
    return roster


def load_roster(data_dir: Path) -> Roster:
    path = Path(data_dir) / PEERS_FILE
    try:
        return Roster.from_json(json.loads(path.read_text("utf-8")))
    except FileNotFoundError:
        return Roster()
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s (%s): no peers until the next configuration", path, exc)
        return Roster()
