"""The numbers a report shows, from all rows and without a Python loop over them: status counts,
quality percentiles, the share below a threshold, the order of faces, and the same per sub-folder.

Every order is total ((quality, path, face) for faces, (status, path, face) for failures), so the
statistics and the faces a report picks depend on the rows, never on their order in the CSV.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from aikd_cli.tasks.report.data import ScoreTable

PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)


@dataclass
class QualityStats:
    """Statistics of the finite qualities of a set of faces (``count == 0``: all fields NaN/None)."""

    count: int
    mean: float = float("nan")
    std: float = float("nan")
    min: float = float("nan")
    max: float = float("nan")
    percentiles: dict[int, float] = field(default_factory=dict)
    below: int | None = None  # faces strictly below the threshold (None without a threshold)

    @property
    def median(self) -> float:
        return self.percentiles.get(50, float("nan"))


def quality_stats(values: np.ndarray, threshold: float | None = None) -> QualityStats:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not values.size:
        return QualityStats(0, below=None if threshold is None else 0)
    pct = np.percentile(values, PERCENTILES)
    return QualityStats(
        count=int(values.size),
        mean=float(values.mean()),
        std=float(values.std()),
        min=float(values.min()),
        max=float(values.max()),
        percentiles={p: float(v) for p, v in zip(PERCENTILES, pct, strict=True)},
        below=None if threshold is None else int((values < threshold).sum()),
    )


def status_counts(table: ScoreTable) -> Counter[str]:
    counts = np.bincount(table.status, minlength=len(table.statuses))
    return Counter({s: int(n) for s, n in zip(table.statuses, counts, strict=True) if n})


# ---- orders -------------------------------------------------------------------------------------
@dataclass
class FaceOrder:
    """Row indices of the ``ok`` rows: the scored ones by (quality, path, face), then the unscored
    ones by (path, face); and of the other rows by (status, path, face)."""

    faces: np.ndarray
    scored: int  # faces[:scored] have a finite quality
    failures: np.ndarray

    def rank(self, size: int) -> np.ndarray:
        """Position of every row in ``faces`` (-1 for rows that are not faces)."""
        where = np.full(size, -1, dtype=np.int64)
        where[self.faces] = np.arange(len(self.faces))
        return where


def face_order(table: ScoreTable) -> FaceOrder:
    scored = np.flatnonzero(table.scored)
    scored = scored[np.lexsort((table.face[scored], table.path_rank[scored], table.quality[scored]))]
    unscored = np.flatnonzero(table.ok & ~table.scored)
    unscored = unscored[np.lexsort((table.face[unscored], table.path_rank[unscored]))]
    failed = np.flatnonzero(~table.ok)
    status_rank = np.argsort(np.argsort(np.array(table.statuses, dtype=object)))
    status = status_rank[table.status[failed]]
    failed = failed[np.lexsort((table.face[failed], table.path_rank[failed], status))]
    return FaceOrder(np.concatenate([scored, unscored]), len(scored), failed)


# ---- per sub-folder -----------------------------------------------------------------------------
@dataclass
class GroupStats:
    name: str
    rows: int
    failures: int  # rows whose status is not ok
    unscored: int  # ok rows without a finite quality
    quality: QualityStats
    ranked: np.ndarray  # row indices of the group's scored faces, lowest quality first

    @property
    def worst(self) -> int | None:
        """The row of the group's lowest-quality face."""
        return int(self.ranked[0]) if len(self.ranked) else None


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's own linear interpolation (``np.percentile`` default), so group medians match it."""
    diff = b - a
    out = a + diff * t
    return np.where(t >= 0.5, b - diff * (1 - t), out)


def _group_percentiles(values: np.ndarray, start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """(groups, len(PERCENTILES)) percentiles of each sorted segment ``values[start:start+count]``."""
    q = np.asarray(PERCENTILES, dtype=np.float64)[None, :] / 100
    n = count[:, None].astype(np.float64)
    virtual = (n - 1) * q  # numpy's virtual index for the linear method
    lo = np.floor(virtual)
    top = virtual >= n - 1
    lo_i = np.where(top, n - 1, lo).astype(np.int64)
    hi_i = np.where(top, n - 1, lo + 1).astype(np.int64)
    base = start[:, None]
    return _lerp(values[base + lo_i], values[base + hi_i], virtual - lo)


def _mixed(folders) -> bool:
    """Absolute and relative folders together (commonpath refuses those)."""
    return len({f.startswith("/") for f in folders}) > 1


def group_stats(table: ScoreTable, order: FaceOrder, threshold: float | None) -> list[GroupStats]:
    """Per sub-folder statistics, worst median first (groups without any score last)."""
    codes, names = table.folders
    size = len(names)
    rows = np.bincount(codes, minlength=size)
    failures = np.bincount(codes[~table.ok], minlength=size)
    unscored = np.bincount(codes[table.ok & ~table.scored], minlength=size)
    ranked = order.faces[: order.scored]
    ranked = ranked[np.argsort(codes[ranked], kind="stable")]  # by group, each by quality
    values = table.quality[ranked]
    group = codes[ranked]
    count = np.bincount(group, minlength=size)
    start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    has = count > 0
    safe = np.maximum(count, 1)
    mean = np.bincount(group, weights=values, minlength=size) / safe
    std = np.sqrt(np.bincount(group, weights=(values - mean[group]) ** 2, minlength=size) / safe)
    pct = np.zeros((size, len(PERCENTILES)))
    pct[has] = _group_percentiles(values, start[has], count[has])
    below = None if threshold is None else np.bincount(group[values < threshold], minlength=size)
    # show "alice", not "../../data/faces/alice": names relative to the folders' common parent
    common = posixpath.commonpath(names) if size > 1 and not _mixed(names) else ""
    groups = []
    for g, name in enumerate(names):
        n = int(count[g])
        quality = QualityStats(n, below=None if below is None else int(below[g]))
        if n:
            quality.mean, quality.std = float(mean[g]), float(std[g])
            quality.min, quality.max = float(values[start[g]]), float(values[start[g] + n - 1])
            quality.percentiles = {p: float(v) for p, v in zip(PERCENTILES, pct[g], strict=True)}
        groups.append(
            GroupStats(
                name=posixpath.relpath(name, common) if common else name,
                rows=int(rows[g]),
                failures=int(failures[g]),
                unscored=int(unscored[g]),
                quality=quality,
                ranked=ranked[start[g] : start[g] + n],
            )
        )
    groups.sort(key=lambda g: (g.quality.count == 0, g.quality.median if g.quality.count else 0.0, g.name))
    return groups
