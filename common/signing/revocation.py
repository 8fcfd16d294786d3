"""Signed revocation lists.

Revocations only ever grow: a ticket once revoked stays revoked (a re-issued
ticket gets a new ticket id). So a gate can merge any correctly signed list,
from any channel (sync, USB stick, QR), and keeps the highest ``seq`` it saw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .canonical import b64encode, canonical_bytes, read_json_document
from .keys import Keyring, KeyringError, SigningKey, verify_document_signature

REVOCATIONS_TYPE = "ticketgate.revocations"
REVOCATIONS_DOMAIN = b"ticketgate/revocations/v1\x00"


class RevocationListError(ValueError):
    """The document is malformed, unsigned or not signed by a trusted key."""


@dataclass(frozen=True)
class Revocation:
    event_id: int
    ticket_id: int
    seq: int


@dataclass
class RevocationList:
    seq: int = 0
    entries: dict[tuple[int, int], int] = field(default_factory=dict)  # (event, ticket) -> seq

    @classmethod
    def of(cls, revocations: Iterable[Revocation]) -> RevocationList:
        rl = cls()
        for r in revocations:
            rl.add(r)
        return rl

    def add(self, r: Revocation) -> None:
        self.entries.setdefault((r.event_id, r.ticket_id), r.seq)
        self.seq = max(self.seq, r.seq)

    def is_revoked(self, event_id: int, ticket_id: int) -> bool:
        return (event_id, ticket_id) in self.entries

    def merge(self, other: RevocationList) -> int:
        """Add every entry of ``other``; return how many were new."""
        before = len(self.entries)
        for (event_id, ticket_id), seq in other.entries.items():
            self.add(Revocation(event_id, ticket_id, seq))
        self.seq = max(self.seq, other.seq)
        return len(self.entries) - before

    def __len__(self) -> int:
        return len(self.entries)

    def to_document(self, signer: SigningKey, issued_at: int) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": REVOCATIONS_TYPE,
            "version": 1,
            "seq": self.seq,
            "issued_at": issued_at,
            "entries": [
                {"event_id": e, "ticket_id": t, "seq": s}
                for (e, t), s in sorted(self.entries.items(), key=lambda kv: (kv[1], kv[0]))
            ],
        }
        doc["signature"] = {
            "kid": signer.kid,
            "value": b64encode(signer.sign(canonical_bytes(doc, REVOCATIONS_DOMAIN))),
        }
        return doc

    @classmethod
    def from_document(cls, doc: Any, keyring: Keyring) -> RevocationList:
        """Accept a list only if a key in ``keyring`` signed it."""
        if not isinstance(doc, dict) or doc.get("type") != REVOCATIONS_TYPE or doc.get("version") != 1:
            raise RevocationListError("not a ticketgate revocation list v1")
        try:
            verify_document_signature(doc, REVOCATIONS_DOMAIN, keyring)
        except KeyringError as exc:
            raise RevocationListError(str(exc)) from None
        seq, entries = doc.get("seq"), doc.get("entries")
        if not _is_uint(seq) or not isinstance(entries, list):
            raise RevocationListError("revocation list needs an integer seq and a list of entries")
        rl = cls(seq=seq)
        for item in entries:
            if not isinstance(item, dict) or not all(_is_uint(item.get(k)) for k in ("event_id", "ticket_id", "seq")):
                raise RevocationListError("revocation entry needs integer event_id, ticket_id and seq")
            rl.add(Revocation(item["event_id"], item["ticket_id"], item["seq"]))
        rl.seq = max(rl.seq, seq)
        return rl

    @classmethod
    def load(cls, path: Path, keyring: Keyring) -> RevocationList:
        return cls.from_document(read_json_document(path, RevocationListError), keyring)


def _is_uint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
