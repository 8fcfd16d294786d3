"""The one percentile definition every benchmark reports: nearest rank.

The q-th percentile of n values is the smallest value with at least q % of the
values at or below it: the value of rank ceil(q / 100 * n) in sorted order
(rank 1 for q = 0). It is always one of the measured values, never an
interpolation between two, so "p95 = 4.93 s" means one admission really took
4.93 s. With an even count, p50 is the lower of the two middle values (not
the interpolated median, which the scripts report as "median" where they use it).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank q-th percentile (0 <= q <= 100) of ``values``.

    Raises ``statistics.StatisticsError`` (a ``ValueError``) for no values, as
    ``statistics.median`` does: a benchmark that measured nothing has no p95.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    if len(values) == 0:
        raise statistics.StatisticsError("percentile of no values")
    # numpy's "inverted_cdf" method is the nearest-rank definition
    return float(np.percentile(np.asarray(values, dtype=float), q, method="inverted_cdf"))


def percentile_ms(seconds: Sequence[float], q: float, digits: int = 2) -> float:
    """:func:`percentile` of durations measured in seconds, in milliseconds, rounded to ``digits``."""
    return round(percentile(seconds, q) * 1000.0, digits)
