"""Build a report from a score CSV: read, compute, pick the faces to show, render their thumbnails
(streamed, in parallel), write pages.

Layout on disk: ``report.html`` (summary, histogram, the lowest-quality page of faces or the sampled
sections, failures, groups) plus, unless everything is embedded, a sibling folder ``report_files/``
with the thumbnails, the previews, one static HTML page per further page of faces and the full
failure and sub-folder lists. The folder is built under a temporary name and swapped in whole, then
the main page is replaced atomically, so an interrupted build leaves the previous report intact.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aikd_cli.errors import AikdError
from aikd_cli.faces.pipeline import OK
from aikd_cli.tasks.report.context import Images, Report, page_file
from aikd_cli.tasks.report.data import ScoreTable, read_scores
from aikd_cli.tasks.report.options import ReportOptions
from aikd_cli.tasks.report.plan import embed_default, pictured, plan_jobs, plan_report
from aikd_cli.tasks.report.render import failures_page, folders_page, grid_page, main_page
from aikd_cli.tasks.report.sections import FAILURES_INLINE, GROUPS_INLINE
from aikd_cli.tasks.report.thumbnails import SourceJob, SourceResult, preview_name, render_sources, thumb_name
from aikd_cli.utils.atomic import atomic_open, replace_dir
from aikd_cli.utils.csvfiles import resolve_csv_paths
from aikd_cli.utils.numbers import plural
from aikd_cli.utils.outputs import Output, check_listed, check_outputs, guard_outputs, local_paths
from aikd_cli.utils.progress import Progress

MARKER = ".aikd-report"  # marks a files folder as ours, so a rebuild may replace it


@dataclass
class ReportResult:
    html: Path
    files_dir: Path | None  # None when everything is embedded in the page
    rows: int
    images: int  # distinct images the report had to read (saved crops or originals)
    decoded: int  # originals decoded
    from_crops: int  # thumbnails taken from saved crops
    faces: int  # rows with status ok
    pictured: int  # faces shown with a thumbnail
    scored: int  # faces with a finite quality
    failures: dict[str, int]
    missing_images: int  # images unreadable now (moved or deleted since scoring)
    pages: int
    grid: bool  # every face on grid pages (else: samples)
    threshold: float | None
    below: int | None
    embedded: bool
    seconds: float
    notes: list[str] = field(default_factory=list)


def files_dir_of(html: Path) -> Path:
    return html.with_name(html.stem + "_files")


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


def _write_files(report: Report, jobs: list[SourceJob], build: Path, workers: int, progress: Progress | None) -> None:
    """Thumbnails and previews (into ``build``, or into ``report.images`` when embedding), then the
    further grid pages and the full failure and sub-folder lists."""
    images = report.images
    read = 0

    def collect(result: SourceResult) -> None:
        nonlocal read
        if result.error is not None:
            images.errors[result.key] = result.error
        if result.decoded:
            images.sizes[result.key] = result.size
            images.decoded += 1
            images.previews[result.key] = (
                _data_uri(result.preview) if images.embed else preview_name(result.key)
            )
        images.from_crops += result.from_crops
        if images.embed:
            images.thumbs.update({i: _data_uri(b) for i, b in result.thumbs.items()})
        else:
            images.thumbs.update({i: thumb_name(i) for i in result.faces})
        read += 1
        if progress:
            progress(read, len(jobs), "reading images")

    if progress:
        progress(0, len(jobs), "reading images")
    render_sources(jobs, None if images.embed else build, workers=workers, on_result=collect)
    if report.pages > 1:
        for page in range(2, report.pages + 1):
            (build / page_file(page)).write_text(grid_page(report, page), encoding="utf-8")
            if progress:
                progress(page - 1, report.pages - 1, "writing pages")
    if report.failures > FAILURES_INLINE:
        (build / "failures.html").write_text(failures_page(report), encoding="utf-8")
    if len(report.groups or []) > GROUPS_INLINE:
        (build / "folders.html").write_text(folders_page(report), encoding="utf-8")


def report_outputs(html: Path, option: str = "--output") -> list[Output]:
    """The page and its files folder (replaced as a whole by each build)."""
    return [Output(html, option), Output(files_dir_of(html), option, folder=True, whole=True, lock=False)]


def check_report_output(scores_csv: str | Path, html: str | Path, inputs: list[str] = ()) -> None:
    """Refuse a report page (``aikd score --report``, checked before scoring) that cannot be
    written, that would replace an input, or that is the score CSV ``--output`` itself."""
    check_outputs([Output(Path(scores_csv), "--output", lock=False), *report_outputs(Path(html), "--report")],
                  local_paths(*inputs))
    _check_files_dir(files_dir_of(Path(html)))


def _remove_stale_builds(html: Path, files_dir: Path) -> None:
    """Temporary folders of earlier builds of this report that were killed (the lock on the page
    is held, so no other build of it is running)."""
    for old in html.parent.glob(f".{files_dir.name}.partial-*"):
        shutil.rmtree(old, ignore_errors=True)


def run(options: ReportOptions, progress: Progress | None = None) -> ReportResult:
    """Write an HTML quality report of ``options.scores`` (an ``aikd score`` CSV).

    Sets of up to ``GRID_LIMIT`` faces get every face on paged grid pages; bigger ones the lowest,
    highest, threshold, per-decile and per-folder samples (``grid=True``/``False`` forces either).

    >>> from aikd_cli import ReportOptions, report
    >>> result = report(ReportOptions(scores="scores.csv", threshold=0.3))  # doctest: +SKIP
    """
    started = time.perf_counter()
    options.validate()
    outputs = report_outputs(options.output)
    with guard_outputs(outputs, local_paths(options.scores, options.crops or None)):
        _check_files_dir(files_dir_of(options.output))
        table = read_scores(options.scores)
        # nor may the page replace a photo it shows
        check_listed(outputs, resolve_csv_paths(table.distinct_paths.to_pylist(), options.scores.parent))
        return _build(options, table, progress, started)


def _build(options: ReportOptions, table: ScoreTable, progress: Progress | None, started: float) -> ReportResult:
    html, layout, crops = options.output, options, options.crops
    html.parent.mkdir(parents=True, exist_ok=True)
    files_dir = files_dir_of(html)
    _remove_stale_builds(html, files_dir)
    report = plan_report(table, html, files_dir.name, layout)
    faces, failures = pictured(report, layout.show)
    report.load(np.concatenate([faces, failures]))
    crops_dir = table.crops_dir if crops is None else (Path(crops) if crops else None)
    rows = [report.row(i) for i in np.concatenate([faces, failures])]
    jobs = plan_jobs(rows, set(faces.tolist()), crops_dir)
    embed = layout.embed
    report.images = Images(
        embed=embed_default(len(faces), len(jobs), layout.per_page) if embed is None else embed,
        keys={job.path: job.key for job in jobs},
    )
    build = Path(tempfile.mkdtemp(dir=html.parent, prefix=f".{files_dir.name}.partial-"))
    _shareable(build, 0o777)
    try:
        _write_files(report, jobs, build, options.workers, progress)
        has_files = _publish(build, files_dir)
    finally:
        if build.exists():
            shutil.rmtree(build, ignore_errors=True)
    _write_text(html, main_page(report))

    stats, images = report.stats, report.images
    notes = []
    if images.errors:
        notes.append(
            f"{plural(len(images.errors), 'image')} could not be read now (moved or deleted?): placeholders shown"
        )
    if table.meta_note:
        notes.append(f"model and detector unknown: {table.meta_note}")
    if report.faces > stats.count:
        notes.append(f"{plural(report.faces - stats.count, 'face')} without a valid quality (NaN)")
    return ReportResult(
        html=html,
        files_dir=files_dir if has_files else None,
        rows=report.rows,
        images=len(jobs),
        decoded=images.decoded,
        from_crops=images.from_crops,
        faces=report.faces,
        pictured=len(images.thumbs),
        scored=stats.count,
        failures={s: n for s, n in sorted(report.counts.items()) if s != OK},
        missing_images=len(images.errors),
        pages=report.pages,
        grid=report.grid,
        threshold=layout.threshold,
        below=stats.below,
        embedded=images.embed,
        seconds=time.perf_counter() - started,
        notes=notes,
    )
