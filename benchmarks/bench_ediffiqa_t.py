"""Model-step throughput on the CPU: ``ediffiqa-t`` (ONNX, onnxruntime) vs ``ediffiqa-l`` (the default).

Speed does not depend on the weight values, so each model is timed with the weights at hand: the real
files when they are in the Hugging Face cache, else random weights of the same architecture --
eDifFIQA(L) is iResNet-100 + MLP; for eDifFIQA(T) the stand-in is aikd's MobileFaceNet (512-d) + MLP
exported to ONNX, the same family and size (1.7M parameters) as the OpenCV Zoo file. The script says
which it used. Rounds alternate between the models; medians and the ratio T / L from the same run.

    PYTHONPATH=src python benchmarks/bench_ediffiqa_t.py [--batch 32] [--images 64] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download in a benchmark (set before huggingface_hub loads)

import torch  # noqa: E402

from aikd_cli.errors import WeightsError  # noqa: E402
from aikd_cli.models.checkpoints import save_checkpoint  # noqa: E402
from aikd_cli.models.config import ModelConfig  # noqa: E402
from aikd_cli.models.inference import open_face_model  # noqa: E402
from aikd_cli.tasks.export import ExportOptions  # noqa: E402
from aikd_cli.tasks.export import run as export  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_onnx import throughput  # noqa: E402
from factories import calibrated_net  # noqa: E402


def model_or_stand_in(name: str, config: ModelConfig, folder: Path, onnx: bool):
    """The registered model if its file is cached here, else random weights of ``config``."""
    try:
        return open_face_model(name, device="cpu", precision="fp32"), f"{name} (real file)"
    except WeightsError:
        weights = save_checkpoint(folder / f"{config.arch}.safetensors", calibrated_net(config), config)
        if onnx:
            export(ExportOptions(weights, folder / config.arch, "onnx", exporter="torchscript"))
            weights = folder / config.arch / "model.onnx"
        return open_face_model(str(weights), device="cpu", precision="fp32"), f"{name} (stand-in: random {config.arch})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--images", type=int, default=64, help="crops per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    crops = torch.randint(0, 256, (args.images, 3, 112, 112), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    print(f"CPU cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, load average before "
          f"{os.getloadavg()[0]:.1f}; batch {args.batch}, {args.images} crops x {args.rounds} rounds, fp32")
    with tempfile.TemporaryDirectory() as tmp:
        models = {
            "T": model_or_stand_in("ediffiqa-t", ModelConfig("mobilefacenet", "mlp"), Path(tmp), onnx=True),
            "L": model_or_stand_in("ediffiqa-l", ModelConfig("iresnet100", "mlp"), Path(tmp), onnx=False),
        }
        rates: dict[str, list[float]] = {key: [] for key in models}
        for model, _ in models.values():  # warm-up (allocations, oneDNN primitives)
            throughput(model, crops[: args.batch], args.batch)
        for _ in range(args.rounds):
            for key, (model, _) in models.items():
                rates[key].append(throughput(model, crops, args.batch))
    for key, (_, label) in models.items():
        print(f"{label:48s} {statistics.median(rates[key]):8.1f} faces/s")
    ratio = statistics.median(rates["T"]) / statistics.median(rates["L"])
    print(f"ediffiqa-t / ediffiqa-l: {ratio:.1f}x; load average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
