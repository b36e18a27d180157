"""Run a loaded face model on aligned crops: the one call ``score``, ``evaluate`` and ``distill``
share. Takes uint8 RGB crops, applies the model's own preprocessing, returns float32 outputs."""

from __future__ import annotations

import torch

from aikd_cli.models.face_model import FaceModel, ModelOutput
from aikd_cli.models.loading import LoadedModel
from aikd_cli.utils.device import Precision, autocast, resolve_device, resolve_precision


class TorchFaceModel:
    """A :class:`LoadedModel` on a device, in inference mode, channels-last (a :class:`FaceModel`)."""

    def __init__(self, loaded: LoadedModel, device: str | torch.device = "auto", precision: Precision = "auto") -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.source = loaded.source
        self.device = resolve_device(str(device))
        self.dtype = resolve_precision(precision, self.device)
        self.net = loaded.net.eval().to(self.device).to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, crops: torch.Tensor) -> ModelOutput:
        x = self.config.preprocess(crops.to(self.device, non_blocking=True))
        x = x.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.dtype):
            out = self.net(x)
        emb, quality = out if isinstance(out, tuple) else (out, None)
        return ModelOutput(
            emb.float().cpu(),
            None if quality is None else quality.float().reshape(-1).cpu(),
        )


def open_face_model(
    ref: str, *, device: str | torch.device = "auto", precision: Precision = "auto", expect: str | None = None
) -> FaceModel:
    """Open whatever ``--model`` names (registry name, file, folder, ``hf://``) ready to run.

    ``.onnx`` weights (an ``aikd export``) run through onnxruntime, everything else through torch.
    """
    from aikd_cli.models.loading import load_network, resolve_weights

    resolved = resolve_weights(ref)
    if resolved.path.suffix == ".onnx":
        from aikd_cli.models.onnx_model import OnnxFaceModel

        return OnnxFaceModel(
            resolved.path, device=device, precision=precision, source=str(ref), expect=expect, spec=resolved.spec
        )
    return TorchFaceModel(load_network(ref, expect=expect, resolved=resolved), device, precision)
