"""``aikd report``: a score CSV in, an HTML page to look at out."""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import Annotated

import typer
from rich.table import Table

from aikd_cli.cli.common import err, escape, handle_errors, out, progress_bar
from aikd_cli.cli.generate import command
from aikd_cli.errors import AikdError
from aikd_cli.tasks.report.options import ReportOptions

_NO_CROPS = inspect.Parameter("no_crops", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Annotated[
    bool, typer.Option("--no-crops", help="Decode the originals even when saved crops exist (detail panels show "
                       "the photo).", metavar="")])


@command(ReportOptions, extra=[_NO_CROPS])
@handle_errors
def report(options: ReportOptions, no_crops: bool = False) -> None:
    """Build an HTML quality report from a score CSV.

    Summary, histogram, failures and per-folder statistics from every row; the aligned faces from worst to best (up to 2,000 faces), or for bigger sets the lowest, highest and threshold faces and samples per quality decile and per sub-folder.

    The page needs no network and no JavaScript, and opens in any browser.

    Small sets give one self-contained file; larger ones a page plus a NAME_files/ folder beside it.

    [bold]Examples[/]

      aikd report scores.csv
      aikd report scores.csv -o review/report.html --quality-threshold 0.35
      aikd report scores.csv --per-page 500 --no-by-folder -j 8
      aikd report scores.csv --embed -o mail-me.html
      aikd report million.csv -t 0.35 --show 96 --sample 16     # a big set: samples, not a grid
    """
    if no_crops:
        if options.crops is not None:
            raise AikdError("--crops and --no-crops exclude each other")
        options = replace(options, crops=False)
    options.validate()
    from aikd_cli.tasks.report.build import run

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
