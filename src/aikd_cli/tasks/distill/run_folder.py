"""A run folder: where its files live, its saved configuration, and what a finished run returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aikd_cli.errors import InputFormatError
from aikd_cli.tasks.distill.config import DistillConfig, differences
from aikd_cli.tasks.distill.config_file import resolve_config


@dataclass(frozen=True)
class RunFiles:
    """Where a run keeps its files."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def best(self) -> Path:
        return self.root / "best.safetensors"

    @property
    def last(self) -> Path:
        return self.root / "last.safetensors"

    @property
    def state(self) -> Path:
        return self.root / "last.state.pt"

    @property
    def model_json(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def landmarks(self) -> Path:
        return self.root / "landmarks.csv"

    @property
    def skipped(self) -> Path:
        return self.root / "skipped.csv"

    @property
    def names(self) -> tuple[str, ...]:
        """What a run writes in its folder (an input there would be overwritten)."""
        files = (self.config, self.best, self.last, self.state, self.model_json, self.metrics, self.landmarks,
                 self.skipped)
        return tuple(f.name for f in files)


@dataclass
class DistillResult:
    """What a finished run produced."""

    output: Path
    best: Path
    last: Path
    steps: int
    best_step: int | None
    best_metrics: dict = field(default_factory=dict)
    start_metrics: dict = field(default_factory=dict)  # validation before the first step
    train_faces: int = 0
    val_faces: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # status -> count
    teacher_unchanged: bool = True


def load_run_config(output: str | Path, overrides: dict | None = None) -> DistillConfig:
    """The config of the run in ``output`` (for ``--resume``), with harmless overrides applied.

    Options that change the optimisation cannot differ from the saved run: that would not be a
    resumption of it.
    """
    files = RunFiles(Path(output))
    if not files.config.is_file():
        raise InputFormatError(f"{files.root}: no run to resume here (config.toml missing)")
    saved = resolve_config(files.config)
    current = resolve_config(files.config, {**(overrides or {}), "output": str(files.root)})
    changed = differences(saved, current)
    if current.schedule == "cosine":  # the cosine schedule is a function of the run's total length
        changed += [k for k in ("epochs", "max_steps") if getattr(saved, k) != getattr(current, k)]
    if changed:
        raise InputFormatError(
            f"cannot change {', '.join('--' + c.replace('_', '-') for c in changed)} when resuming {files.root}",
            hint="start a new run with another --output",
        )
    return current


def options_for(config_file: str | Path | None = None, overrides: dict | None = None, *,
                resume: bool = False) -> DistillConfig:
    """The options a run uses: ``config_file`` with ``overrides`` on top, or with ``resume`` the
    saved options of the run in the output folder (named by ``overrides`` or the config file)."""
    overrides = overrides or {}
    if not resume:
        return resolve_config(config_file, overrides)
    output = overrides.get("output") or (resolve_config(config_file).output if config_file else None)
    if output is None:
        raise InputFormatError("--resume needs the run folder as --output")
    return load_run_config(output, overrides)


def absolute_paths(config: DistillConfig) -> DistillConfig:
    """Paths made absolute, so the saved config works from any working directory."""

    def path(p: str | None) -> str | None:
        if p is None or p.startswith("hf://") or not Path(p).expanduser().exists():
            return p
        return str(Path(p).expanduser().resolve())

    for name in ("teacher", "backbone", "landmarks", "labels", "student", "detector"):
        setattr(config, name, path(getattr(config, name)))
    config.data = [path(p) or p for p in config.data]
    config.val_data = [path(p) or p for p in config.val_data]
    config.output = str(Path(config.output).expanduser().resolve())
    return config
