"""The roster: the event's other enrolled gates, as the hub listed them in this gate's configuration.

peers.json  the hub's signed roster document, as received:
            {"type": "ticketgate-peer-roster", "version": 1, "device_id", "event_id", "issued_at",
             "peers": [{"device_id", "gate_id", "name", "public_key", "address"}, ...], "signature": {...}}

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

from common.protocol import PEER_ROSTER_DOMAIN, PEER_ROSTER_TYPE
from common.signing import KeyringError
from common.signing.keys import verify_document_signature

from ..config import KEYRING_FILE, GateDataError, load_keyring
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


def verify_roster(data_dir: Path, hub_config: dict[str, Any]) -> dict[str, Any] | None:
    """The signed roster of a configuration from the hub, checked before anything is written: signed
    by a key of the gate's keyring (installed before the configuration), for this device and one of
    its events. None when the hub sent none (an older hub), or one older than the gate's (kept)."""
    doc = hub_config.get("peers")
    if doc is None:
        return None
    if not isinstance(doc, dict) or doc.get("type") != PEER_ROSTER_TYPE or doc.get("version") != 1:
        raise GateDataError("the hub sent a peer roster that is not a ticketgate-peer-roster v1")
    try:
        verify_document_signature(doc, PEER_ROSTER_DOMAIN, load_keyring(Path(data_dir) / KEYRING_FILE))
    except KeyringError as exc:
        raise GateDataError(f"the hub sent a peer roster that does not verify: {exc}") from None
    events = {e.get("event_id") for e in hub_config.get("events", []) if isinstance(e, dict)}
    if doc.get("device_id") != hub_config.get("device_id") or doc.get("event_id") not in events:
        raise GateDataError("the hub sent a peer roster of another device or event")
    issued_at = doc.get("issued_at")
    if not isinstance(issued_at, (int, float)) or not isinstance(doc.get("peers"), list):
        raise GateDataError("the hub sent a peer roster without issued_at or peers")
    held = _read(Path(data_dir) / PEERS_FILE)
    if isinstance(held, dict) and isinstance(held.get("issued_at"), (int, float)) and issued_at < held["issued_at"]:
        log.warning("the hub sent a peer roster older than the one held: kept the one held")
        return None
    return doc


def install_roster(data_dir: Path, doc: dict[str, Any] | None) -> None:
    """Write a verified roster (:func:`verify_roster`) to peers.json as received; None: leave it."""
    if doc is not None:
        write_private(Path(data_dir) / PEERS_FILE, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))


def load_roster(data_dir: Path) -> Roster:
    doc = _read(Path(data_dir) / PEERS_FILE)
    return Roster.from_json(doc.get("peers") if isinstance(doc, dict) else None)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s (%s): no peers until the next configuration", path, exc)
        return None
