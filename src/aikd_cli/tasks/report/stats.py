"""The numbers a report shows: status counts, quality percentiles, share below a threshold, per group."""

from __future__ import annotations

import posixpath
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from aikd_cli.tasks.report.data import ScoreRow

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

    @property
    def below_share(self) -> float | None:
        return None if self.below is None or not self.count else self.below / self.count


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


def status_counts(rows: list[ScoreRow]) -> Counter[str]:
    return Counter(r.status for r in rows)


@dataclass
class GroupStats:
    name: str
    rows: int
    failures: int  # rows whose status is not ok
    unscored: int  # ok rows without a finite quality
    quality: QualityStats
    worst: ScoreRow | None  # lowest-quality face of the group


def _mixed(folders) -> bool:
    """Absolute and relative folders together (commonpath refuses those)."""
    return len({f.startswith("/") for f in folders}) > 1


def group_stats(rows: list[ScoreRow], threshold: float | None) -> list[GroupStats]:
    """Per sub-folder statistics, worst median first (groups without any score last)."""
    members: dict[str, list[ScoreRow]] = defaultdict(list)
    for r in rows:
        members[r.folder].append(r)
    # show "alice", not "../../data/faces/alice": names relative to the folders' common parent
    common = posixpath.commonpath(list(members)) if len(members) > 1 and not _mixed(members) else ""
    groups = []
    for name, group in members.items():
        scored = [r for r in group if r.scored]
        groups.append(
            GroupStats(
                name=posixpath.relpath(name, common) if common else name,
                rows=len(group),
                failures=sum(not r.is_face for r in group),
                unscored=sum(r.is_face and not r.scored for r in group),
                quality=quality_stats(np.array([r.quality for r in scored]), threshold),
                worst=min(scored, key=lambda r: r.quality) if scored else None,
            )
        )
    groups.sort(key=lambda g: (g.quality.count == 0, g.quality.median if g.quality.count else 0.0, g.name))
    return groups
