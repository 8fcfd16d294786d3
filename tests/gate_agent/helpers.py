"""Shared helpers for gate-agent tests: a real key, real data folders, real tickets."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.signing import Revocation, RevocationList, SigningKey, create_key, sign_ticket

_ticket_ids = itertools.count(1000)


@dataclass
class GateFolder:
    """A gate data folder on disk plus the hub-side key that signs its tickets."""

    path: Path
    key: SigningKey
    key_dir: Path
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def keyring_file(self) -> Path:
        return self.key_dir / "keyring.json"

    def ticket(self, **fields) -> str:
        fields.setdefault("event_id", 1)
        fields.setdefault("ticket_id", next(_ticket_ids))
        fields.setdefault("ticket_type", 1)
        return sign_ticket(self.key, **fields)

    def write_config(self, **changes) -> None:
        self.config.update(changes)
        (self.path / "gate.json").write_text(json.dumps(self.config), "utf-8")

    def revoke(self, *pairs: tuple[int, int], issued_at: int = 0) -> None:
        rl = RevocationList.of(Revocation(e, t, i + 1) for i, (e, t) in enumerate(pairs))
        (self.path / "revocations.json").write_text(json.dumps(rl.to_document(self.key, issued_at)), "utf-8")


def make_gate_folder(root: Path, **config) -> GateFolder:
    key_dir = root / "hub-keys"
    key = create_key(key_dir)
    data = root / "gate-data"
    data.mkdir()
    (data / "keyring.json").write_bytes((key_dir / "keyring.json").read_bytes())
    folder = GateFolder(
        data,
        key,
        key_dir,
        {
            "version": 1,
            "gate_id": "gate-a",
            "gate_name": "Gate A",
            "events": [{"event_id": 1}],
        },
    )
    folder.write_config(**config)
    return folder
