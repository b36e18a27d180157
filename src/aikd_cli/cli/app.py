"""The ``aikd`` command: one Typer app, one module per subcommand."""

from __future__ import annotations

from typing import Annotated

import typer

from aikd_cli._version import __version__
from aikd_cli.cli import align as align_cmd
from aikd_cli.cli import distill as distill_cmd
from aikd_cli.cli import evaluate as evaluate_cmd
from aikd_cli.cli import export as export_cmd
from aikd_cli.cli import label as label_cmd
from aikd_cli.cli import models as models_cmd
from aikd_cli.cli import report as report_cmd
from aikd_cli.cli import score as score_cmd

app = typer.Typer(
    name="aikd",
    help="Alignment-invariant face image quality assessment (AI-KD): score photos, distill students, "
    "evaluate with EDC curves, export models.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aikd {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Alignment-invariant face image quality assessment."""


# in the order a user meets them: score and look, prepare data, train, measure, ship
app.command("score")(score_cmd.score)
app.command("report")(report_cmd.report)
app.command("align")(align_cmd.align)
app.command("label")(label_cmd.label)
app.command("distill")(distill_cmd.distill)
app.command("evaluate")(evaluate_cmd.evaluate)
app.command("export")(export_cmd.export)
app.add_typer(models_cmd.app, name="models")


def main() -> None:
    app()
