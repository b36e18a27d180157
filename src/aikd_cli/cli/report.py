"""``aikd report``: a score CSV in, an HTML page to look at out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aikd_cli.cli.common import WorkersOpt, default_workers, err, escape, handle_errors, out


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
    per_page: Annotated[int, typer.Option("--per-page", min=1, help="Faces per page of the grid.")] = 240,
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
    workers: WorkersOpt = default_workers(),
) -> None:
    """Build an HTML quality report from a score CSV.

    Summary, histogram, the aligned faces from worst to best, failures and per-folder statistics.

    The page needs no network and no JavaScript, and opens in any browser.

    Small sets give one self-contained file; larger ones a page plus a NAME_files/ folder beside it.

    [bold]Examples[/]

      aikd report scores.csv
      aikd report scores.csv -o review/report.html --threshold 0.35
      aikd report scores.csv --per-page 500 --no-by-folder -j 8
      aikd report scores.csv --embed -o mail-me.html
    """
    from aikd_cli.tasks.report import build_report

    summary = build_report(
        scores,
        output,
        threshold=threshold,
        per_page=per_page,
        group_by_folder=by_folder,
        embed=embed,
        workers=workers,
        title=title,
        progress=True,
        console=err,
    )
    print_report_summary(summary)


def print_report_summary(summary) -> None:
    """Warnings, a small table and the page's path (shared with ``aikd score --report``)."""
    for note in summary.notes:
        err.print(f"[yellow]warning:[/] {escape(note)}")
    table = Table(title="Report", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("rows", f"{summary.rows:,}")
    table.add_row("faces scored", f"{summary.scored:,} of {summary.faces:,}")
    for status, count in summary.failures.items():
        table.add_row(escape(status), f"{count:,}")
    if summary.threshold is not None and summary.below is not None:
        share = summary.below / summary.scored if summary.scored else 0.0
        table.add_row(f"below {summary.threshold:g}", f"{summary.below:,} ({share:.1%})")
    table.add_row("pages", f"{summary.pages:,}")
    table.add_row("built in", f"{summary.seconds:.1f} s")
    out.print(table)
    out.print(escape(str(summary.html)), soft_wrap=True)
    if summary.files_dir is not None:
        err.print(
            f"[dim]pictures and further pages: {escape(str(summary.files_dir))} (keep it next to the page)[/]"
        )
