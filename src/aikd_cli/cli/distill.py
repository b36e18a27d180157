"""``aikd distill``: train an alignment-invariant quality student (AI-KD).

The options are generated from :class:`~aikd_cli.tasks.distill.config.DistillConfig`, so the
command line, the ``--config`` file and the saved ``config.toml`` can never disagree about names,
defaults or help texts.
"""

from __future__ import annotations

import inspect
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aikd_cli.cli.common import err, escape, handle_errors, log_to, out, progress_bar
from aikd_cli.cli.options import alias, use_alias
from aikd_cli.tasks.distill.config import DistillConfig

_SHORT = {"output": "-o", "batch_size": "-b", "workers": "-j"}
_TYPES = {"int": int, "float": float, "str": str, "str | None": str, "bool": bool, "list[str]": list[str]}
_PANELS = {
    "data": "Data",
    "teacher": "Teacher",
    "student": "Student",
    "misalignment": "Misalignment",
    "loss": "Loss",
    "optim": "Optimisation",
    "run": "Run",
}


def _option(f) -> inspect.Parameter:
    flag = "--" + f.name.replace("_", "-")
    default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
    shown = f"{default}" if default not in (None, []) else ""
    choices = f.metadata.get("choices")
    help_text = (
        f.metadata["help"]
        + (f" [{'|'.join(choices)}]" if choices else "")
        + (f" [dim]\\[default: {escape(shown)}][/]" if shown else "")
    )
    names = (
        [f"{flag}/--no-{flag[2:]}"]
        if f.type == "bool"
        else [flag, *([_SHORT[f.name]] if f.name in _SHORT else [])]
    )
    option = typer.Option(
        *names, help=help_text, show_default=False, rich_help_panel=_PANELS[f.metadata["section"]]
    )
    annotation = Annotated[_TYPES[f.type] | None, option]
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def _parameters() -> list[inspect.Parameter]:
    data = inspect.Parameter(
        "data",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            list[str] | None,
            typer.Argument(
                help="Training images: folders, image files or CSV manifests.", show_default=False
            ),
        ],
    )
    config = inspect.Parameter(
        "config_file",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            Path | None,
            typer.Option(
                "--config", "-c", help="Run file (TOML, or YAML with PyYAML); options typed here override it."
            ),
        ],
    )
    resume = inspect.Parameter(
        "resume",
        inspect.Parameter.KEYWORD_ONLY,
        default=False,
        annotation=Annotated[
            bool, typer.Option("--resume", help="Continue the run in --output from its last checkpoint.")
        ],
    )
    old_perturb = inspect.Parameter(  # -p is --pairs in evaluate
        "old_perturb", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[float | None, alias("-p")]
    )
    return [data, config, resume, *(_option(f) for f in fields(DistillConfig) if f.name != "data"), old_perturb]


@handle_errors
def distill(**options) -> None:
    """Train an alignment-invariant quality student by knowledge distillation (AI-KD).

    A frozen teacher sees each face aligned with its landmarks; the student sees the same face aligned with landmarks moved by up to --perturb pixels and learns the teacher's embedding and quality. Options override --config; the run folder gets config.toml, best/last checkpoints and metrics.jsonl.

    [bold]Examples[/]

      aikd distill faces/ --teacher ediffiqa-s -o runs/aikd-s
      aikd distill faces/ --backbone r100.pth --labels labels.csv --landmarks lm.csv -o runs/r100
      aikd distill --config run.toml --epochs 3
      aikd distill --resume -o runs/aikd-s
      torchrun --nproc-per-node 4 -m aikd_cli distill faces/ --teacher ediffiqa-l -o runs/l
      aikd score photos/ --model runs/aikd-s/best.safetensors
    """
    from aikd_cli.tasks.distill import options_for, run

    config_file = options.pop("config_file")
    resume = options.pop("resume")
    options["perturb"] = use_alias(options.pop("old_perturb"), options["perturb"], "distill -p", "--perturb")
    overrides = {k: v for k, v in options.items() if v is not None and v != []}
    with log_to(err), progress_bar("distilling", unit="step") as update:
        result = run(options_for(config_file, overrides, resume=resume), update, resume=resume)
    print_summary(result)


def _metrics(metrics: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))


def print_summary(result) -> None:
    table = Table(title="aikd distill", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("run", escape(result.output))
    table.add_row("steps", str(result.steps))
    table.add_row("faces", f"{result.train_faces} training, {result.val_faces} validation")
    table.add_row("skipped", ", ".join(f"{k} {v}" for k, v in sorted(result.skipped.items())) or "none")
    if result.start_metrics:
        table.add_row("before training", _metrics(result.start_metrics))
    if result.best_step is not None:
        metrics = _metrics(result.best_metrics)
        table.add_row("best", f"step {result.best_step}" + (f": {metrics}" if metrics else ""))
    table.add_row("teacher", "unchanged (weights verified)")
    table.add_row("model", escape(result.best))
    out.print(table)
    out.print(f"use it: aikd score PHOTOS --model {escape(result.best)}", highlight=False, soft_wrap=True)


distill.__signature__ = inspect.Signature(_parameters())  # type: ignore[attr-defined]
