"""``aikd label``: quality labels from identities; options from :mod:`aikd_cli.tasks.label.options`."""

from __future__ import annotations

import numpy as np
from rich.table import Table

from aikd_cli.cli.common import handle_errors, out, progress_bar, shown
from aikd_cli.cli.generate import command
from aikd_cli.tasks.label.options import LabelOptions
from aikd_cli.utils.numbers import fmt_quality


@command(LabelOptions)
@handle_errors
def label(options: LabelOptions) -> None:
    """Make quality labels from identities when no FIQA model exists (for `aikd distill --labels`).

    Every face is embedded, correctly aligned, by the FR model; its label says how clearly it belongs to its own identity: the certainty ratio CCS / (NNCCS + 1) of CR-FIQA, or SDD-FIQA's Wasserstein distance between its genuine and impostor similarities. Higher is better. The labels CSV also carries the landmarks, so it is a complete `aikd distill` manifest.

    [bold]Examples[/]

      aikd label -i lfw/identities.csv --fr-model mobilefacenet.pt -o labels.csv
      aikd label -i ids.csv --fr-model cosface-r100-glint360k --scheme sdd --landmarks scores.csv -o labels.csv
      aikd distill lfw/ --backbone mobilefacenet.pt --labels labels.csv -o runs/mfn
    """
    options.validate()  # before torch: a typo is answered in a second
    from aikd_cli.tasks.label.labelling import run

    with progress_bar(f"labelling ({options.scheme})") as progress:
        result = run(options, progress=progress)
    table = Table(title=f"aikd label ({options.scheme})")
    for col in ("status", "faces"):
        table.add_column(col)
    for status, count in sorted(result.skipped.items()):
        table.add_row(status, str(count))
    out.print(table)
    out.print(f"labels: {shown(result.output)}", highlight=False, soft_wrap=True)
    if result.labelled:
        q = result.quality
        out.print(
            f"{result.labelled} labels: min {fmt_quality(q.min())}, median {fmt_quality(float(np.median(q)))}, "
            f"max {fmt_quality(q.max())}",
            highlight=False,
        )
