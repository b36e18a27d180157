"""``aikd score``: the command most users run first."""

from __future__ import annotations

from rich.table import Table

from aikd_cli.cli.common import err, escape, handle_errors, out, plural, progress_bar, shown
from aikd_cli.cli.generate import command
from aikd_cli.tasks.score.options import ScoreOptions
from aikd_cli.utils.numbers import fmt_quality


@command(ScoreOptions)
@handle_errors
def score(options: ScoreOptions) -> None:
    """Score face image quality: one CSV row per face (path, face, quality, detection, landmarks, status).

    Photos are detected (RetinaFace), aligned to the ArcFace 112x112 template and scored; images without a usable face, unreadable files and duplicates get a row with a status and a message.

    [bold]Examples[/]

      aikd score photos/ -o scores.csv
      aikd score crops/ --aligned --model ediffiqa-s
      aikd score a.jpg b.png --faces all --device cuda --batch-size 256
      aikd score photos/ --landmarks landmarks.csv --model run/best.safetensors
      aikd score photos/ -o scores.csv --resume          # continue an interrupted run
      aikd score photos/ -o scores.csv --report report.html --report-threshold 0.35
      aikd score photos/ -o scores.csv --save-crops crops/   # keep the aligned crops for reports
      aikd score photos/ --perturb-samples 8 --perturb 3   # how much each score depends on alignment
      aikd score photos/ -o scores.csv --shard 2/8        # part 2 of 8 (e.g. a SLURM array task) ...
      aikd score --merge -o scores.csv                    # ... then join the 8 parts
      torchrun --nproc-per-node 4 -m aikd_cli score photos/ -o scores.csv   # 4 GPUs, one CSV
    """
    options.validate()  # before torch: a typo is answered in a second
    from aikd_cli.tasks.score.scoring import run
    from aikd_cli.utils.distributed import is_main_process

    with progress_bar("scoring") as update:
        result = run(options, progress=update)
    if not is_main_process():  # a torchrun rank other than 0: rank 0 reports for the job
        return
    print_summary(result)
    if options.shard:
        err.print(f"when every part is written, join them: aikd score --merge -o {escape(options.output)}")
    if result.report is not None:
        from aikd_cli.cli.report import print_report_summary

        print_report_summary(result.report)


def print_summary(summary) -> None:
    table = Table(title=f"{shown(summary.output)}: {plural(summary.rows, 'row')}", title_justify="left")
    table.add_column("status")
    table.add_column("rows", justify="right")
    for status, count in sorted(summary.status_counts.items()):
        table.add_row(status or "?", str(count))
    out.print(table)
    pct = summary.percentiles()
    if pct:
        q = Table(title="quality of scored faces", title_justify="left")
        for p in pct:
            q.add_column({0: "min", 100: "max"}.get(p, f"p{p:g}"), justify="right")
        q.add_row(*(fmt_quality(v) for v in pct.values()))
        out.print(q)
    if summary.merged:
        err.print(f"joined {plural(len(summary.merged), 'part')} in {summary.seconds:.1f} s (the parts are kept: "
                  f"{escape(summary.merged[0].name)} ...)")
        if not summary.images:
            return
    rate = summary.images / summary.seconds if summary.seconds else 0.0
    extra = f", {plural(summary.resumed, 'row')} kept from an earlier run" if summary.resumed else ""
    err.print(f"{plural(summary.images, 'image')} in {summary.seconds:.1f} s ({rate:.1f} img/s){extra}")
