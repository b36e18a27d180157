"""``aikd evaluate``: options from :mod:`aikd_cli.tasks.evaluate.options`; run the evaluation, print
the tables."""

from __future__ import annotations

from aikd_cli.cli.common import err, escape, handle_errors, log_to, out, plural, progress_bar
from aikd_cli.cli.generate import command
from aikd_cli.tasks.evaluate.options import EvaluateOptions


@command(EvaluateOptions)
@handle_errors
def evaluate(options: EvaluateOptions) -> None:
    """Error-versus-Discard curves and pAUC of quality methods with a face-recognition model.

    Discards the lowest-quality comparisons and measures how the FNMR falls (Schlett et al., TBIOM 2023), next to a random baseline and the FR embedding norm. Writes table.md/.csv, results.json, EDC plots, exact curves and config.json to --output.

    [bold]Examples[/]

      aikd evaluate -p lfw.bin -p cfp_fp.bin -q ediffiqa.csv:eDifFIQA -q aikd.csv:AI-KD --fr-model iresnet100.pth

      aikd evaluate --identities faces/identities.csv -q scores.csv --fr-model mobilefacenet.pt --fmr 1e-3

      aikd evaluate -p comparisons.csv --score-column score -q a.csv -q b.csv --start-error 0.05 -l 0.2 -l 0.3

      aikd evaluate -p lfw.bin -m student.safetensors --fr-model r100.pth --perturb 0,2,3,5
    """
    options.validate()  # before torch: a typo is answered in a second
    from aikd_cli.tasks.evaluate.evaluating import run
    from aikd_cli.tasks.evaluate.tables import rich_tables

    with progress_bar("faces", unit="face") as update, log_to(err):
        result = run(options, progress=update)
    for table in rich_tables(result, options.metric):
        out.print(table)
    for d in result.datasets:
        for why, n in d.excluded.most_common():
            err.print(f"[yellow]{escape(d.name)}: excluded {plural(n, 'pair')}: {escape(why)}[/]")
        for note in d.notes:
            err.print(f"[dim]{escape(d.name)}: {escape(note)}[/]")
    out.print(f"results in {escape(options.output)}/ (table.md, table.csv, results.json, plots/, config.json)")
