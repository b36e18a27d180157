"""Which faces a big report shows: only those a person looks at.

Nobody looks at 100,000 thumbnails. A reviewer looks at the worst faces (what to remove), the best
(what the model likes), the faces either side of the threshold (where the decision is made), a
sample of each tenth of the distribution (what a typical face of that quality looks like) and
samples of the worst sub-folders (which identities are in trouble). Samples are spread evenly over
the ranks of their band, lowest and highest included, so they are a function of the scores alone:
the same rows in another order, or a report built with other worker counts, show the same faces.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aikd_cli.tasks.report.stats import FaceOrder, GroupStats

DECILES = 10


@dataclass
class Decile:
    number: int  # 1 (lowest tenth) to 10
    start: int  # positions [start, stop) in the order of scored faces
    stop: int
    rows: np.ndarray  # the sample, lowest quality first


@dataclass
class Selection:
    lowest: np.ndarray  # the ``show`` lowest-quality faces, lowest first
    highest: np.ndarray  # the ``show`` highest, highest first
    around: np.ndarray  # ``show`` faces either side of the threshold, lowest first (empty: none)
    below_around: int  # how many of ``around`` lie below the threshold
    deciles: list[Decile] = field(default_factory=list)
    folders: list[tuple[GroupStats, np.ndarray]] = field(default_factory=list)
    unscored: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def rows(self) -> np.ndarray:
        """Every row shown with a picture, once."""
        parts = [self.lowest, self.highest, self.around, self.unscored]
        parts += [d.rows for d in self.deciles] + [rows for _, rows in self.folders]
        return np.unique(np.concatenate(parts)).astype(np.int64)


def spread(length: int, count: int) -> np.ndarray:
    """``count`` distinct positions spread evenly over ``range(length)``, both ends included."""
    count = min(count, length)
    if count <= 0:
        return np.zeros(0, np.int64)
    return np.rint(np.linspace(0, length - 1, count)).astype(np.int64)


def decile_bounds(scored: int) -> np.ndarray:
    """Positions where each tenth of the ``scored`` faces starts (11 values, the last = ``scored``)."""
    return np.arange(DECILES + 1, dtype=np.int64) * scored // DECILES


def select_faces(
    order: FaceOrder,
    *,
    below: int | None,
    groups: list[GroupStats] | None,
    show: int,
    sample: int,
    folders: int,
) -> Selection:
    """The faces of a sampled report. ``below``: faces under the threshold (None: no threshold);
    ``show``: faces in each of lowest, highest and around the threshold; ``sample``: faces per
    decile and per sub-folder; ``folders``: sub-folders sampled, lowest median first."""
    scored = order.faces[: order.scored]
    n = len(scored)
    around = np.zeros(0, np.int64)
    below_around = 0
    if below is not None and n:
        start = int(np.clip(below - show // 2, 0, max(0, n - show)))
        around = scored[start : start + show]
        below_around = max(0, below - start)
    bounds = decile_bounds(n)
    deciles = [
        Decile(d + 1, int(lo), int(hi), scored[lo + spread(int(hi - lo), sample)])
        for d, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
        if hi > lo
    ]
    sampled = [g for g in groups or [] if len(g.ranked)][:folders]
    return Selection(
        lowest=scored[:show],
        highest=scored[::-1][:show],
        around=around,
        below_around=min(below_around, len(around)),
        deciles=deciles,
        folders=[(g, g.ranked[spread(len(g.ranked), sample)]) for g in sampled],
        unscored=order.faces[order.scored :][:show],
    )
