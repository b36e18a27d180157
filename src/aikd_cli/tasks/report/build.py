"""Build a report from a score CSV: read, sort, render thumbnails (streamed, in parallel), write pages.

Layout on disk: ``report.html`` (summary, histogram, groups, the lowest-quality page of faces,
failures) plus, unless everything is embedded, a sibling folder ``report_files/`` with the
thumbnails, the previews and one static HTML page per further page of faces. The folder is built
under a temporary name and swapped in whole, then the main page is replaced atomically, so an
interrupted build leaves the previous report intact.
"""

from __future__ import annotations

import base64
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import (
    Progress,
)

from aikd_cli.errors import AikdError
from aikd_cli.tasks.report.context import Images, Report, page_file
from aikd_cli.tasks.report.data import ScoreRow, ScoreTable, read_scores
from aikd_cli.tasks.report.render import failures_page, grid_page, main_page
from aikd_cli.tasks.report.sections import FAILURES_INLINE
from aikd_cli.tasks.report.stats import group_stats, quality_stats, status_counts
from aikd_cli.tasks.report.thumbnails import SourceJob, SourceResult, preview_name, render_sources, thumb_name
from aikd_cli.tasks.score import OK, UNREADABLE
from aikd_cli.utils.atomic import atomic_open, replace_dir
from aikd_cli.utils.progress import task_progress

DEFAULT_PER_PAGE = 240
MARKER = ".aikd-report"  # marks a files folder as ours, so a rebuild may replace it


@dataclass
class ReportSummary:
    html: Path
    files_dir: Path | None  # None when everything is embedded in the page
    rows: int
    images: int  # distinct images the report had to read
    faces: int  # rows with status ok
    scored: int  # faces with a finite quality
    failures: dict[str, int]
    missing_images: int  # images unreadable now (moved or deleted since scoring)
    pages: int
    threshold: float | None
    below: int | None
    embedded: bool
    seconds: float
    notes: list[str] = field(default_factory=list)


def default_output(scores_csv: str | Path) -> Path:
    """``scores.csv`` -> ``scores.html`` next to it."""
    return Path(scores_csv).with_suffix(".html")


def files_dir_of(html: Path) -> Path:
    return html.with_name(html.stem + "_files")


def _sort_key(row: ScoreRow) -> tuple:
    return (
        not row.scored,
        row.quality if row.scored else 0.0,
        row.path,
        row.face if row.face is not None else -1,
    )


def plan_jobs(rows: list[ScoreRow]) -> list[SourceJob]:
    """One job per image to read, in CSV order: faces to crop (ok rows with landmarks) and a
    preview for every row that has an image (rows already unreadable at scoring time are skipped)."""
    jobs: dict[str, SourceJob] = {}
    for row in rows:
        if not row.source or row.status == UNREADABLE:
            continue
        job = jobs.get(row.source)
        if job is None:
            job = jobs[row.source] = SourceJob(len(jobs), row.source)
        if row.is_face and row.landmarks is not None:
            job.faces.append((row.index, row.landmarks))
    return list(jobs.values())


