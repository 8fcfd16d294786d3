"""The benchmarks' one percentile definition (bench/stats.py): nearest rank."""

from __future__ import annotations

import statistics

import pytest

from bench.stats import percentile, percentile_ms


def test_nearest_rank_on_known_lists():
    one_to_twenty = list(range(20, 0, -1))  # unsorted on purpose
    assert percentile(one_to_twenty, 95) == 19  # rank ceil(0.95 * 20) = 19
    assert percentile(one_to_twenty, 96) == 20  # rank ceil(19.2) = 20
    assert percentile(one_to_twenty, 50) == 10
    assert percentile([1, 2, 3, 4], 50) == 2  # the lower middle value, not the interpolated 2.5
    assert percentile([1, 2, 3, 4], 51) == 3
    assert percentile([10, 20, 30, 40, 1000], 90) == 1000  # rank ceil(4.5) = 5: a measured value, never interpolated
    assert percentile(list(range(1, 101)), 99) == 99


def test_ends_and_single_value():
    values = [3.5, 1.25, 9.0]
    assert percentile(values, 0) == 1.25
    assert percentile(values, 100) == 9.0
    assert percentile([7.0], 50) == percentile([7.0], 99) == 7.0


def test_no_values_is_an_error_not_a_zero():
    with pytest.raises(statistics.StatisticsError, match="no values"):
        percentile([], 95)
    with pytest.raises(statistics.StatisticsError):
        percentile_ms([], 50)


@pytest.mark.parametrize("q", [-1, 100.5, 950])
def test_q_outside_0_to_100_is_an_error(q):
    with pytest.raises(ValueError, match="0..100"):
        percentile([1.0, 2.0], q)


def test_percentile_ms_converts_seconds_and_rounds():
    assert percentile_ms([0.001, 0.0021234, 0.5], 50) == 2.12
    assert percentile_ms([0.001, 0.0021234, 0.5], 50, digits=3) == 2.123
