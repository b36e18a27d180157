"""``aikd distill``: train an alignment-invariant quality student (AI-KD).

The options are generated from :class:`~aikd_cli.tasks.distill.config.DistillConfig` (the
detection and compute options are the shared ones), so the command line, the ``--config`` file and
the saved ``config.toml`` can never disagree about names, defaults or help texts. Only options
typed on the command line are passed on: they override the ``--config`` file.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aikd_cli.cli.common import err, handle_errors, log_to, out, progress_bar, shown
from aikd_cli.cli.generate import given, parameters
from aikd_cli.tasks.distill.config import DistillConfig

_CONFIG = inspect.Parameter("config_file", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
    Path | None, typer.Option("--config", "-c", help="Run file (TOML, or YAML with PyYAML); options typed here "
                              "override it.", metavar="PATH")])
_RESUME = inspect.Parameter("resume", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Annotated[
    bool, typer.Option("--resume", help="Continue the run in --output from its last checkpoint.", metavar="")])


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
    from aikd_cli.tasks.distill.run_folder import options_for

    config_file = options.pop("config_file")
    resume = options.pop("resume")
    config = options_for(config_file, given(DistillConfig, options, "distill"), resume=resume).validate()  # before torch
    from aikd_cli.tasks.distill.training import run

    with log_to(err), progress_bar("distilling", unit="step") as update:
        result = run(config, update, resume=resume)
    print_summary(result)


def _metrics(metrics: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))


def print_summary(result) -> None:
    table = Table(title="aikd distill", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("run", shown(result.output))
    table.add_row("steps", str(result.steps))
    table.add_row("faces", f"{result.train_faces} training, {result.val_faces} validation")
    table.add_row("skipped", ", ".join(f"{k} {v}" for k, v in sorted(result.skipped.items())) or "none")
    if result.start_metrics:
        table.add_row("before training", _metrics(result.start_metrics))
    if result.best_step is not None:
        metrics = _metrics(result.best_metrics)
        table.add_row("best", f"step {result.best_step}" + (f": {metrics}" if metrics else ""))
    table.add_row("teacher", "unchanged (weights verified)")
    table.add_row("model", shown(result.best))
    out.print(table)
    out.print(f"use it: aikd score PHOTOS --model {shown(result.best)}", highlight=False, soft_wrap=True)


_PARAMETERS = [_CONFIG, _RESUME, *parameters(DistillConfig, given_only=True)]
distill.__signature__ = inspect.Signature(_PARAMETERS)  # type: ignore[attr-defined]
distill.__annotations__ = {p.name: p.annotation for p in _PARAMETERS}