def _data_uri(data: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def _check_files_dir(files_dir: Path) -> None:
    if files_dir.exists() and not (files_dir / MARKER).exists():
        raise AikdError(
            f"{files_dir} exists and was not made by aikd report: refusing to replace it",
            hint="choose another output name with -o, or move that folder",
        )


def _shareable(path: Path, mode: int) -> None:
    """Undo mkstemp/mkdtemp's owner-only permissions: a report is meant to be shared."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


def _write_text(path: Path, text: str) -> None:
    with atomic_open(path, "w", newline="\n") as f:
        f.write(text)


def _publish(build: Path, files_dir: Path) -> bool:
    """Swap the freshly built folder in; returns whether the report has a files folder."""
    if not any(build.iterdir()):
        build.rmdir()
        if files_dir.exists():  # a stale folder of an earlier build of this report
            shutil.rmtree(files_dir)
        return False
    (build / MARKER).write_text(
        "files of an aikd report; rebuilt in full by `aikd report`\n", encoding="utf-8"
    )
    replace_dir(build, files_dir)
    return True




def _plan(
    table: ScoreTable,
    html: Path,
    jobs: list[SourceJob],
    *,
    threshold: float | None,
    per_page: int,
    group_by_folder: bool | None,
    embed: bool | None,
    title: str | None,
) -> Report:
    """Everything the pages show except the pictures: sorted faces, failures, statistics, groups."""
    rows = table.rows
    faces = sorted((r for r in rows if r.is_face), key=_sort_key)
    scored = np.array([r.quality for r in faces if r.scored], dtype=np.float64)
    if group_by_folder is None:
        group_by_folder = len({r.folder for r in rows}) >= 2
    if embed is None:
        embed = len(faces) <= per_page and len(jobs) <= per_page
    return Report(
        title=title or f"Face quality report: {table.csv_path.name}",
        csv_path=table.csv_path,
        html_path=html,
        files_name=files_dir_of(html).name,
        meta=table.meta,
        meta_note=table.meta_note,
        created=datetime.now().astimezone().isoformat(sep=" ", timespec="seconds"),
        rows=len(rows),
        faces=faces,
        failures=sorted((r for r in rows if not r.is_face), key=lambda r: (r.status, r.path)),
        counts=status_counts(rows),
        stats=quality_stats(scored, threshold),
        threshold=threshold,
        groups=group_stats(rows, threshold) if group_by_folder else None,
        per_page=per_page,
        images=Images(embed=embed, keys={job.path: job.key for job in jobs}),
    )


def _write_files(report: Report, jobs: list[SourceJob], build: Path, workers: int, bar: Progress) -> None:
    """Thumbnails and previews (into ``build``, or into ``report.images`` when embedding), then the
    further grid pages and the full failure list."""
    images = report.images

    def collect(result: SourceResult) -> None:
        if result.error is not None:
            images.errors[result.key] = result.error
        else:
            images.sizes[result.key] = result.size
            if images.embed:
                images.previews[result.key] = _data_uri(result.preview)
                images.thumbs.update({i: _data_uri(b) for i, b in result.thumbs.items()})
            else:
                images.previews[result.key] = preview_name(result.key)
                images.thumbs.update({i: thumb_name(i) for i, _ in jobs[result.key].faces})
        bar.update(images_task, advance=1, faces=f"{len(images.thumbs):,} faces")

    with bar:
        images_task = bar.add_task("Reading images", total=len(jobs), faces="")
        render_sources(jobs, None if images.embed else build, workers=workers, on_result=collect)
        if report.pages > 1:
            page_task = bar.add_task("Writing pages", total=report.pages - 1, faces="")
            for page in range(2, report.pages + 1):
                (build / page_file(page)).write_text(grid_page(report, page), encoding="utf-8")
                bar.advance(page_task)
        if len(report.failures) > FAILURES_INLINE:
            (build / "failures.html").write_text(failures_page(report), encoding="utf-8")


def build_report(
    scores_csv: str | Path,
    output_html: str | Path | None = None,
    *,
    threshold: float | None = None,
    per_page: int = DEFAULT_PER_PAGE,
    group_by_folder: bool | None = None,
    embed: bool | None = None,
    workers: int = 0,
    title: str | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> ReportSummary:
    """Write an HTML quality report of ``scores_csv`` (an ``aikd score`` CSV) to ``output_html``.

    ``group_by_folder=None`` adds per sub-folder statistics when the images span two or more
    folders; ``embed=None`` embeds the pictures (one self-contained file) when all faces fit on one
    page, else writes them to the sibling ``<name>_files/`` folder; ``workers`` processes decode
    images in parallel (0: in this process).
    """
    started = time.perf_counter()
    csv_path = Path(scores_csv)
    html = Path(output_html) if output_html is not None else default_output(csv_path)
    if per_page < 1:
        raise AikdError(f"--per-page must be at least 1 (got {per_page})")
    if threshold is not None and not math.isfinite(threshold):
        raise AikdError(f"--threshold must be a finite number (got {threshold})")
    if html.resolve() == csv_path.resolve():
        raise AikdError(
            f"{html}: the report would overwrite the score CSV", hint="choose another name with -o"
        )
    table = read_scores(csv_path)
    html.parent.mkdir(parents=True, exist_ok=True)
    files_dir = files_dir_of(html)
    _check_files_dir(files_dir)
    jobs = plan_jobs(table.rows)
    report = _plan(
        table,
        html,
        jobs,
        threshold=threshold,
        per_page=per_page,
        group_by_folder=group_by_folder,
        embed=embed,
        title=title,
    )
    build = Path(tempfile.mkdtemp(dir=html.parent, prefix=f".{files_dir.name}.partial-"))
    _shareable(build, 0o777)
    try:
        _write_files(
            report,
            jobs,
            build,
            workers,
            task_progress(console or Console(stderr=True), enabled=progress, field="faces"),
        )
        has_files = _publish(build, files_dir)
    finally:
        if build.exists():
            shutil.rmtree(build, ignore_errors=True)
    _write_text(html, main_page(report))

    rows, faces, stats, images = table.rows, report.faces, report.stats, report.images
    notes = []
    if images.errors:
        notes.append(
            f"{len(images.errors):,} images could not be read now (moved or deleted?): placeholders shown"
        )
    if table.meta_note:
        notes.append(f"model and detector unknown: {table.meta_note}")
    if len(faces) > stats.count:
        notes.append(f"{len(faces) - stats.count:,} faces have no valid quality (NaN)")
    return ReportSummary(
        html=html,
        files_dir=files_dir if has_files else None,
        rows=len(rows),
        images=len(jobs),
        faces=len(faces),
        scored=stats.count,
        failures={s: n for s, n in sorted(report.counts.items()) if s != OK},
        missing_images=len(images.errors),
        pages=report.pages,
        threshold=threshold,
        below=stats.below,
        embedded=images.embed,
        seconds=time.perf_counter() - started,
        notes=notes,
    )
