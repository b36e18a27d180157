"""One entry point from "what the user typed" to a ready model: path, ``hf://`` or registry name."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from aikd_cli.errors import WeightsError
from aikd_cli.models import hub, user_models
from aikd_cli.models.build import build_model
from aikd_cli.models.checkpoints import canonicalise, load_state_strict, read_checkpoint
from aikd_cli.models.checks import check_fits_spec, check_task
from aikd_cli.models.config import ModelConfig
from aikd_cli.models.preprocess import Preprocess
from aikd_cli.models.registry import WeightsSpec, find_spec, get_spec, list_specs

#: File names looked for when ``--model`` is a folder (an export or a distill run), in this order.
FOLDER_WEIGHTS = ("model.safetensors", "best.safetensors", "last.safetensors", "model.onnx")

log = logging.getLogger(__name__)


@dataclass
class ResolvedWeights:
    path: Path
    spec: WeightsSpec | None = None
    sidecar: dict = field(default_factory=dict)  # config.json next to the weights, if any


def _bring_your_own(spec: WeightsSpec) -> WeightsError:
    """Weights on no hub: say where their authors publish them and how to register a copy."""
    return WeightsError(
        f"{spec.name}: the weights are on no model hub; download {spec.filename} from {spec.url} "
        f"({spec.license}), then run `aikd models add {spec.name} PATH/TO/{spec.filename}`"
    )


def resolve_named(name: str) -> ResolvedWeights:
    """A registry name or a locally registered one: the user's registered file first (checked
    against the sha256 taken when it was added), else the Hub (cache first, pinned hash checked)."""
    spec = find_spec(name)
    local = user_models.lookup(spec.name if spec else name)
    if local is not None:
        return ResolvedWeights(user_models.verified_path(local), user_models.spec_of(local), {})
    spec = get_spec(name)
    if not spec.hosted:
        raise _bring_your_own(spec)
    fetched = hub.resolve(hub.HubRef(spec.repo_id, spec.filename, spec.revision), sha256=spec.sha256,
                          size=spec.size, prefer_cache=True)
    if fetched.downloaded and (notice := spec.licence_notice()):
        log.warning("licence: %s", notice)
    return ResolvedWeights(fetched.path, spec, {})


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
        weights = hub.resolve(hub.HubRef.parse(text)).path
        return ResolvedWeights(weights, None, _sidecar(weights))
    if os.sep in text or text.endswith((".pth", ".pt", ".safetensors", ".onnx", ".bin")):
        raise WeightsError(f"{text}: no such file")
    return resolve_named(text)


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


def load_network(
    ref: str | os.PathLike, *, expect: str | None = None, resolved: ResolvedWeights | None = None
) -> LoadedModel:
    """Build and load the network behind ``ref`` on the CPU, in eval mode.

    ``expect`` turns a wrong kind of model into a clear error (see :func:`check_task`).
    ``resolved`` skips resolving ``ref`` again when the caller already did.
    """
    resolved = resolved or resolve_weights(ref)
    if resolved.path.suffix == ".onnx":
        torch_fr = ", ".join(s.name for s in list_specs("recognition") if s.onnx is None and s.task == "recognition")
        raise WeightsError(
            f"{resolved.path}: ONNX models are run by onnxruntime, not loaded as torch modules",
            hint="`aikd score --model` and `-m`/`-f` of label and evaluate run it; commands that need torch weights "
            f"take .pth/.safetensors files (registered torch FR models: {torch_fr})",
        )
    state, info = read_checkpoint(resolved.path)
    info = info or resolved.sidecar
    state, config, layout = canonicalise(state, info)
    if resolved.spec is not None and layout != "aikd":
        check_fits_spec(config, resolved.spec, ref)
        # the registry knows the preprocessing of files that carry none
        config = ModelConfig(**{**config.__dict__, "preprocess": resolved.spec.config.preprocess})
    check_task(config, expect, ref)
    net = build_model(config)
    load_state_strict(net, state, str(ref))
    return LoadedModel(net.eval(), config, str(ref), layout, info)
