"""One rounding rule for printed quality values."""

from __future__ import annotations

import math

from aikd_cli.tasks.report.histogram import bins_of, fmt
from aikd_cli.utils.numbers import fmt_quality, fmt_range


def test_four_decimals_everywhere():
    assert fmt_quality(0.7781) == "0.7781" and fmt_quality(0.778) == "0.7780" and fmt_quality(18.00493) == "18.0049"
    assert fmt(0.778) == fmt_quality(0.778)  # the report's numbers are the terminal's
    assert fmt_quality(math.nan) == "n/a"


def test_a_range_never_prints_as_one_value():
    assert fmt_range(0.77621, 0.77624) == ("0.77621", "0.77624")
    assert fmt_range(0.2, 0.3) == ("0.2000", "0.3000")
    assert fmt_range(0.5, 0.5) == ("0.5000", "0.5000")
    import numpy as np

    values = np.sort(np.random.default_rng(0).normal(0.7762, 1e-5, 500))
    for b in bins_of(values, 40):
        lo, hi = fmt_range(b.lo, b.hi)
        assert lo != hi
