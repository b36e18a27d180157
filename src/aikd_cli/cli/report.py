"""``aikd report``: a score CSV in, an HTML page to look at out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aikd_cli.cli.common import default_workers, err, escape, handle_errors, out, progress_bar


@handle_errors
def report(
    scores: Annotated[Path, typer.Argument(help="Score CSV written by `aikd score`.", show_default=False)],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="HTML file to write (default: the CSV's name with .html)."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold", "-t", help="Quality threshold to mark: histogram line, share below, flagged faces."
        ),
    ] = None,
    grid: Annotated[
        bool | None,
        typer.Option(
            "--grid/--no-grid",
            help="Every face on paged grid pages, or only the lowest, highest, threshold, per-decile and "
            "per-folder samples (default: the grid up to 2,000 faces).",
            show_default=False,
        ),
    ] = None,
    show: Annotated[
        int,
        typer.Option("--show", help="Faces shown lowest, highest and around the threshold (samples)."),
    ] = 48,
    sample: Annotated[
        int,
        typer.Option("--sample", help="Faces shown per quality decile and per sampled sub-folder."),
    ] = 8,
    folders: Annotated[
        int, typer.Option("--folders", help="Sub-folders shown with samples, lowest median first.")
    ] = 24,
    crops: Annotated[
        Path | None,
        typer.Option(
            "--crops",
            help="Folder of `aikd score --save-crops` to take the thumbnails from "
            "(default: the one the CSV's .meta.json names).",
        ),
    ] = None,
    no_crops: Annotated[
        bool,
        typer.Option(
            "--no-crops",
            help="Decode the originals even when saved crops exist (detail panels show the photo).",
        ),
    ] = False,
    per_page: Annotated[int, typer.Option("--per-page", help="Faces per page of the grid.")] = 240,
    by_folder: Annotated[
        bool | None,
        typer.Option(
            "--by-folder/--no-by-folder",
            help="Statistics per sub-folder, e.g. per identity (default: when the images span 2+ folders).",
            show_default=False,
        ),
    ] = None,
    embed: Annotated[
        bool | None,
        typer.Option(
            "--embed/--no-embed",
            help="Embed the pictures in the HTML (one file to mail) instead of a sibling _files/ folder "
            "(default: embed when all faces fit on one page).",
            show_default=False,
        ),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Page title.")] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            "-j",
            help="Threads reading images (0: in the main thread; at most 256).",
            rich_help_panel="Compute",
        ),
    ] = default_workers(),
) -> None:
    """Build an HTML quality report from a score CSV.

    Summary, histogram, failures and per-folder statistics from every row; the aligned faces from worst to best (up to 2,000 faces), or for bigger sets the lowest, highest and threshold faces and samples per quality decile and per sub-folder.

    The page needs no network and no JavaScript, and opens in any browser.

    Small sets give one self-contained file; larger ones a page plus a NAME_files/ folder beside it.

    [bold]Examples[/]

      aikd report scores.csv
      aikd report scores.csv -o review/report.html --threshold 0.35
      aikd report scores.csv --per-page 500 --no-by-folder -j 8
      aikd report scores.csv --embed -o mail-me.html
      aikd report million.csv -t 0.35 --show 96 --sample 16     # a big set: samples, not a grid
    """
    from aikd_cli.tasks.report import ReportOptions, run

    if crops is not None and no_crops:
        raise typer.BadParameter("--crops and --no-crops exclude each other", param_hint="--no-crops")
    options = ReportOptions(
        scores=scores, output=output, crops=False if no_crops else crops, workers=workers, threshold=threshold,
        per_page=per_page, group_by_folder=by_folder, embed=embed, grid=grid, show=show, sample=sample,
        folders=folders, title=title,
    )
    with progress_bar("reading images") as update:
        result = run(options, progress=update)
    print_report_summary(result)


def print_report_summary(summary) -> None:
    """Warnings, a small table and the page's path (shared with ``aikd score --report``)."""
    for note in summary.notes:
        err.print(f"[yellow]warning:[/] {escape(note)}")
    table = Table(title="Report", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("rows", f"{summary.rows:,}")
    table.add_row("faces scored", f"{summary.scored:,} of {summary.faces:,}")
    table.add_row("faces pictured", f"{summary.pictured:,}" + ("" if summary.grid else " (samples)"))
    for status, count in summary.failures.items():
        table.add_row(escape(status), f"{count:,}")
    if summary.threshold is not None and summary.below is not None:
        share = summary.below / summary.scored if summary.scored else 0.0
        table.add_row(f"below {summary.threshold:g}", f"{summary.below:,} ({share:.1%})")
    table.add_row("pages", f"{summary.pages:,}")
    images = f"{summary.decoded:,} decoded"
    if summary.from_crops:
        images += f", {summary.from_crops:,} saved crops"
    table.add_row("images read", images)
    table.add_row("built in", f"{summary.seconds:.1f} s")
    out.print(table)
    out.print(escape(str(summary.html)), soft_wrap=True)
    if summary.files_dir is not None:
        err.print(
            f"[dim]pictures and further pages: {escape(str(summary.files_dir))} (keep it next to the page)[/]"
        )
