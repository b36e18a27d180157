"""The quality histogram as inline SVG: sharp at any zoom, no image file, no script.

Each bar links to the first face of its bin in the sorted grid, so a user clicks into the part of the
distribution they care about; the same numbers (and links) are given as a table for keyboards and
screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

import numpy as np

from aikd_cli.utils.numbers import fmt_quality, fmt_range

WIDTH, HEIGHT = 760, 270
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 34, 42


@dataclass
class Bin:
    lo: float
    hi: float
    count: int
    first: int  # position (in ascending order) of the bin's first value


def nice_step(span: float, target: int) -> float:
    """A 1, 2, 2.5 or 5 times a power of ten step giving about ``target`` intervals over ``span``."""
    raw = span / max(target, 1)
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    step = nice_step(hi - lo, target)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


fmt = fmt_quality  # the one rule for printed qualities (utils/numbers.py)


def bins_of(values: np.ndarray, count: int = 40, threshold: float | None = None) -> list[Bin]:
    """About ``count`` equal-width bins over the range of ``values`` (sorted ascending), widened to
    show ``threshold`` and shifted so that it falls on a bin edge: every bar is wholly below or
    wholly above it."""
    lo, hi = float(values[0]), float(values[-1])
    if threshold is not None:
        lo, hi = min(lo, threshold), max(hi, threshold)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / count
    if threshold is not None:
        lo = threshold - math.ceil((threshold - lo) / width - 1e-9) * width
        count = max(1, math.ceil((hi - lo) / width - 1e-9))
    edges = lo + width * np.arange(count + 1)
    starts = np.searchsorted(values, edges[:-1], side="left")
    ends = np.append(starts[1:], len(values))
    return [
        Bin(float(edges[i]), float(edges[i + 1]), int(ends[i] - starts[i]), int(starts[i]))
        for i in range(count)
    ]


def histogram_svg(
    bins: list[Bin],
    *,
    threshold: float | None,
    below: int | None,
    total: int,
    link: Callable[[int], str],
) -> str:
    """SVG markup; ``link(position)`` is the URL of the face at that sorted position."""
    lo, hi = bins[0].lo, bins[-1].hi
    top = max(b.count for b in bins) or 1
    y_ticks = ticks(0, top, 4)
    y_max = max(y_ticks[-1], top)
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(v: float) -> float:
        return LEFT + (v - lo) / (hi - lo) * pw

    def y(c: float) -> float:
        return TOP + ph - c / y_max * ph

    summary = "Histogram of {} quality scores from {} to {}.".format(total, *fmt_range(lo, hi))
    if threshold is not None and below is not None:
        summary += f" Threshold {fmt(threshold)}: {below} faces ({below / max(total, 1):.1%}) below it."
    parts = [
        f'<svg class="hist" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="hist-title hist-desc" '
        'xmlns="http://www.w3.org/2000/svg">',
        '<title id="hist-title">Quality distribution</title>',
        f'<desc id="hist-desc">{escape(summary)}</desc>',
    ]
    for t in y_ticks:
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>')
        parts.append(f'<text class="ylab" x="{LEFT - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    for t in ticks(lo, hi):
        parts.append(
            f'<line class="axis" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{TOP + ph}" y2="{TOP + ph + 5}"/>'
        )
        parts.append(f'<text x="{x(t):.1f}" y="{TOP + ph + 18}" text-anchor="middle">{escape(fmt(t))}</text>')
    for b in bins:
        if not b.count:
            continue
        cls = "bar low" if threshold is not None and b.hi <= threshold else "bar"
        x0, x1 = x(b.lo) + 0.5, x(b.hi) - 0.5
        tip = "{} to {}: {} faces".format(*fmt_range(b.lo, b.hi), b.count)
        # mouse shortcut only: the table below carries the same links for keyboards and screen readers
        parts.append(
            f'<a href="{escape(link(b.first))}" tabindex="-1" aria-hidden="true">'
            f'<rect class="{cls}" x="{x0:.1f}" y="{y(b.count):.1f}" width="{max(x1 - x0, 1):.1f}" '
            f'height="{TOP + ph - y(b.count):.1f}"><title>{escape(tip)}</title></rect></a>'
        )
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT + pw}" y1="{TOP + ph}" y2="{TOP + ph}"/>')
    parts.append(f'<text x="{LEFT + pw / 2}" y="{HEIGHT - 6}" text-anchor="middle">quality</text>')
    parts.append(
        f'<text x="14" y="{TOP + ph / 2}" text-anchor="middle" transform="rotate(-90 14 {TOP + ph / 2})">faces</text>'
    )
    if threshold is not None:
        tx = x(threshold)
        label = f"threshold {fmt(threshold)}"
        if below is not None:
            label += f" · {below / max(total, 1):.1%} below"
        anchor = "end" if tx > LEFT + pw * 0.7 else "start"
        dx = -6 if anchor == "end" else 6
        parts.append(f'<line class="thr" x1="{tx:.1f}" x2="{tx:.1f}" y1="{TOP - 10}" y2="{TOP + ph}"/>')
        parts.append(
            f'<text class="thr-label" x="{tx + dx:.1f}" y="{TOP - 14}" text-anchor="{anchor}">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
