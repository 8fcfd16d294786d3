"""Signed revocation lists."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.signing import Keyring, Revocation, RevocationList, RevocationListError, SigningKey

KEY = SigningKey.from_seed(bytes(32), created_at=1)
KEYRING = Keyring([KEY.public_entry()])


def test_signed_list_round_trips_and_answers_lookups():
    rl = RevocationList.of([Revocation(1, 10, 1), Revocation(1, 11, 2), Revocation(2, 10, 3)])
    back = RevocationList.from_document(rl.to_document(KEY, issued_at=5), KEYRING)
    assert back.seq == 3 and len(back) == 3
    assert back.is_revoked(1, 10) and back.is_revoked(2, 10)
    assert not back.is_revoked(2, 11)


def test_tampered_or_foreign_lists_are_refused():
    doc = RevocationList.of([Revocation(1, 10, 1)]).to_document(KEY, issued_at=5)
    emptied = copy.deepcopy(doc)
    emptied["entries"] = []
    with pytest.raises(RevocationListError, match="does not verify"):
        RevocationList.from_document(emptied, KEYRING)
    stranger = SigningKey.from_seed(bytes([7]) * 32)
    with pytest.raises(RevocationListError, match="unknown key"):
        RevocationList.from_document(RevocationList().to_document(stranger, issued_at=5), KEYRING)
    with pytest.raises(RevocationListError):
        RevocationList.from_document({"type": "ticketgate.revocations", "version": 1}, KEYRING)


def test_malformed_entries_are_refused_even_when_signed():
    doc = RevocationList.of([Revocation(1, 10, 1)]).to_document(KEY, issued_at=5)
    doc["entries"][0]["ticket_id"] = "10"
    doc = _resign(doc)
    with pytest.raises(RevocationListError, match="integer"):
        RevocationList.from_document(doc, KEYRING)


def _resign(doc):
    from common.signing.canonical import b64encode, canonical_bytes
    from common.signing.revocation import REVOCATIONS_DOMAIN

    doc["signature"]["value"] = b64encode(KEY.sign(canonical_bytes(doc, REVOCATIONS_DOMAIN)))
    return doc


entries = st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(1, 1000)), max_size=30)


@given(entries, entries)
def test_merging_from_any_channel_only_grows(first, second):
    a = RevocationList.of(Revocation(*e) for e in first)
    b = RevocationList.of(Revocation(*e) for e in second)
    merged = RevocationList.of(Revocation(*e) for e in first)
    merged.merge(b)
    assert set(merged.entries) == set(a.entries) | set(b.entries)
    assert merged.seq == max(a.seq, b.seq)
    again = len(merged)
    assert merged.merge(b) == 0 and len(merged) == again
