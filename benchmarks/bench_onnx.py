"""Throughput of ``aikd score``'s model step: onnxruntime (an ``aikd export``) vs torch, same model, fp32, CPU.

Both engines get the same uint8 crops and apply the model's own normalisation (TorchFaceModel in
channels-last torch, OnnxFaceModel with onnxruntime's default CPU settings). Rounds alternate between
the engines so that load from other processes hits both alike; the median of the rounds is reported
with the ratio onnxruntime / torch measured in the same run.

    PYTHONPATH=src python benchmarks/bench_onnx.py [--assets ../shared/assets] [--batch 32] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from aikd_cli.models.checkpoints import save_checkpoint
from aikd_cli.models.config import ModelConfig
from aikd_cli.models.inference import TorchFaceModel
from aikd_cli.models.loading import load_network
from aikd_cli.models.onnx_model import OnnxFaceModel
from aikd_cli.tasks.export import ExportOptions
from aikd_cli.tasks.export import run as export

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from factories import calibrated_net  # noqa: E402


def random_iresnet50(folder: Path) -> Path:
    """iResNet-50 + MLP head (eDifFIQA(M)'s architecture) with random weights and calibrated BatchNorm."""
    config = ModelConfig("iresnet50", "mlp")
    return save_checkpoint(folder / "iresnet50.safetensors", calibrated_net(config), config)


def throughput(model, crops: torch.Tensor, batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(crops), batch):
        model(crops[i : i + batch])
    return len(crops) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--assets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "assets"
    )
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--images", type=int, default=64, help="crops per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    crops = torch.randint(
        0, 256, (args.images, 3, 112, 112), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    print(
        f"CPU cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, load average before "
        f"{os.getloadavg()[0]:.1f}; batch {args.batch}, {args.images} crops x {args.rounds} rounds, fp32"
    )
    print(f"{'model':24s} {'torch img/s':>12s} {'onnxrt img/s':>13s} {'onnxrt/torch':>13s}")
    with tempfile.TemporaryDirectory() as tmp:
        models = [
            ("MobileFaceNet (kit)", args.assets / "models/fr/mobilefacenet_foamliu.pt"),
            ("iResNet-50 + MLP head", random_iresnet50(Path(tmp))),
        ]
        for label, weights in models:
            folder = Path(tmp) / label.split()[0]
            export(ExportOptions(weights, folder, "onnx", exporter="torchscript"))
            engines = {
                "torch": TorchFaceModel(load_network(weights), "cpu", "fp32"),
                "onnxruntime": OnnxFaceModel(folder / "model.onnx", device="cpu"),
            }
            rates: dict[str, list[float]] = {name: [] for name in engines}
            for model in engines.values():  # warm-up (allocations, oneDNN primitives)
                throughput(model, crops[: args.batch], args.batch)
            for _ in range(args.rounds):
                for name, model in engines.items():
                    rates[name].append(throughput(model, crops, args.batch))
            t, o = statistics.median(rates["torch"]), statistics.median(rates["onnxruntime"])
            print(f"{label:24s} {t:12.1f} {o:13.1f} {o / t:12.2f}x", flush=True)
    print(f"load average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
