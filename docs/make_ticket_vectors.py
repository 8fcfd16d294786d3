"""Regenerate docs/ticket-vectors.json from the project's own code.

Ed25519 is deterministic, so the same seed and fields always give the same
texts; tests/common/signing/test_vectors.py checks the file against the code.
Run: .venv/bin/python docs/make_ticket_vectors.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.signing import Keyring, Revocation, RevocationList, SigningKey, b45, sign_ticket  # noqa: E402
from common.signing.qr import make_qr  # noqa: E402
from common.signing.ticket import DOMAIN, SIGNATURE_BYTES  # noqa: E402

SEED = bytes(range(32))
CREATED_AT = 1767225600  # 2026-01-01T00:00:00Z
OUT = Path(__file__).with_name("ticket-vectors.json")

CASES = [
    ("seated, no window", dict(event_id=42, ticket_id=1001, ticket_type=3, zones=[1, 2], seat=117)),
    (
        "seated at the version-5 limits",
        dict(event_id=16383, ticket_id=2**21 - 1, ticket_type=16383, zones=[1, 7], seat=16383),
    ),
    ("general admission, every zone", dict(event_id=7, ticket_id=5, ticket_type=1, zones=[], seat=None)),
    (
        "seated with validity window",
        dict(
            event_id=42, ticket_id=1002, ticket_type=3, zones=[2], seat=118, not_before=1798741800, not_after=1798770600
        ),
    ),
    (
        "maximum field values with window",
        dict(
            event_id=2**32 - 1,
            ticket_id=2**53 - 1,
            ticket_type=2**32 - 1,
            zones=list(range(1, 17)),
            seat=2**32 - 1,
            not_before=0,
            not_after=2**32 - 1,
        ),
    ),
]


def build() -> dict:
    key = SigningKey.from_seed(SEED, created_at=CREATED_AT)
    tickets = []
    for name, fields in CASES:
        text = sign_ticket(key, **fields)
        data = b45.decode(text[4:])
        qr = make_qr(text)
        tickets.append(
            {
                "name": name,
                "fields": fields,
                "payload_hex": data[:-SIGNATURE_BYTES].hex(),
                "signed_message_hex": (DOMAIN + data[:-SIGNATURE_BYTES]).hex(),
                "signature_hex": data[-SIGNATURE_BYTES:].hex(),
                "text": text,
                "text_length": len(text),
                "qr_version": qr.version,
                "qr_error": qr.error,
            }
        )
    revocations = RevocationList.of([Revocation(42, 1001, 1), Revocation(7, 5, 2)])
    return {
        "seed_hex": SEED.hex(),
        "kid": key.kid,
        "public_key_hex": key.public_raw.hex(),
        "keyring": Keyring([key.public_entry()]).to_document(key),
        "tickets": tickets,
        "revocations": revocations.to_document(key, issued_at=CREATED_AT),
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=2) + "\n", "utf-8")
    print(f"wrote {OUT}")
