"""Install what the hub sends (keyring, revocation list, configuration) into the data folder,
and read the movements of a pull.

Each file is verified before it replaces the old one (atomically), and a
running gate's in-memory copy is swapped only after the file is on disk.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from common.protocol import DEFAULT_DIRECTION, MovementKind
from common.signing import Keyring, KeyringError, RevocationList, RevocationListError

from ..config import (
    CONFIG_FILE,
    KEYRING_FILE,
    REVOCATIONS_FILE,
    GateConfig,
    GateDataError,
    apply_env,
    config_from_json,
    write_config,
)
from ..rules import Movement

log = logging.getLogger(__name__)


def pulled_movements(items: list[dict[str, Any]]) -> list[Movement]:
    """A pull's movements this gate can fold. One of a kind it does not know (a newer hub's) is
    left out with a log line: it cannot say whether the ticket is inside, and refusing the whole
    answer would stop this gate's pulls for good."""
    movements = []
    for item in items:
        try:
            kind = MovementKind(item.get("kind"))
        except ValueError:
            log.warning(
                "ignored a movement of unknown kind %r from the hub (scan %s)", item.get("kind"), item.get("scan_id")
            )
            continue
        movements.append(
            Movement(item["scan_id"], item["event_id"], item["ticket_id"], kind, item["at"], item["gate_name"])
        )
    return movements


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def verify_keyring(doc: Any, trusted: Keyring | None) -> Keyring:
    """A keyring from the hub must be signed by a key we trust or, on rotation, by
    one of its own keys (it arrived over the device-authenticated channel)."""
    try:
        if trusted is not None:
            try:
                return Keyring.from_document(doc, trusted=trusted)
            except KeyringError:
                pass
        unsigned = Keyring.from_document(doc)
        return Keyring.from_document(doc, trusted=unsigned)
    except KeyringError as exc:
        raise GateDataError(f"the hub sent an unusable keyring: {exc}") from None


def install_keyring(data_dir: Path, doc: Any, trusted: Keyring | None) -> Keyring:
    keyring = verify_keyring(doc, trusted)
    if not len(keyring):
        raise GateDataError("the hub sent an empty keyring")
    _write_json(Path(data_dir) / KEYRING_FILE, doc)
    return keyring


def install_revocations(data_dir: Path, doc: Any, keyring: Keyring) -> RevocationList:
    try:
        revocations = RevocationList.from_document(doc, keyring)
    except RevocationListError as exc:
        raise GateDataError(f"the hub sent an unusable revocation list: {exc}") from None
    _write_json(Path(data_dir) / REVOCATIONS_FILE, doc)
    return revocations


def gate_config_from_hub(hub_config: dict[str, Any], hub_url: str, previous: GateConfig | None) -> GateConfig:
    """The hub decides identity, direction, zones, re-entry and the events with their windows, ticket
    types, names at the door and supervisor PIN; local settings (time zone, camera cool-down) stay as
    the operator set them. A hub that sends no re-entry policy (an older one) leaves the local one."""
    base = previous or GateConfig()
    doc = base.to_json()
    doc.update(
        gate_id=hub_config["gate_id"],
        gate_name=hub_config["gate_name"],
        direction=hub_config.get("direction", DEFAULT_DIRECTION),
        reentry=hub_config.get("reentry", base.reentry),
        zones=hub_config.get("zones", []),
        events=hub_config.get("events", []),
        other_events=hub_config.get("other_events", []),
        hub_url=hub_url,
    )
    try:
        return config_from_json(doc)  # validates every field
    except (ValueError, TypeError, KeyError) as exc:
        raise GateDataError(f"the hub sent an unusable configuration: {exc}") from None


def install_config(data_dir: Path, hub_config: dict[str, Any], hub_url: str) -> GateConfig:
    """Write gate.json from the hub's configuration; return it with GATE_* overrides applied."""
    path = Path(data_dir) / CONFIG_FILE
    previous = None
    if path.exists():
        try:
            previous = config_from_json(json.loads(path.read_text("utf-8")))
        except ValueError:
            previous = None  # unreadable: the hub's configuration replaces it
    from ..peers.roster import install_roster, verify_roster  # the event's other gates, their keys (docs/peers.md)

    roster = verify_roster(data_dir, hub_config)
    config = gate_config_from_hub(hub_config, hub_url, previous)
    write_config(data_dir, config)
    install_roster(data_dir, roster)
    try:
        return apply_env(config, os.environ)
    except ValueError as exc:
        raise GateDataError(str(exc)) from None
