"""Run aikd's ONNX exports with onnxruntime behind the same calls as the torch models.

An aikd ONNX file describes itself: its ``metadata_props`` hold, under key ``"aikd"``, the same JSON
record as the safetensors files (:class:`ModelConfig` + provenance) plus a ``"graph"`` entry saying
how the graph wants its input (normalised float NCHW, or uint8 RGB NHWC with the normalisation
inside) and its precision. So ``--model model.onnx`` needs no file beside it.

ONNX files aikd did not write (eDifFIQA(T) from the OpenCV Zoo, insightface's ArcFace models) carry
no such record; they run when a registry entry supplies their contract instead: the entry's
:class:`ModelConfig` and an :class:`~aikd_cli.models.registry.OnnxContract` naming which graph
output is the embedding and which the quality. The graph is checked against that contract on load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from aikd_cli.errors import ONNX_EXTRA_HINT, AikdError, WeightsError
from aikd_cli.models.checkpoints import METADATA_KEY
from aikd_cli.models.checks import check_task
from aikd_cli.models.config import ModelConfig
from aikd_cli.models.face_model import ModelOutput

if TYPE_CHECKING:
    from aikd_cli.models.registry import WeightsSpec

#: The graph's one input; outputs are named by task.
INPUT_NAME = "image"
OUTPUT_NAMES = {
    "quality": ("embedding", "quality"),
    "recognition": ("embedding",),
    "detection": ("loc", "conf", "landms"),
}



@dataclass(frozen=True)
class GraphSpec:
    """How an exported graph is fed: ``preprocessing`` means uint8 RGB NHWC in, normalisation inside."""

    preprocessing: bool = False
    precision: str = "fp32"
    exporter: str = ""
    opset: int = 0
    layout: str = "nchw"  # of a normalised float input: "nhwc" for graphs converted from TensorFlow

    def to_dict(self) -> dict:
        data = {
            "preprocessing": self.preprocessing,
            "precision": self.precision,
            "exporter": self.exporter,
            "opset": self.opset,
        }
        if self.layout != "nchw":
            data["layout"] = self.layout
        return data

    @classmethod
    def from_dict(cls, data: dict) -> GraphSpec:
        return cls(
            bool(data.get("preprocessing", False)),
            str(data.get("precision", "fp32")),
            str(data.get("exporter", "")),
            int(data.get("opset", 0)),
            str(data.get("layout", "nchw")).lower(),
        )


@dataclass
class OnnxRecord:
    """What an ONNX file is: from its aikd metadata, or from a registry entry's contract."""

    config: ModelConfig
    graph: GraphSpec
    info: dict = field(default_factory=dict)  # the whole JSON record (provenance included)
    input: str = INPUT_NAME
    embedding: str | None = "embedding"  # graph output names; None: the graph has no such output
    quality: str | None = "quality"


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


def read_record(session, path: str | Path, spec: WeightsSpec | None = None) -> OnnxRecord:
    """The aikd record in a session's model metadata, else the contract of ``spec`` (the registry
    entry the file was fetched for); an ONNX file with neither is refused."""
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in meta:
        if spec is not None and spec.onnx is not None:
            return contract_record(session, path, spec)
        raise WeightsError(
            f"{path}: this ONNX file carries no aikd metadata, so its input normalisation and outputs are unknown",
            hint="export the model with `aikd export MODEL --format onnx`, or use a registered ONNX model by name (`aikd models`)",
        )
    try:
        info = json.loads(meta[METADATA_KEY])
        config = ModelConfig.from_dict(info["config"])
        graph = info.get("graph", {})
        quality = graph.get("quality", "quality") if config.task == "quality" else None
        return OnnxRecord(config, GraphSpec.from_dict(graph), info, input=graph.get("input", INPUT_NAME),
                          embedding=graph.get("embedding", "embedding"), quality=quality)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"{path}: malformed aikd metadata in the ONNX file ({exc})") from None


_PRECISIONS = {"tensor(float)": "fp32", "tensor(float16)": "fp16"}


def _output(outputs, ref: int | str | None, role: str, where: str):
    """The graph output ``ref`` (an index or a name) names, or ``None``."""
    if ref is None:
        return None
    if isinstance(ref, str) and not ref.isdigit():
        found = next((o for o in outputs if o.name == ref), None)
        if found is None:
            raise WeightsError(f"{where}: no graph output named {ref!r} for the {role} "
                               f"(outputs: {', '.join(o.name for o in outputs)})")
        return found
    if int(ref) >= len(outputs):
        raise WeightsError(f"{where}: the graph has {len(outputs)} output(s), none at index {ref} for the {role}")
    return outputs[int(ref)]


