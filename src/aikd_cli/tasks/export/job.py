"""What is exported, described once for every format: the module, its example input, the names
and dynamic axes of its inputs and outputs, and the JSON record that travels inside each file."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aikd_cli.models.config import ModelConfig
from aikd_cli.models.loading import LoadedModel
from aikd_cli.models.onnx_model import INPUT_NAME, GraphSpec, output_names
from aikd_cli.models.preprocess import Preprocess

#: Axis names of the exported graphs (ints are fixed sizes); see docs/export.md.
Dims = tuple[str | int, ...]


class WithPreprocessing(nn.Module):
    """``(N, H, W, 3)`` uint8 RGB crops in; the model's colour order and normalisation inside the
    graph, so deployments outside Python cannot get ``(x/255 - mean)/std`` wrong."""

    def __init__(self, net: nn.Module, preprocess: Preprocess) -> None:
        super().__init__()
        self.net = net
        self.preprocess = preprocess

    def forward(self, x: torch.Tensor):
        return self.net(self.preprocess(x.permute(0, 3, 1, 2)))


@dataclass
class ExportJob:
    """One loaded model and the export options that apply to every format."""

    loaded: LoadedModel
    record: dict  # config + provenance, written into every artefact
    preprocessing: bool = False
    fp16: bool = False
    opset: int = 18
    exporter: str = "auto"  # ONNX: "auto" (dynamo, then TorchScript), "dynamo" or "torchscript"

    @property
    def config(self) -> ModelConfig:
        return self.loaded.config

    @property
    def is_detector(self) -> bool:
        return self.config.task == "detection"

    @property
    def outputs(self) -> tuple[str, ...]:
        return output_names(self.config)

    def module(self, preprocessing: bool) -> nn.Module:
        net = self.loaded.net.eval()
        return WithPreprocessing(net, self.config.preprocess).eval() if preprocessing else net

    def example(self, preprocessing: bool, batch: int = 2) -> torch.Tensor:
        """A tracing input; batch 2 so that no exporter specialises the batch axis to 1."""
        if self.is_detector:
            return torch.zeros(batch, 3, 320, 320)
        size = self.config.preprocess.size
        if preprocessing:
            return torch.zeros(batch, size, size, 3, dtype=torch.uint8)
        return torch.zeros(batch, 3, size, size)

    def input_dims(self, preprocessing: bool) -> Dims:
        if self.is_detector:
            return ("batch", 3, "height", "width")
        size = self.config.preprocess.size
        return ("batch", size, size, 3) if preprocessing else ("batch", 3, size, size)

    def output_dims(self) -> dict[str, Dims]:
        if self.is_detector:
            return {
                "loc": ("batch", "priors", 4),
                "conf": ("batch", "priors", 2),
                "landms": ("batch", "priors", 10),
            }
        dims: dict[str, Dims] = {"embedding": ("batch", self.config.embedding_size)}
        if "quality" in self.outputs:
            dims["quality"] = ("batch",)
        return dims

    def dynamic_shapes(self, preprocessing: bool) -> tuple[dict[int, object]]:
        """``torch.export`` dynamic shapes of the one input (the named axes of :meth:`input_dims`)."""
        from torch.export import Dim

        axes: dict[int, object] = {}
        for i, d in enumerate(self.input_dims(preprocessing)):
            if d == "batch":
                axes[i] = Dim("batch", min=1)
            elif isinstance(d, str):
                axes[i] = Dim.DYNAMIC
        return (axes,)

    def graph_record(self, preprocessing: bool, precision: str, exporter: str = "", opset: int = 0) -> dict:
        """The record embedded in a graph file: config, provenance, and how to feed the graph."""
        graph = GraphSpec(preprocessing, precision, exporter, opset).to_dict()
        return {
            **self.record,
            "graph": {
                **graph,
                "input": INPUT_NAME,
                "input_dims": list(self.input_dims(preprocessing)),
                "outputs": {k: list(v) for k, v in self.output_dims().items()},
            },
        }
