"""Ticket signing and verification: reasons, properties, bounds."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.signing import (
    MAX_TEXT_LENGTH,
    Keyring,
    Reason,
    SigningKey,
    b45,
    looks_like_ticket,
    sign_ticket,
    verify_ticket,
)
from common.signing.b45 import ALPHABET
from common.signing.qr import make_qr
from common.signing.ticket import DOMAIN, TEXT_PREFIX

KEY = SigningKey.from_seed(bytes(range(32)), created_at=0)
OTHER_KEY = SigningKey.from_seed(bytes(range(1, 33)), created_at=0)
KEYRING = Keyring([KEY.public_entry()])
NOW = 1_800_000_000

ticket_fields = st.fixed_dictionaries(
    {
        "event_id": st.integers(0, 2**32 - 1),
        "ticket_id": st.integers(0, 2**53 - 1),
        "ticket_type": st.integers(0, 2**32 - 1),
        "zones": st.frozensets(st.integers(1, 16)),
        "seat": st.none() | st.integers(0, 2**32 - 1),
    }
)
windows = st.tuples(st.none() | st.integers(0, 2**32 - 1), st.none() | st.integers(0, 2**32 - 1)).filter(
    lambda w: None in w or w[0] <= w[1]
)


def _signed_raw(payload: bytes, key: SigningKey = KEY) -> str:
    """Sign arbitrary payload bytes: lets tests build tickets the encoder refuses to."""
    return TEXT_PREFIX + b45.encode(payload + key.sign(DOMAIN + payload))


@given(ticket_fields, windows)
def test_round_trip_over_all_field_ranges(fields, window):
    not_before, not_after = window
    text = sign_ticket(KEY, **fields, not_before=not_before, not_after=not_after)
    assert len(text) <= MAX_TEXT_LENGTH and set(text) <= set(ALPHABET)
    at = not_before if not_before is not None else (not_after if not_after is not None else NOW)
    result = verify_ticket(text, KEYRING, at)
    assert result.valid, result
    t = result.ticket
    assert (t.event_id, t.ticket_id, t.ticket_type, t.zones, t.seat) == (
        fields["event_id"],
        fields["ticket_id"],
        fields["ticket_type"],
        fields["zones"],
        fields["seat"],
    )
    assert (t.not_before, t.not_after, t.kid) == (not_before, not_after, KEY.kid)


def _mutations(text: str, replacements: str):
    for i, original in enumerate(text):
        for ch in replacements:
            if ch != original:
                yield text[:i] + ch + text[i + 1 :]


@pytest.mark.parametrize("seat", [117, None])
def test_every_single_character_change_is_rejected_exhaustively(seat):
    text = sign_ticket(KEY, event_id=42, ticket_id=1001, ticket_type=3, zones=[1, 2], seat=seat)
    reasons = set()
    for changed in _mutations(text, ALPHABET + "a1~é"):
        result = verify_ticket(changed, KEYRING, NOW)
        assert not result.valid, changed
        reasons.add(result.reason)
    # The changes hit every layer: prefix, base45, version byte, parser, kid, signature.
    assert {Reason.MALFORMED, Reason.UNSUPPORTED_VERSION, Reason.UNKNOWN_KEY, Reason.BAD_SIGNATURE} <= reasons


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(ticket_fields, st.data())
def test_single_character_change_of_random_tickets_is_rejected(fields, data):
    text = sign_ticket(KEY, **fields)
    i = data.draw(st.integers(0, len(text) - 1))
    ch = data.draw(st.characters().filter(lambda c: c != text[i]))
    result = verify_ticket(text[:i] + ch + text[i + 1 :], KEYRING, NOW)
    assert not result.valid and isinstance(result.reason, Reason)


@given(
    st.one_of(
        st.text(),
        st.text(alphabet=ALPHABET),
        st.text(alphabet=ALPHABET).map(lambda s: TEXT_PREFIX + s),
        st.binary().map(lambda b: TEXT_PREFIX + b45.encode(b)),
    )
)
def test_random_text_never_raises(text):
    result = verify_ticket(text, KEYRING, NOW)
    assert not result.valid and isinstance(result.reason, Reason)


@pytest.mark.parametrize("junk", [None, 42, b"TG1:", ["TG1:"], object()])
def test_non_text_input_is_malformed(junk):
    assert verify_ticket(junk, KEYRING, NOW).reason is Reason.MALFORMED


def test_overlong_input_rejected_before_decoding():
    valid = sign_ticket(KEY, event_id=1, ticket_id=1, ticket_type=1)
    result = verify_ticket(valid + "0" * MAX_TEXT_LENGTH, KEYRING, NOW)
    assert result.reason is Reason.MALFORMED and "longer" in result.detail


def test_each_reason_is_reported():
    text = sign_ticket(KEY, event_id=1, ticket_id=2, ticket_type=3, seat=4, not_before=NOW - 10, not_after=NOW + 10)
    assert verify_ticket(text, KEYRING, NOW).valid
    assert verify_ticket(text, KEYRING, NOW - 11).reason is Reason.NOT_YET_VALID
    assert verify_ticket(text, KEYRING, NOW + 11).reason is Reason.EXPIRED
    assert verify_ticket(text, KEYRING, NOW - 11).ticket.ticket_id == 2  # fields still shown
    assert verify_ticket(text, Keyring([OTHER_KEY.public_entry()]), NOW).reason is Reason.UNKNOWN_KEY
    raw = b45.decode(text[len(TEXT_PREFIX) :])
    flipped = raw[:-1] + bytes([raw[-1] ^ 1])
    assert verify_ticket(TEXT_PREFIX + b45.encode(flipped), KEYRING, NOW).reason is Reason.BAD_SIGNATURE
    assert verify_ticket("TG2:" + text[4:], KEYRING, NOW).reason is Reason.UNSUPPORTED_VERSION
    assert verify_ticket("https://example.com/", KEYRING, NOW).reason is Reason.MALFORMED


def test_signature_from_another_key_with_the_same_kid_fails():
    # Forge: the other key signs a payload that names KEY's kid.
    payload = bytes([1, 0]) + KEY.kid_bytes + bytes([1, 2, 3, 0])
    assert verify_ticket(_signed_raw(payload, OTHER_KEY), KEYRING, NOW).reason is Reason.BAD_SIGNATURE
    assert verify_ticket(_signed_raw(payload, KEY), KEYRING, NOW).valid


def test_downgrade_of_the_signed_version_byte_cannot_pass():
    payload = bytes([1, 0]) + KEY.kid_bytes + bytes([1, 2, 3, 0])
    raw = b45.decode(_signed_raw(payload)[len(TEXT_PREFIX) :])
    for version in (0, 2, 255):
        relabelled = bytes([version]) + raw[1:]
        result = verify_ticket(TEXT_PREFIX + b45.encode(relabelled), KEYRING, NOW)
        assert result.reason is Reason.UNSUPPORTED_VERSION


@pytest.mark.parametrize(
    "payload_tail, why",
    [
        (bytes([0x80, 0x00, 2, 3, 0]), "non-minimal varint"),
        (bytes([1, 2, 3, 0, 9]), "trailing byte"),
        (bytes([1, 2, 3]), "missing field"),
        (bytes([1, 2, 3, 0xFF, 0xFF, 0x04]), "zone mask above 16 bits"),
    ],
)
def test_correctly_signed_but_malformed_payloads_are_rejected(payload_tail, why):
    payload = bytes([1, 0]) + KEY.kid_bytes + payload_tail
    assert verify_ticket(_signed_raw(payload), KEYRING, NOW).reason is Reason.MALFORMED, why


def test_unknown_flags_and_inverted_window_are_malformed():
    base = KEY.kid_bytes + bytes([1, 2, 3, 0])
    assert verify_ticket(_signed_raw(bytes([1, 0x08]) + base), KEYRING, NOW).reason is Reason.MALFORMED
    window = (200).to_bytes(4, "big") + (100).to_bytes(4, "big")
    assert verify_ticket(_signed_raw(bytes([1, 0x06]) + base + window), KEYRING, NOW).reason is Reason.MALFORMED


def test_encoder_refuses_out_of_range_fields():
    for bad in (
        dict(event_id=-1),
        dict(event_id=2**32),
        dict(ticket_id=2**53),
        dict(zones=[0]),
        dict(zones=[17]),
        dict(seat=-1),
        dict(not_before=20, not_after=10),
        dict(ticket_type=True),
    ):
        fields = dict(event_id=1, ticket_id=1, ticket_type=1) | bad
        with pytest.raises(ValueError):
            sign_ticket(KEY, **fields)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(
    event_id=st.integers(0, 16383),
    ticket_id=st.integers(0, 2**21 - 1),
    ticket_type=st.integers(0, 16383),
    zones=st.frozensets(st.integers(1, 7)),
    seat=st.integers(0, 16383),
)
def test_seated_ticket_without_window_fits_qr_version_5(event_id, ticket_id, ticket_type, zones, seat):
    text = sign_ticket(KEY, event_id=event_id, ticket_id=ticket_id, ticket_type=ticket_type, zones=zones, seat=seat)
    qr = make_qr(text)
    assert qr.version <= 5 and qr.error in ("M", "Q", "H") and qr.mode == "alphanumeric"


def test_looks_like_ticket_tells_our_codes_from_other_qr_content():
    assert looks_like_ticket(sign_ticket(KEY, event_id=1, ticket_id=1, ticket_type=1))
    assert looks_like_ticket("TG9:ABC")
    assert not looks_like_ticket("https://example.com")
    assert not looks_like_ticket("WIFI:S:x;;")
    assert not looks_like_ticket(None)


def test_zone_admission():
    text = sign_ticket(KEY, event_id=1, ticket_id=1, ticket_type=1, zones=[2])
    ticket = verify_ticket(text, KEYRING, NOW).ticket
    assert ticket.admits_zone([2, 3]) and not ticket.admits_zone([1])
    anywhere = verify_ticket(sign_ticket(KEY, event_id=1, ticket_id=2, ticket_type=1), KEYRING, NOW).ticket
    assert anywhere.admits_zone([5])
