"""Read checkpoints safely and map the public layouts onto aikd's modules.

Layouts understood (after stripping DataParallel's ``module.`` prefix):

=============  ============================================  ==============================
layout          keys                                          becomes
=============  ============================================  ==============================
aikd / AI-KD    ``feature_extractor.*``, ``quality_head.l*``  backbone + MLP head (as is)
eDifFIQA        ``base_model.*``, ``mlp.l1/l2.*``             backbone + MLP head (renamed)
CR-FIQA         iResNet keys + ``qs.weight``                  iResNet with ``qs`` head
backbone        iResNet or MobileFaceNet keys                 FR backbone
RetinaFace      ``body.*``, ``fpn.*``, ``ssh*``, heads         detector
=============  ============================================  ==============================

The architecture is read from the tensors (block counts, widths), never from the file name.
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import torch
from torch import nn

from aikd_cli.errors import CheckpointError, WeightsError
from aikd_cli.models.config import DEPTHS_BY_BLOCKS, ModelConfig, default_preprocess
from aikd_cli.utils.atomic import atomic_write

StateDict = dict[str, torch.Tensor]

#: safetensors metadata key holding the JSON :class:`ModelConfig` (+ provenance) of aikd files.
METADATA_KEY = "aikd"


def read_checkpoint(path: str | Path) -> tuple[StateDict, dict]:
    """Tensors and (for aikd safetensors files) metadata from ``path``, loaded without running code.

    ``.safetensors`` files are read with safetensors; anything else with
    ``torch.load(weights_only=True)``, which refuses pickled objects other than tensors and
    containers. Wrapped checkpoints (``{"state_dict": ...}``, ``{"model": ...}``) are unwrapped.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as exc:
            raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from None
        info = json.loads(meta[METADATA_KEY]) if METADATA_KEY in meta else {}
        return tensors, info
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic not in (b"PK", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):  # zip archive, or a pickle
        raise WeightsError(f"{path}: not a readable PyTorch checkpoint (neither a torch zip archive nor a pickle)")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsError(
            f"{path}: refusing to unpickle it: it holds Python objects, not just tensors ({str(exc).splitlines()[0]})",
            hint="re-save it as a plain state_dict or as safetensors",
        ) from None
    except Exception as exc:
        raise WeightsError(f"{path}: not a readable PyTorch checkpoint ({exc})") from None
    for key in ("state_dict", "model", "model_state_dict", "net"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path}: expected a state_dict (name -> tensor), found {type(obj).__name__}")
    return dict(obj), {}


def save_checkpoint(path: str | Path, net: nn.Module | StateDict, config: ModelConfig, info: dict | None = None) -> Path:
    """Write aikd's canonical checkpoint: safetensors with the :class:`ModelConfig` and provenance
    (``info``: teacher, training config, metrics...) as JSON under metadata key ``"aikd"``.

    Tensor names are the module names of :func:`build_model` (AI-KD's ``feature_extractor.*`` /
    ``quality_head.*``, CR-FIQA's ``qs.*``, plain backbone names), so :func:`read_checkpoint` +
    :func:`canonicalise` load it back without guessing. The file appears atomically (written to a
    temporary name, then renamed), so a crash never leaves a half-written checkpoint behind.
    """
    from safetensors.torch import save

    path = Path(path)
    state = net.state_dict() if isinstance(net, nn.Module) else net
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    record = {**(info or {}), "config": config.to_dict()}
    data = save(tensors, metadata={METADATA_KEY: json.dumps(record)})
    return atomic_write(path, data)


def strip_prefix(state: StateDict, prefix: str = "module.") -> StateDict:
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return state


def _iresnet_config(state: StateDict, prefix: str) -> tuple[str, int] | None:
    blocks = []
    for layer in range(1, 5):
        indices = {int(m.group(1)) for k in state if (m := re.match(rf"{re.escape(prefix)}layer{layer}\.(\d+)\.", k))}
        if not indices:
            return None
        blocks.append(max(indices) + 1)
    depth = DEPTHS_BY_BLOCKS.get(tuple(blocks))
    if depth is None:
        raise CheckpointError(f"iResNet with {tuple(blocks)} blocks per stage matches no known depth")
    return f"iresnet{depth}", int(state[f"{prefix}fc.weight"].shape[0])


def infer_backbone(state: StateDict, prefix: str = "") -> tuple[str, int]:
    """``(arch, embedding_size)`` of the backbone whose tensors start with ``prefix``."""
    if f"{prefix}dw_conv.depthwise.weight" in state and f"{prefix}conv3.weight" in state:
        return "mobilefacenet", int(state[f"{prefix}conv3.weight"].shape[0])
    found = _iresnet_config(state, prefix)
    if found:
        return found
    sample = ", ".join(list(state)[:4])
    raise CheckpointError(f"cannot recognise the backbone architecture from its tensors (first keys: {sample})")


def canonicalise(state: StateDict, info: dict | None = None) -> tuple[StateDict, ModelConfig, str]:
    """Map any supported layout to aikd's module names; return ``(state, config, layout)``."""
    state = strip_prefix(state)
    if info and "config" in info:
        return state, ModelConfig.from_dict(info["config"]), "aikd"
    if any(k.startswith("body.") for k in state) and "ClassHead.0.conv1x1.weight" in state:
        arch = "retinaface-mnet025" if any(k.startswith("body.stage1") for k in state) else "retinaface-r50"
        return state, ModelConfig(arch=arch, preprocess=default_preprocess(arch)), "retinaface"
    if any(k.startswith("base_model.") for k in state) and any(k.startswith("mlp.") for k in state):
        renamed = {}
        for k, v in state.items():
            if k.startswith("base_model."):
                renamed["feature_extractor." + k[len("base_model."):]] = v
            elif k.startswith("mlp."):
                renamed["quality_head." + k[len("mlp."):]] = v
            else:
                raise CheckpointError(f"unexpected key {k!r} in an eDifFIQA checkpoint")
        state, layout = renamed, "ediffiqa"
    elif any(k.startswith("feature_extractor.") for k in state):
        layout = "aikd"
    elif "qs.weight" in state:
        arch, emb = infer_backbone(state)
        cfg = ModelConfig(arch=arch, head="qs", embedding_size=emb, preprocess=default_preprocess(arch))
        return state, cfg, "crfiqa"
    else:
        arch, emb = infer_backbone(state)
        return state, ModelConfig(arch=arch, embedding_size=emb, preprocess=default_preprocess(arch)), "backbone"
    arch, emb = infer_backbone(state, "feature_extractor.")
    if "quality_head.l1.weight" not in state:
        raise CheckpointError("quality model checkpoint has no MLP head (quality_head.l1.weight missing)")
    hidden = int(state["quality_head.l1.weight"].shape[0])
    cfg = ModelConfig(arch=arch, head="mlp", embedding_size=emb, head_hidden=hidden, preprocess=default_preprocess(arch))
    return state, cfg, layout


def load_state_strict(model: nn.Module, state: StateDict, source: str) -> None:
    """``load_state_dict(strict=True)`` that names what is missing or unexpected.

    BatchNorm ``num_batches_tracked`` counters are the only keys allowed to be absent (older
    checkpoints do not have them and they do not affect inference).
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if keys:
                more = f" (+{len(keys) - 5} more)" if len(keys) > 5 else ""
                parts.append(f"{label}: {', '.join(keys[:5])}{more}")
        raise CheckpointError(f"{source}: weights do not fit the architecture; " + "; ".join(parts))
    full = {k: state.get(k, own[k]) for k in own}
    model.load_state_dict(full, strict=True)
