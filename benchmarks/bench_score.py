"""Throughput of `aikd score --aligned` against the official AI-KD inference recipe, same weights.

Baseline (written the way LSIbabnikz/AI-KD's inference.py does it): os.walk over the crops, PIL
open + convert("RGB"), torchvision Resize((112,112)) + ToTensor + Normalize(0.5, 0.5), a DataLoader
with batch_size=128 and no workers, fp32 eager under no_grad. Ours: `aikd_cli.score(ScoreOptions(aligned=True, ...))`
(decode workers, channels-last, inference mode) in fp32 and in bf16. Same iResNet-100 + MLP weights
(random, seeded, saved in eDifFIQA layout: no pretrained weights can be downloaded here), measured in
the same run; prints img/s, ratios, the largest score difference and whether the ranking is identical.
Then the full photo pipeline (detect + align + score) on kit photos.

    python benchmarks/bench_score.py --n 256
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get("AIKD_ASSETS", ROOT.parent / "shared" / "assets"))
sys.path.insert(0, str(ROOT / "tests"))


def make_crops(folder: Path, n: int) -> None:
    """Aligned 112x112 crops of kit LFW photos, made with `aikd align`'s engine."""
    from aikd_cli.tasks.align import AlignOptions
    from aikd_cli.tasks.align import run as align_run

    photos = sorted((ASSETS / "lfw").rglob("*.jpg"))[:n]
    detector = str(ASSETS / "models" / "retinaface" / "mobilenet0.25_Final.pth")
    align_run(AlignOptions(inputs=[str(p) for p in photos], output=folder, detector=detector, workers=1, device="cpu"))


def baseline(crops: Path, weights: Path) -> tuple[dict[str, float], float]:
    """The official inference recipe, step for step (model class aside: the same network)."""
    from PIL import Image
    from torch.utils.data import DataLoader
    from torchvision import transforms

    from aikd_cli.models.loading import load_network

    model = load_network(weights).net.eval()
    trans = transforms.Compose([transforms.Resize([112, 112]), transforms.ToTensor(),
                                transforms.Normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])])
    items = [os.path.join(d, f) for d, _, fs in os.walk(crops) for f in fs if f.endswith(".png")]

    class Wrapper:
        def __len__(self):
            return len(items)

        def __getitem__(self, i):
            return items[i], trans(Image.open(items[i]).convert("RGB"))

    scores = {}
    start = time.perf_counter()
    with torch.no_grad():
        for names, batch in DataLoader(Wrapper(), batch_size=128):
            _, preds = model(batch)
            scores.update(zip(names, preds.detach().squeeze().cpu().numpy().tolist()))
    return scores, time.perf_counter() - start


def ours(crops: Path, weights: Path, precision: str, workers: int) -> tuple[dict[str, float], float]:
    from aikd_cli.models.inference import open_face_model
    from aikd_cli.tasks.score import ScoreOptions
    from aikd_cli.tasks.score import run as score_run

    model = open_face_model(str(weights), device="cpu", precision=precision)
    out = Path(tempfile.mkdtemp()) / "scores.csv"
    start = time.perf_counter()
    score_run(ScoreOptions(inputs=[str(crops)], output=out, aligned=True, batch_size=64, workers=workers), model=model)
    seconds = time.perf_counter() - start
    with open(out) as f:
        return {os.path.normpath(r["path"]): float(r["quality"]) for r in csv.DictReader(f)}, seconds


def compare(name: str, ref: dict, got: dict, seconds: float, base_seconds: float) -> None:
    keys = sorted(ref)
    a = np.array([ref[k] for k in keys])
    b = np.array([got[os.path.normpath(k)] for k in keys])
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    rho = 1 - 6 * ((ra - rb) ** 2).sum() / (len(a) * (len(a) ** 2 - 1))
    print(f"{name:<22} {len(keys) / seconds:7.2f} img/s  x{base_seconds / seconds:4.2f}  "
          f"max|dq|={np.abs(a - b).max():.2e} (score std {a.std():.2e})  spearman={rho:.6f}  "
          f"identical ranking={'yes' if (ra == rb).all() else 'no'}")


def photo_pipeline(weights: Path, n: int) -> None:
    from aikd_cli.models.inference import open_face_model
    from aikd_cli.tasks.score import ScoreOptions
    from aikd_cli.tasks.score import run as score_run

    detector = str(ASSETS / "models" / "retinaface" / "mobilenet0.25_Final.pth")
    model = open_face_model(str(weights), device="cpu", precision="fp32")
    for label, photos in (("LFW 250x250 photos", sorted((ASSETS / "lfw").rglob("*.jpg"))[:n]),
                          ("kit faces/ (up to 14 MP)", sorted(p for p in (ASSETS / "faces").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")))):
        out = Path(tempfile.mkdtemp()) / "scores.csv"
        start = time.perf_counter()
        s = score_run(ScoreOptions(inputs=[str(p) for p in photos], output=out, detector=detector, workers=2), model=model)
        seconds = time.perf_counter() - start
        print(f"full pipeline, {label:<24} {s.images / seconds:6.2f} img/s ({s.images} images, {seconds:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="number of crops")
    parser.add_argument("--arch", default="iresnet100")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    from factories import make_quality_net, save_ediffiqa_layout

    tmp = Path(tempfile.mkdtemp(prefix="aikd-bench-"))
    crops = tmp / "crops"
    make_crops(crops, args.n)
    weights = save_ediffiqa_layout(make_quality_net(arch=args.arch, embedding_size=512, head_hidden=1024), tmp / "w.pth")
    print(f"{args.arch}, {args.n} crops, torch {torch.__version__}, {torch.get_num_threads()} threads")
    ref, base_seconds = baseline(crops, weights)
    print(f"{'baseline (AI-KD recipe)':<22} {len(ref) / base_seconds:7.2f} img/s")
    for precision in ("fp32", "bf16"):
        got, seconds = ours(crops, weights, precision, args.workers)
        compare(f"aikd score {precision}", ref, got, seconds, base_seconds)
    photo_pipeline(weights, args.n)


if __name__ == "__main__":
    main()