def input_shape(layout: str, side: int) -> tuple[int, int, int]:
    """The per-image input shape a graph of ``layout`` takes for ``side`` x ``side`` RGB crops."""
    return (3, side, side) if layout == "nchw" else (side, side, 3)


def contract_record(session, path: str | Path, spec: WeightsSpec) -> OnnxRecord:
    """The record of a third-party ONNX file, from its registry entry or the spec declared with
    ``aikd models add``; refused unless the graph has one image input of the declared shape and
    the outputs the entry names."""
    contract, config = spec.onnx, spec.config
    inputs, outputs = session.get_inputs(), session.get_outputs()
    where = f"{path} (registered as {spec.name})"
    want = input_shape(contract.layout, config.preprocess.size)
    shape_text = "(N, " + ", ".join(map(str, want)) + ")"
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].type not in _PRECISIONS:
        raise WeightsError(f"{where}: expected one float image input {shape_text}, found "
                           + ", ".join(f"{i.name} {i.type} {i.shape}" for i in inputs))
    if any(isinstance(d, int) and d != w for d, w in zip(inputs[0].shape[1:], want)):
        raise WeightsError(f"{where}: input shape {inputs[0].shape} does not take {shape_text} crops",
                           hint="declare the size (--size) and layout (--layout nchw|nhwc) the graph takes")
    emb = _output(outputs, contract.embedding, "embedding", where)
    quality = _output(outputs, contract.quality, "quality", where)
    if emb is not None and isinstance(emb.shape[-1], int) and emb.shape[-1] != config.embedding_size:
        raise WeightsError(f"{where}: embedding output {emb.name} is {emb.shape[-1]}-d, the entry says {config.embedding_size}")
    info = {"source": {"registry": spec.name, "hub": spec.hub_uri, "sha256": spec.sha256}}
    graph = GraphSpec(precision=_PRECISIONS[inputs[0].type], exporter="third-party", layout=contract.layout)
    return OnnxRecord(config, graph, info, input=inputs[0].name, embedding=emb.name if emb is not None else None,
                      quality=quality.name if quality is not None else None)


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
        spec: WeightsSpec | None = None,
    ) -> None:
        self.path = Path(path)
        self.source = source or str(path)
        self.session = open_session(self.path, device)
        record = read_record(self.session, self.path, spec)
        check_task(record.config, expect, self.source)
        if record.config.task == "detection":
            raise WeightsError(f"{self.source}: is a face detector; use it with --detector")
        if expect == "recognition" and record.embedding is None:
            raise WeightsError(
                f"{self.source}: gives a quality score but no embedding, so it cannot serve as a face-recognition model",
                hint="`aikd models --task recognition` lists FR models",
            )
        if precision not in ("auto", record.graph.precision):
            raise AikdError(
                f"{self.source}: ONNX models run at the precision they were exported with ({record.graph.precision}), "
                f"not {precision}",
                hint="drop --precision, or re-export with/without --fp16",
            )
        self.config, self.graph, self.info = record.config, record.graph, record.info
        self.record = record
        self.outputs = [name for name in (record.embedding, record.quality) if name is not None]
        batch = self.session.get_inputs()[0].shape[0]
        self.one_at_a_time = isinstance(batch, int) and batch == 1  # graphs exported with a fixed batch of 1
        self.device = onnx_device(self.session, device)

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def _run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        parts = [x[i : i + 1] for i in range(len(x))] if self.one_at_a_time else [x]
        runs = [self.session.run(self.outputs, {self.record.input: part}) for part in parts]
        return {name: np.concatenate([r[k] for r in runs]) for k, name in enumerate(self.outputs)}

    def __call__(self, crops: torch.Tensor) -> ModelOutput:
        crops = crops.cpu()
        if self.graph.preprocessing:
            x = crops.permute(0, 2, 3, 1).contiguous().numpy()
        else:
            x = self.config.preprocess(crops).numpy()
            if self.graph.layout == "nhwc":
                x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        out = self._run(x)
        rec = self.record
        emb = out[rec.embedding].reshape(len(x), -1) if rec.embedding else np.zeros((len(x), 0), np.float32)
        quality = out[rec.quality].reshape(-1) if rec.quality else None
        return ModelOutput(
            torch.from_numpy(np.asarray(emb, dtype=np.float32)),
            None if quality is None else torch.from_numpy(np.asarray(quality, dtype=np.float32)),
        )


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
