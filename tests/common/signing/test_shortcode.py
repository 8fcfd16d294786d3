"""The short code under every QR (common/signing/shortcode.py): round trip, forgiving reading, and
the errors its check characters always catch."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.signing.shortcode import (
    ALPHABET,
    MAX_LENGTH,
    MAX_TICKET_ID,
    grouped,
    normalise,
    parse_short_code,
    short_code,
)

ids = st.integers(0, MAX_TICKET_ID)


def test_alphabet_has_no_look_alikes():
    assert len(ALPHABET) == len(set(ALPHABET)) == 32
    assert not set("01IO").intersection(ALPHABET)


@given(ids)
def test_round_trip_and_length(ticket_id):
    code = short_code(ticket_id)
    assert 6 <= len(code) <= MAX_LENGTH
    assert set(code) <= set(ALPHABET)
    assert parse_short_code(code) == ticket_id


@given(ids, st.data())
def test_any_case_spaces_and_dashes(ticket_id, data):
    code = grouped(short_code(ticket_id))
    typed = "".join(
        data.draw(st.sampled_from([c.lower(), c.upper()])) + data.draw(st.sampled_from(["", " ", "-", " - "]))
        for c in code
    )
    assert parse_short_code("  " + typed) == ticket_id


@given(ids, st.data())
def test_every_single_wrong_character_is_caught(ticket_id, data):
    code = short_code(ticket_id)
    i = data.draw(st.integers(0, len(code) - 1))
    wrong = data.draw(st.sampled_from([c for c in ALPHABET if c != code[i]]))
    assert parse_short_code(code[:i] + wrong + code[i + 1 :]) is None


@given(ids, st.data())
def test_every_swap_of_neighbours_is_caught(ticket_id, data):
    code = short_code(ticket_id)
    i = data.draw(st.integers(0, len(code) - 2))
    swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
    if swapped != code:
        assert parse_short_code(swapped) is None


@given(st.text(max_size=60))
def test_never_raises_and_only_names_a_ticket_it_spells(text):
    ticket_id = parse_short_code(text)
    if ticket_id is not None:
        assert short_code(ticket_id) == normalise(text)


@pytest.mark.parametrize("bad", [-1, MAX_TICKET_ID + 1, True, 1.0, "7"])
def test_ids_without_a_short_code(bad):
    with pytest.raises(ValueError):
        short_code(bad)


def test_a_ticket_text_is_not_a_short_code():
    assert parse_short_code("TG1:ABC") is None
    assert parse_short_code("") is None
    assert parse_short_code("22-22") is None  # too short
