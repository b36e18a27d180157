"""Range checks of numeric options, shared by the CLI and Python callers.

A threshold of ``nan`` compares false with everything, and ``inf`` or a size of 100,000 only fails
after minutes of work or gigabytes of memory; every numeric option is checked here first and
refused in one line that names the option and the allowed range.
"""

from __future__ import annotations

import math

from aikd_cli.errors import AikdError

#: Upper bounds that keep a typo from exhausting memory or processes.
MAX_BATCH = 65_536
MAX_WORKERS = 256


def check_number(option: str, value: float | int | None, low: float | None = None, high: float | None = None,
                 *, low_open: bool = False) -> None:
    """``value`` (``None``: not given) must be a finite number in ``[low, high]`` (``(low, high]``
    with ``low_open``)."""
    if value is None:
        return
    ok = isinstance(value, (int, float)) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        left = "(" if low_open else "["
        span = f" in {left}{_fmt(low)}, {_fmt(high)}]" if low is not None and high is not None else (
            f" > {_fmt(low)}" if low_open else f" >= {_fmt(low)}" if low is not None else
            f" <= {_fmt(high)}" if high is not None else "")
        kind = "an integer" if isinstance(value, int) else "a finite number"
        raise AikdError(f"{option} must be {kind}{span} (got {value})")


def _fmt(v: float | None) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:g}"
