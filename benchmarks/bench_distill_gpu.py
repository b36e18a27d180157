"""GPU check: distillation steps/s and peak memory for an iResNet-100 teacher/student, bf16,
batch 128 and 256, with both views warped on the GPU vs on CPU workers.

Synthetic photos (JPEG files of random sizes, so decoding is real work) and a randomly initialised
iResNet-100 written as an aikd checkpoint (the speed does not depend on the weights) go through the
real engine: ``load_teacher`` -> ``prepare_run`` -> ``Distiller.train_step``. Each setting runs
``--warmup`` untimed steps, then ``--steps`` timed ones.

    PYTHONPATH=src python benchmarks/bench_distill_gpu.py                       # the GPU check (minutes)
    PYTHONPATH=src python benchmarks/bench_distill_gpu.py --device cpu --tiny   # smoke test of the script

``--json FILE`` also writes the results as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from aikd_cli.faces.align import template  # noqa: E402
from aikd_cli.faces.landmarks import LANDMARK_COLUMNS  # noqa: E402
from aikd_cli.models.build import build_model  # noqa: E402
from aikd_cli.models.checkpoints import save_checkpoint  # noqa: E402
from aikd_cli.models.config import ModelConfig  # noqa: E402
from aikd_cli.tasks.distill.config_file import resolve_config  # noqa: E402
from aikd_cli.tasks.distill.training import prepare_run  # noqa: E402


def synthetic_photos(folder: Path, count: int, seed: int = 0) -> Path:
    """``count`` JPEGs of 200-500 px with a face-sized template of landmarks, and their manifest."""
    rng = np.random.default_rng(seed)
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", *LANDMARK_COLUMNS, "quality"])
        for i in range(count):
            h, w = rng.integers(200, 500, size=2)
            coarse = rng.integers(0, 255, size=(12, 12, 3), dtype=np.uint8)
            image = Image.fromarray(coarse).resize((int(w), int(h)), Image.BILINEAR)
            path = folder / f"{i:05d}.jpg"
            image.save(path, quality=90)
            scale = min(h, w) / 200
            lm = (template(112).numpy() - 56) * scale + np.array([w / 2, h / 2])
            writer.writerow([path.name, *(f"{v:.2f}" for v in lm.reshape(-1)), f"{rng.random():.4f}"])
    return manifest


def run_setting(manifest: Path, teacher: Path, out: Path, args, batch: int, warp_on: str) -> dict:
    config = resolve_config(
        None,
        {
            "data": [str(manifest)],
            "backbone": str(teacher),
            "output": str(out),
            "batch_size": batch,
            "max_steps": args.warmup + args.steps,
            "val_fraction": 0.0,
            "workers": args.workers,
            "device": args.device,
            "precision": args.precision,
            "warp_on": warp_on,
            "warmup": 0.0,
            "backbone_tensors": -1,
        },
    )
    run = prepare_run(config)
    device = run.device
    cuda = device.type == "cuda"
    run.sampler.set_position(0, 0)
    loader = iter(run.train_loader)
    run.student.train()

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    for _ in range(args.warmup):
        run.train_step(next(loader))
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        run.train_step(next(loader))
    sync()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if cuda else float("nan")
    del run, loader
    if cuda:
        torch.cuda.empty_cache()
    return {
        "batch": batch,
        "warp_on": warp_on,
        "steps_per_s": args.steps / seconds,
        "images_per_s": args.steps * batch / seconds,
        "peak_gib": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--arch", default="iresnet100")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--tiny", action="store_true", help="iresnet18, batches 2 and 4, 1 step: checks the script runs"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.tiny:
        args.arch, args.batch_sizes, args.steps, args.warmup, args.workers = "iresnet18", [2, 4], 1, 1, 2
        if args.device == "cpu":
            args.precision = "fp32"  # bf16 on CPUs without bf16 units is only slow, not informative
    photos = max(args.batch_sizes) * (args.warmup + args.steps) + 1
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "photos").mkdir()
        t = time.perf_counter()
        manifest = synthetic_photos(tmp / "photos", photos)
        print(f"{photos} synthetic photos in {time.perf_counter() - t:.0f} s", flush=True)
        config = ModelConfig(arch=args.arch)
        teacher = save_checkpoint(
            tmp / "teacher.safetensors", build_model(config).eval(), config, {"note": "random"}
        )
        name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
        print(f"{args.arch} teacher/student, {args.precision}, {name}, {args.workers} workers\n")
        print("| batch | warps on | steps/s | images/s | peak GPU memory (GiB) |")
        print("|---|---|---|---|---|")
        for batch in args.batch_sizes:
            for warp_on in ("device", "workers"):
                r = run_setting(manifest, teacher, tmp / f"run-{batch}-{warp_on}", args, batch, warp_on)
                results.append(r)
                where = f"training device ({args.device})" if warp_on == "device" else "CPU workers"
                print(
                    f"| {batch} | {where} | {r['steps_per_s']:.2f} | "
                    f"{r['images_per_s']:.0f} | {r['peak_gib']:.1f} |",
                    flush=True,
                )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "arch": args.arch,
                    "precision": args.precision,
                    "device": name,
                    "workers": args.workers,
                    "results": results,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
