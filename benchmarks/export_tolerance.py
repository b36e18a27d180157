"""Measure how far ONNX exports drift from the torch model, to set the verification tolerances.

For each model, exporter and precision: export with aikd's own ONNX path, then run the verification
(random images at batch 1 and 2, real kit photos as one batch) and print the worst error
``max|onnx - torch| / max(1, max|torch|)`` and where it occurred. The tolerances in
``aikd_cli.tasks.export.verify.TOLERANCES`` are set from this table (docs/export.md).

    PYTHONPATH=src python benchmarks/export_tolerance.py [--assets ../shared/assets] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from aikd_cli.images.decode import load_image
from aikd_cli.models.config import ModelConfig
from aikd_cli.models.loading import LoadedModel, load_network
from aikd_cli.tasks.export.job import ExportJob
from aikd_cli.tasks.export.onnx_export import export_onnx
from aikd_cli.tasks.export.verify import make_samples, onnx_runner, verify

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from factories import calibrated_net  # noqa: E402


def calibrated(config: ModelConfig) -> LoadedModel:
    """Random weights with BatchNorm statistics of smooth random images (trained-network scale)."""
    return LoadedModel(calibrated_net(config), config, f"random {config.arch}", "aikd")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--assets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "assets"
    )
    parser.add_argument("--quick", action="store_true", help="skip the dynamo exporter on the large models")
    args = parser.parse_args()
    photos = [load_image(p) for p in sorted((args.assets / "faces").rglob("*.jpg"))[::40][:4]]
    models = [
        (
            "MobileFaceNet (kit weights)",
            load_network(args.assets / "models/fr/mobilefacenet_foamliu.pt"),
            True,
        ),
        (
            "RetinaFace-MNet0.25 (kit weights)",
            load_network(args.assets / "models/retinaface/mobilenet0.25_Final.pth"),
            True,
        ),
        (
            "iResNet-50 + MLP head (random, calibrated)",
            calibrated(ModelConfig("iresnet50", "mlp")),
            not args.quick,
        ),
        ("iResNet-100 + qs head (random, calibrated)", calibrated(ModelConfig("iresnet100", "qs")), False),
    ]
    print(f"{'model':44s} {'exporter':12s} {'prec':5s} {'worst error':>12s}  where")
    with tempfile.TemporaryDirectory() as tmp:
        for label, loaded, with_dynamo in models:
            record = {"config": loaded.config.to_dict()}
            samples = make_samples(ExportJob(loaded, record), photos)
            runs = [("torchscript", False), ("torchscript", True)] + (
                [("dynamo", False)] if with_dynamo else []
            )
            for exporter, fp16 in runs:
                job = ExportJob(loaded, record, fp16=fp16, exporter=exporter)
                path = Path(tmp) / "m.onnx"
                start = time.perf_counter()
                export_onnx(job, path)
                check = verify(
                    job,
                    onnx_runner(path, job),
                    samples,
                    preprocessing=False,
                    precision="fp16" if fp16 else "fp32",
                )
                w = check.worst
                print(
                    f"{label:44s} {exporter:12s} {'fp16' if fp16 else 'fp32':5s} {w.error:12.2e}  "
                    f"{w.output} ({w.sample}); |diff| {w.max_abs:.2e}, scale {w.scale:.3g}; "
                    f"{time.perf_counter() - start:.0f} s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
