"""How quality values are printed, everywhere: four decimals (0.7781, 18.0049), and a range whose
two ends would print alike gets the decimals it needs to tell them apart ("0.77621 to 0.77624",
never "0.7762 to 0.7762"). Tables, the terminal summary and the HTML report use these two
functions only, so the same value never reads 0.778 in one place and 0.7781 in another. Counts
read one way too: :func:`plural`."""

from __future__ import annotations

import math

DECIMALS = 4
MAX_DECIMALS = 9


def plural(count: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1,000 pairs``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def fmt_quality(value: float, decimals: int = DECIMALS) -> str:
    return f"{value:.{decimals}f}" if math.isfinite(value) else "n/a"


def fmt_range(lo: float, hi: float) -> tuple[str, str]:
    """Both ends with the same number of decimals, at least four, enough to differ when they do."""
    decimals = DECIMALS
    while lo != hi and decimals < MAX_DECIMALS and fmt_quality(lo, decimals) == fmt_quality(hi, decimals):
        decimals += 1
    return fmt_quality(lo, decimals), fmt_quality(hi, decimals)
