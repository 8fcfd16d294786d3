"""The supervisor PIN hash (common/pin.py): what the hub stores and a gate checks offline."""

import pytest

from common.pin import check_pin, hash_pin


def test_a_pin_checks_against_its_hash_only():
    stored = hash_pin("4821")
    assert check_pin("4821", stored)
    assert not check_pin("4822", stored)
    assert not check_pin("4821", hash_pin("9999"))
    assert hash_pin("4821") != stored, "salted: the same PIN hashes differently"
    assert "4821" not in stored


@pytest.mark.parametrize("bad", ["123", "1234567890123", "12a4", "١٢٣٤", "", None, 1234])
def test_only_4_to_12_ascii_digits(bad):
    with pytest.raises(ValueError):
        hash_pin(bad)
    assert not check_pin(bad, hash_pin("1234"))


@pytest.mark.parametrize("stored", [None, "", "scrypt$1$2", "md5$1$1$1$AA==$AA==", "scrypt$16384$8$1$!!$AA=="])
def test_no_or_a_broken_hash_never_admits(stored):
    assert not check_pin("1234", stored)
