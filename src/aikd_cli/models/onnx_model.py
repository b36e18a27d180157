"""Run aikd's ONNX exports with onnxruntime behind the same calls as the torch models.

An aikd ONNX file describes itself: its ``metadata_props`` hold, under key ``"aikd"``, the same JSON
record as the safetensors files (:class:`ModelConfig` + provenance) plus a ``"graph"`` entry saying
how the graph wants its input (normalised float NCHW, or uint8 RGB NHWC with the normalisation
inside) and its precision. So ``--model model.onnx`` needs no file beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from aikd_cli.errors import AikdError, WeightsError
from aikd_cli.models.checkpoints import METADATA_KEY
from aikd_cli.models.config import ModelConfig
from aikd_cli.models.face_model import ModelOutput

#: The graph's one input; outputs are named by task.
INPUT_NAME = "image"
OUTPUT_NAMES = {
    "quality": ("embedding", "quality"),
    "recognition": ("embedding",),
    "detection": ("loc", "conf", "landms"),
}

ONNX_EXTRA_HINT = "install the ONNX extra: pip install 'aikd-cli[onnx]'"


@dataclass(frozen=True)
class GraphSpec:
    """How an exported graph is fed: ``preprocessing`` means uint8 RGB NHWC in, normalisation inside."""

    preprocessing: bool = False
    precision: str = "fp32"
    exporter: str = ""
    opset: int = 0

    def to_dict(self) -> dict:
        return {
            "preprocessing": self.preprocessing,
            "precision": self.precision,
            "exporter": self.exporter,
            "opset": self.opset,
        }

    @classmethod
    def from_dict(cls, data: dict) -> GraphSpec:
        return cls(
            bool(data.get("preprocessing", False)),
            str(data.get("precision", "fp32")),
            str(data.get("exporter", "")),
            int(data.get("opset", 0)),
        )


@dataclass
class OnnxRecord:
    """What an aikd ONNX file says about itself."""

    config: ModelConfig
    graph: GraphSpec
    info: dict = field(default_factory=dict)  # the whole JSON record (provenance included)


def output_names(config: ModelConfig) -> tuple[str, ...]:
    return OUTPUT_NAMES[config.task]


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise AikdError(
            "running ONNX models needs onnxruntime, which is not installed", hint=ONNX_EXTRA_HINT
        ) from None
    return onnxruntime


def providers_for(device: str | torch.device) -> list:
    """onnxruntime execution providers for an aikd ``--device``: CUDA when asked for (or when
    ``auto`` finds it), otherwise the CPU."""
    ort = import_onnxruntime()
    name = str(device or "auto").lower()
    available = ort.get_available_providers()
    if name == "auto":
        return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []) + [
            "CPUExecutionProvider"
        ]
    if name == "cpu":
        return ["CPUExecutionProvider"]
    if name.startswith("cuda"):
        if "CUDAExecutionProvider" not in available:
            raise AikdError(
                f"device {name!r} requested but this onnxruntime has no CUDA provider (it has {', '.join(available)})",
                hint="pip install onnxruntime-gpu, or use --device cpu",
            )
        index = int(name.partition(":")[2] or 0)
        return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
    raise AikdError(
        f"device {name!r} is not supported for ONNX models", hint="use --device cpu, cuda or auto"
    )


def onnx_device(session, device: str | torch.device) -> torch.device:
    """The torch device that matches a session's provider: faces for a model run by CUDA are
    detected and aligned on that GPU, so only the finished crops cross to onnxruntime."""
    from aikd_cli.utils.device import resolve_device

    if "CUDAExecutionProvider" not in session.get_providers():
        return torch.device("cpu")
    wanted = resolve_device(str(device))
    return wanted if wanted.type == "cuda" else torch.device("cpu")


def open_session(path: str | Path, device: str | torch.device = "auto"):
    """An ``InferenceSession`` on ``path``; an unreadable file is a :class:`WeightsError`."""
    ort = import_onnxruntime()
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such ONNX file")
    options = ort.SessionOptions()
    options.log_severity_level = (
        3  # errors only: the CUDA provider's fallback notes are not the user's concern
    )
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers_for(device))
    except AikdError:
        raise
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{path}: not a readable ONNX model ({reason})") from None


def read_record(session, path: str | Path) -> OnnxRecord:
    """The aikd record in a session's model metadata (refusing ONNX files aikd did not write)."""
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in meta:
        raise WeightsError(
            f"{path}: this ONNX file carries no aikd metadata, so its input normalisation and outputs are unknown",
            hint="export the model with `aikd export MODEL --format onnx`",
        )
    try:
        info = json.loads(meta[METADATA_KEY])
        return OnnxRecord(
            ModelConfig.from_dict(info["config"]), GraphSpec.from_dict(info.get("graph", {})), info
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"{path}: malformed aikd metadata in the ONNX file ({exc})") from None


