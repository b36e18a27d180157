"""What a report shows, decided before any image is read: the statistics (from every row), the
faces with pictures (every face of a small set; the samples of :mod:`.select` for a big one), and
the images to read for them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from aikd_cli.faces.pipeline import UNREADABLE
from aikd_cli.tasks.report.context import Report
from aikd_cli.tasks.report.crops import crop_name
from aikd_cli.tasks.report.data import ScoreRow, ScoreTable
from aikd_cli.tasks.report.options import ReportOptions
from aikd_cli.tasks.report.sections import FAILURES_INLINE, GROUPS_INLINE
from aikd_cli.tasks.report.select import select_faces
from aikd_cli.tasks.report.stats import face_order, group_stats, quality_stats, status_counts
from aikd_cli.tasks.report.thumbnails import FaceJob, SourceJob

#: Sets with at most this many faces get the grid of every face by default.
GRID_LIMIT = 2000


def plan_report(table: ScoreTable, html: Path, files_name: str, layout: ReportOptions) -> Report:
    """Statistics from every row, and the faces to show with pictures."""
    order = face_order(table)
    stats = quality_stats(table.quality[order.faces[: order.scored]], layout.threshold)
    by_folder = layout.group_by_folder
    if by_folder is None:
        by_folder = len(table.folders[1]) >= 2
    groups = group_stats(table, order, layout.threshold) if by_folder else None
    grid = len(order.faces) <= GRID_LIMIT if layout.grid is None else layout.grid
    selection = None
    if not grid:
        selection = select_faces(
            order,
            below=stats.below,
            groups=groups,
            show=layout.show,
            sample=layout.sample,
            folders=layout.folders,
        )
    return Report(
        title=layout.title or f"Face quality report: {table.csv_path.name}",
        csv_path=table.csv_path,
        html_path=html,
        files_name=files_name,
        meta=table.meta,
        meta_note=table.meta_note,
        created=datetime.now().astimezone().isoformat(sep=" ", timespec="seconds"),
        table=table,
        order=order,
        counts=status_counts(table),
        stats=stats,
        threshold=layout.threshold,
        groups=groups,
        per_page=layout.per_page,
        selection=selection,
    )


def pictured(report: Report, show: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows shown with a thumbnail (faces) and rows shown with their photo (failures)."""
    if report.grid:
        faces = report.order.faces
    else:
        worst = [g.worst for g in (report.groups or [])[:GROUPS_INLINE] if g.worst is not None]
        faces = np.union1d(report.selection.rows(), np.asarray(worst, dtype=np.int64))
    failures = report.order.failures[: FAILURES_INLINE if report.grid else show]
    return faces, failures


def plan_jobs(rows: list[ScoreRow], faces: set[int], crops_dir: Path | None) -> list[SourceJob]:
    """One job per image, in the order given: its faces to show (from a saved crop when there is
    one, else re-aligned from the landmarks) and whether its photo is shown. Rows already
    unreadable at scoring time are skipped."""
    jobs: dict[str, SourceJob] = {}
    for row in rows:
        if not row.source or row.status == UNREADABLE:
            continue
        job = jobs.get(row.source)
        if job is None:
            job = jobs[row.source] = SourceJob(len(jobs), row.source)
        crop = None
        if crops_dir is not None and row.face is not None:
            crop = str(crops_dir / crop_name(row.path, row.face, row.faces_in_photo > 1))
        if row.index in faces and row.is_face and (row.landmarks is not None or crop is not None):
            job.faces.append(FaceJob(row.index, row.landmarks, crop, row.path, row.face))
        else:  # a failure, or a face with nothing to crop from: show the photo
            job.preview = True
    return list(jobs.values())


def embed_default(faces: int, jobs: int, per_page: int) -> bool:
    """One self-contained file when all pictures fit on one page."""
    return faces <= per_page and jobs <= per_page
