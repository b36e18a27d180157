"""One entry point from "what the user typed" to a ready model: path, ``hf://`` or registry name."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from aikd_cli.errors import WeightsError
from aikd_cli.models import hub
from aikd_cli.models.checkpoints import canonicalise, load_state_strict, read_checkpoint
from aikd_cli.models.config import ModelConfig, build_model
from aikd_cli.models.preprocess import Preprocess
from aikd_cli.models.registry import WeightsSpec, get_spec

#: File names looked for when ``--model`` is a folder (an export or a distill run), in this order.
FOLDER_WEIGHTS = ("model.safetensors", "best.safetensors", "last.safetensors", "model.onnx")


@dataclass
class ResolvedWeights:
    path: Path
    spec: WeightsSpec | None = None
    sidecar: dict = field(default_factory=dict)  # config.json next to the weights, if any


def resolve_weights(ref: str | os.PathLike) -> ResolvedWeights:
    """Local path first, then ``hf://org/name[@rev][/file]``, then a registered name."""
    text = str(ref)
    path = Path(text).expanduser()
    if path.exists():
        if path.is_dir():
            found = next((path / n for n in FOLDER_WEIGHTS if (path / n).is_file()), None)
            if found is None:
                raise WeightsError(f"{path}: folder holds none of {', '.join(FOLDER_WEIGHTS)}")
            path = found
        return ResolvedWeights(path, None, _sidecar(path))
    if text.startswith("hf://"):
        ref_ = hub.HubRef.parse(text)
        weights = hub.resolve(ref_)
        return ResolvedWeights(weights, None, _sidecar(weights))
    if os.sep in text or text.endswith((".pth", ".pt", ".safetensors", ".onnx", ".bin")):
        raise WeightsError(f"{text}: no such file")
    spec = get_spec(text)
    weights = hub.resolve(hub.HubRef(spec.repo_id, spec.filename, spec.revision), sha256=spec.sha256)
    return ResolvedWeights(weights, spec, {})


def _sidecar(weights: Path) -> dict:
    """``config.json`` beside exported / pushed weights (the Hub folder format)."""
    cfg = weights.parent / "config.json"
    if cfg.is_file():
        try:
            data = json.loads(cfg.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise WeightsError(f"{cfg}: unreadable model config ({exc})") from None
        return data if isinstance(data, dict) and "config" in data else {}
    return {}


@dataclass
class LoadedModel:
    """A network with everything needed to feed it, and where it came from."""

    net: nn.Module
    config: ModelConfig
    source: str
    layout: str
    info: dict = field(default_factory=dict)  # provenance: teacher, training config, metrics

    @property
    def preprocess(self) -> Preprocess:
        return self.config.preprocess


def check_task(config: ModelConfig, expect: str | None, ref: object) -> None:
    """Refuse a model of the wrong kind. ``expect`` is "quality", "recognition" or "detection"; a
    quality model is also accepted where "recognition" is expected (its embedding is used)."""
    if expect is not None and config.task != expect and not (expect == "recognition" and config.task == "quality"):
        raise WeightsError(f"{ref}: is a {config.task} model ({config.arch}), but a {expect} model is needed here")


def load_network(
    ref: str | os.PathLike, *, expect: str | None = None, resolved: ResolvedWeights | None = None
) -> LoadedModel:
    """Build and load the network behind ``ref`` on the CPU, in eval mode.

    ``expect`` turns a wrong kind of model into a clear error (see :func:`check_task`).
    ``resolved`` skips resolving ``ref`` again when the caller already did.
    """
    resolved = resolved or resolve_weights(ref)
    if resolved.path.suffix == ".onnx":
        raise WeightsError(
            f"{resolved.path}: ONNX models are run by onnxruntime, not loaded as torch modules",
            hint="`aikd score --model` runs it; commands that need torch weights take the safetensors export",
        )
    state, info = read_checkpoint(resolved.path)
    info = info or resolved.sidecar
    state, config, layout = canonicalise(state, info)
    if resolved.spec is not None and layout != "aikd":
        # the registry knows the preprocessing of files that carry none
        config = ModelConfig(**{**config.__dict__, "preprocess": resolved.spec.config.preprocess})
    check_task(config, expect, ref)
    net = build_model(config)
    load_state_strict(net, state, str(ref))
    return LoadedModel(net.eval(), config, str(ref), layout, info)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


