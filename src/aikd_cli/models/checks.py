"""Is a model what a command needs? The checks every loader applies, torch or ONNX alike."""

from __future__ import annotations

from aikd_cli.errors import WeightsError
from aikd_cli.models.config import ModelConfig
from aikd_cli.models.registry import WeightsSpec, list_specs


def _named(task: str) -> str:
    return ", ".join(s.name for s in list_specs(task) if s.task == task)


def check_task(config: ModelConfig, expect: str | None, ref: object) -> None:
    """Refuse a model of the wrong kind. ``expect`` is "quality", "recognition" or "detection"; a
    quality model is also accepted where "recognition" is expected (its embedding is used)."""
    if expect is None or config.task == expect or (expect == "recognition" and config.task == "quality"):
        return
    message = f"{ref}: is a {config.task} model ({config.arch}), but a {expect} model is needed here"
    if expect == "quality" and config.task == "recognition":
        hint = (f"make a quality model from it: `aikd label --fr-model {ref} ... -o labels.csv`, then "
                f"`aikd distill DATA --backbone {ref} --labels labels.csv -o RUN`; or use a named quality "
                f"model: {_named('quality')}")
    elif config.task == "detection":
        hint = "face detectors go to --detector"
    else:
        hint = f"`aikd models --task {expect}` lists the registered {expect} models"
    raise WeightsError(message, hint=hint)


def check_fits_spec(config: ModelConfig, spec: WeightsSpec, source: object) -> None:
    """Refuse weights whose tensors say they are not the architecture of the entry they stand for."""
    want = (spec.config.arch, spec.config.head, spec.config.embedding_size)
    have = (config.arch, config.head, config.embedding_size)
    if want != have:
        raise WeightsError(
            f"{source}: holds a {config.arch} (head {config.head}, {config.embedding_size}-d), "
            f"not {spec.name}'s {spec.config.arch} (head {spec.config.head}, {spec.config.embedding_size}-d)"
        )
