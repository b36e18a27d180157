"""Detection throughput: per-size batches (aikd now) vs padding every batch to its largest image
(aikd 0.1.0), on the kit, in the same run, decoded images in memory.

The 0.1.0 baseline is re-created here: each batch zero-padded (top-left) to its largest prepared
image, rounded up to stride 32, one forward pass. It is faster on mixed-size folders because it
runs fewer, larger batches, and wrong because the padding moves landmarks (printed as drift
against each image detected alone).

    python benchmarks/bench_detect_batching.py --batch 16 --repeats 3
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
import torch
from torchvision.ops import nms

from aikd_cli.faces.detector import FaceDetector, order_faces
from aikd_cli.images.decode import load_image
from aikd_cli.models.loading import load_network
from aikd_cli.models.retinaface import decode, priors

ROOT = Path(__file__).resolve().parents[1]


@torch.inference_mode()
def padded_detect(det: FaceDetector, images: list[np.ndarray]) -> list[np.ndarray]:
    """aikd 0.1.0's batching: largest-face landmarks per image, batch padded to its largest member."""
    prepared = [det.prepare(im) for im in images]
    stride = max(det.model.cfg.steps)
    height = -(-max(p.tensor.shape[1] for p in prepared) // stride) * stride
    width = -(-max(p.tensor.shape[2] for p in prepared) // stride) * stride
    batch = torch.zeros(len(prepared), 3, height, width)
    for i, p in enumerate(prepared):
        batch[i, :, : p.tensor.shape[1], : p.tensor.shape[2]] = p.tensor
    loc, conf, landms = det.model(batch)
    scores = conf.softmax(-1)[..., 1]
    boxes, points = decode(loc, landms, priors(det.model.cfg, height, width), det.model.cfg.variances)
    out = []
    for i, p in enumerate(prepared):
        keep = scores[i] > det.score_threshold
        b, s = boxes[i][keep] * torch.tensor([width, height] * 2), scores[i][keep]
        pts = points[i][keep] * torch.tensor([width, height])
        order = nms(b, s, det.nms_threshold)
        if len(order) == 0:
            out.append(None)
            continue
        b = b[order].double() / torch.tensor([p.scale_x, p.scale_y] * 2)
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        out.append((pts[order][int(area.argmax())].double() / torch.tensor([p.scale_x, p.scale_y])).numpy())
    return out


def run(fn, images, batch):
    """CPU seconds (process time: meaningful when other jobs share the machine) and results."""
    t0 = time.process_time()
    results = []
    for k in range(0, len(images), batch):
        results += fn(images[k : k + batch])
    return time.process_time() - t0, results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assets", type=Path, default=ROOT.parent / "shared" / "assets")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--det-size", type=int, default=640)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    # one thread and process CPU time: timings that stay meaningful when other jobs share the
    # machine (with several threads, spin-waiting under contention inflates CPU time)
    torch.set_num_threads(args.threads)
    net = load_network(args.assets / "models" / "retinaface" / "mobilenet0.25_Final.pth", expect="detection").net
    det = FaceDetector(net, max_size=args.det_size)
    faces = sorted(p for p in (args.assets / "faces").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    lfw = random.Random(0).sample(sorted((args.assets / "lfw").rglob("*.jpg")), 256)
    print(f"det-size {args.det_size}, batch {args.batch}, best of {args.repeats}")
    print("set | images | distinct sizes | 0.1.0 padded img/CPU-s | per-size img/CPU-s | ratio | 0.1.0 drift median / max px",
          flush=True)
    for name, paths in (("faces/ (mixed sizes)", faces), ("lfw/ (250x250)", lfw)):
        images = [load_image(p) for p in paths]
        sizes = len({im.shape[:2] for im in images})

        def ours(chunk):
            return [order_faces(f)[0].landmarks if f else None for f in det.detect(chunk)]

        best_old, best_new = float("inf"), float("inf")
        for _ in range(args.repeats):  # interleaved, so both see the same machine load
            t_old, old = run(lambda c: padded_detect(det, c), images, args.batch)
            t_new, new = run(ours, images, args.batch)
            best_old, best_new = min(best_old, t_old), min(best_new, t_new)
        alone = [ours([im])[0] for im in images]
        drift = [np.abs(o - a).max() for o, a in zip(old, alone) if o is not None and a is not None]
        same = max(np.abs(n - a).max() for n, a in zip(new, alone) if n is not None and a is not None)
        n = len(images)
        print(f"{name} | {n} | {sizes} | {n / best_old:.2f} | {n / best_new:.2f} | {best_old / best_new:.2f}x | "
              f"{np.median(drift):.2f} / {np.max(drift):.2f} (per-size: {same:.4f})", flush=True)


if __name__ == "__main__":
    main()