class OnnxFaceModel:
    """A :class:`~aikd_cli.models.inference.FaceModel` run by onnxruntime.

    Takes the same uint8 RGB crops as :class:`~aikd_cli.models.inference.TorchFaceModel` and
    returns the same float32 outputs; the model's normalisation is applied here, or inside the
    graph for exports made with ``--include-preprocessing``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        device: str | torch.device = "auto",
        precision: str = "auto",
        source: str | None = None,
        expect: str | None = None,
    ) -> None:
        from aikd_cli.models.loading import check_task

        self.path = Path(path)
        self.source = source or str(path)
        self.session = open_session(self.path, device)
        record = read_record(self.session, self.path)
        check_task(record.config, expect, self.source)
        if record.config.task == "detection":
            raise WeightsError(f"{self.source}: is a face detector; use it with --detector")
        if precision not in ("auto", record.graph.precision):
            raise AikdError(
                f"{self.source}: ONNX models run at the precision they were exported with ({record.graph.precision}), "
                f"not {precision}",
                hint="drop --precision, or re-export with/without --fp16",
            )
        self.config, self.graph, self.info = record.config, record.graph, record.info
        self.outputs = output_names(self.config)
        self.device = onnx_device(self.session, device)

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def __call__(self, crops: torch.Tensor) -> ModelOutput:
        crops = crops.cpu()
        if self.graph.preprocessing:
            x = crops.permute(0, 2, 3, 1).contiguous().numpy()
        else:
            x = self.config.preprocess(crops).numpy()
        out = self.session.run(list(self.outputs), {INPUT_NAME: x})
        emb = torch.from_numpy(np.asarray(out[0], dtype=np.float32))
        quality = torch.from_numpy(np.asarray(out[1], dtype=np.float32)).reshape(-1) if len(out) > 1 else None
        return ModelOutput(emb, quality)


class OnnxRetinaFace:
    """An exported RetinaFace with the torch module's call signature (``batch -> (loc, conf,
    landms)``) and ``cfg``, so :class:`~aikd_cli.faces.detector.FaceDetector` runs it unchanged."""

    def __init__(
        self, path: str | Path, *, device: str | torch.device = "auto", source: str | None = None
    ) -> None:
        from aikd_cli.models.retinaface import BODIES, CONFIGS

        self.path = Path(path)
        self.source = source or str(path)
        self.session = open_session(self.path, device)
        record = read_record(self.session, self.path)
        if record.config.task != "detection":
            raise WeightsError(
                f"{self.source}: is a {record.config.task} model, but a face detector is needed here"
            )
        self.config, self.info = record.config, record.info
        self.cfg = CONFIGS[BODIES[record.config.arch]]

    def __call__(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = batch.detach().cpu().float().contiguous().numpy()
        out = self.session.run(list(OUTPUT_NAMES["detection"]), {INPUT_NAME: x})
        return tuple(torch.from_numpy(np.asarray(o, dtype=np.float32)) for o in out)
