"""Why does the distilled student's quality head not learn? Evidence on the kit's LFW set.

Everything here runs on cached teacher embeddings, so each head variant trains in seconds:

1. the label scale (mean, std) and the embedding scale (norm) the head sees;
2. head-only training on the frozen teacher embedding (the ceiling of a frozen backbone) with the
   recipe that was the default and with each candidate remedy (input scale, output bias at the
   label mean, standardised targets, learning rate), reporting train/validation loss against the
   "predict the label mean" baseline, the spread of the predictions and their Spearman with the labels;
3. the gradient norms of the two loss terms on the backbone tensors they share (the student at
   initialisation = the teacher), per trained tensor group, and the cosine between them.

Run: ``PYTHONPATH=src python benchmarks/aikd_diagnose.py --labels out/kit/train_cr.csv --out out/diag``
(a labels CSV from ``aikd label``: path, identity, quality, landmarks). Prints Markdown tables and
writes ``diagnose.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from aikd_cli.models.heads import MLPHead  # noqa: E402
from aikd_cli.tasks.distill.data import FaceViews, collate_views  # noqa: E402
from aikd_cli.tasks.distill.losses import spearman  # noqa: E402
from aikd_cli.tasks.distill.samples import read_manifest  # noqa: E402
from aikd_cli.tasks.distill.teacher import load_teacher  # noqa: E402


def crops_of(faces, p: float, seed: int, epoch: int, batch: int = 64):
    views = FaceViews(faces, perturb=p, seed=seed, warp_in_workers=True)
    loader = DataLoader(
        [(epoch, i) for i in range(len(faces))],
        batch_size=batch,
        collate_fn=lambda keys: collate_views([views[k] for k in keys]),
    )
    for b in loader:
        assert not b["bad"], b["bad"]
        yield b["crops"]


@torch.no_grad()
def embed(teacher, faces, p: float, draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Teacher embeddings of the clean crops (N, D) and of ``draws`` perturbed crops (draws, N, D)."""
    clean, noisy = [], [[] for _ in range(draws)]
    for d in range(max(draws, 1)):
        for c in crops_of(faces, p, seed, d):
            if d == 0:
                clean.append(teacher(c[:, 0])[0])
            if draws:
                noisy[d].append(teacher(c[:, 1])[0])
    return torch.cat(clean).numpy(), np.stack([torch.cat(n).numpy() for n in noisy]) if draws else None


def split(faces, fraction: float, seed: int):
    people = sorted({f.identity for f in faces})
    rng = np.random.default_rng(seed)
    held = set(rng.permutation(people)[: max(1, round(len(people) * fraction))].tolist())
    train = [i for i, f in enumerate(faces) if f.identity not in held]
    val = [i for i, f in enumerate(faces) if f.identity in held]
    return np.array(train), np.array(val)


def train_head(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    input_scale: float = 1.0,
    bias_at_mean: bool = False,
    standardise: bool = False,
    lr: float = 1e-3,
    wd: float = 1e-4,
    epochs: int = 3,
    batch: int = 32,
    seed: int = 0,
    normalise: bool = False,
) -> dict:
    """One head variant on fixed inputs (x_train may hold several noise draws: (draws, N, D))."""
    torch.manual_seed(seed)
    dim = x_train.shape[-1]
    head = MLPHead(dim, 1024)
    mu, sd = float(y_train.mean()), float(y_train.std())
    scale, shift = (sd, mu) if standardise else (1.0, 0.0)
    if bias_at_mean:
        with torch.no_grad():
            head.l2.weight.zero_()
            head.l2.bias.fill_(0.0 if standardise else mu)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=wd)
    xt = torch.from_numpy(x_train).float()
    if xt.ndim == 2:
        xt = xt[None]
    yt = torch.from_numpy(y_train).float()
    xv, yv = torch.from_numpy(x_val).float(), torch.from_numpy(y_val).float()

    def prep(x):
        x = F.normalize(x, dim=-1) if normalise else x
        return x * input_scale

    def predict(x):
        return head(prep(x)).squeeze(-1) * scale + shift

    g = torch.Generator().manual_seed(seed)
    n = len(yt)
    curve = []
    step = 0
    for epoch in range(epochs):
        order = torch.randperm(n, generator=g)
        view = xt[epoch % len(xt)]
        for start in range(0, n - batch + 1, batch):
            idx = order[start : start + batch]
            out = head(prep(view[idx])).squeeze(-1)
            target = (yt[idx] - shift) / scale
            loss = F.smooth_l1_loss(out, target, beta=0.5)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        with torch.no_grad():
            pv = predict(xv)
            curve.append(float(F.smooth_l1_loss(pv, yv, beta=0.5)))
    with torch.no_grad():
        pt, pv = predict(xt[0]), predict(xv)
    return {
        "train_loss": float(F.smooth_l1_loss(pt, yt, beta=0.5)),
        "val_loss": curve[-1],
        "val_curve": curve,
        "pred_std_val": float(pv.std()),
        "val_spearman": spearman(pv.numpy(), y_val),
        "steps": step,
    }


def gradient_balance(
    teacher_ref: str, faces, labels: np.ndarray, p: float, seed: int, tensors: int, batches: int
):
    """Gradient norms of the two loss terms on the backbone tensors they share, at initialisation."""
    from aikd_cli.tasks.distill.config import DistillConfig
    from aikd_cli.tasks.distill.student import build_student, parameter_groups, set_train_mode

    teacher = load_teacher(teacher_ref)
    student, config, _ = build_student(teacher, "teacher", 1024, seed)
    cfg = DistillConfig(backbone_tensors=tensors)
    groups = parameter_groups(student, cfg)
    shared = groups[1]["params"] if len(groups) > 1 else []
    head = groups[0]["params"]
    set_train_mode(student, True)
    mu = float(labels.mean())
    rows = []
    for b, c in enumerate(crops_of(faces, p, seed, 0, batch=32)):
        if b >= batches:
            break
        idx = slice(b * 32, b * 32 + len(c))
        y = torch.from_numpy(labels[idx]).float()
        e_t, _ = teacher(c[:, 0])
        emb, q = student(config.preprocess(c[:, 1]))
        cos = (1 - F.cosine_similarity(emb, e_t, dim=1)).mean()
        ql = F.smooth_l1_loss(q, y, beta=0.5)
        g_cos = torch.autograd.grad(cos, shared, retain_graph=True, allow_unused=True)
        g_q = torch.autograd.grad(ql, shared + head, allow_unused=True)
        gc = torch.cat(
            [(g if g is not None else torch.zeros_like(p_)).reshape(-1) for g, p_ in zip(g_cos, shared)]
        )
        gq = torch.cat(
            [
                (g if g is not None else torch.zeros_like(p_)).reshape(-1)
                for g, p_ in zip(g_q[: len(shared)], shared)
            ]
        )
        gh = torch.cat([g.reshape(-1) for g in g_q[len(shared) :]])
        rows.append(
            {
                "cos_loss": float(cos),
                "q_loss": float(ql),
                "q_loss_mean_baseline": float(F.smooth_l1_loss(torch.full_like(y, mu), y, beta=0.5)),
                "grad_cos_backbone": float(gc.norm()),
                "grad_q_backbone": float(gq.norm()),
                "grad_q_head": float(gh.norm()),
                "cosine_between": float(F.cosine_similarity(gc, gq, dim=0))
                if gc.norm() > 0 and gq.norm() > 0
                else math.nan,
                "pred_mean": float(q.mean()),
                "pred_std": float(q.std()),
            }
        )
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, required=True)
    parser.add_argument(
        "--backbone", default=str(ROOT.parent / "shared/assets/models/fr/mobilefacenet_foamliu.pt")
    )
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "diag")
    parser.add_argument("--p", type=float, default=3.0)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    faces = [f for f in read_manifest(args.labels) if math.isfinite(f.label)]
    labels = np.array([f.label for f in faces])
    cache = args.out / f"emb_p{args.p:g}_d{args.draws}_s{args.seed}.npz"
    if cache.exists():
        z = np.load(cache)
        clean, noisy = z["clean"], z["noisy"]
    else:
        teacher = load_teacher(args.backbone)
        clean, noisy = embed(teacher, faces, args.p, args.draws, args.seed)
        np.savez(cache, clean=clean, noisy=noisy)
    train, val = split(faces, 0.2, args.seed)
    norms = np.linalg.norm(clean, axis=1)
    report: dict = {
        "faces": len(faces),
        "train": len(train),
        "val": len(val),
        "label": {
            "mean": float(labels.mean()),
            "std": float(labels.std()),
            "min": float(labels.min()),
            "max": float(labels.max()),
        },
        "embedding_norm": {"median": float(np.median(norms)), "std": float(norms.std())},
        "spearman_norm_label": spearman(norms, labels),
        "mean_baseline_val_loss": float(
            F.smooth_l1_loss(
                torch.full((len(val),), float(labels[train].mean())),
                torch.from_numpy(labels[val]).float(),
                beta=0.5,
            )
        ),
    }
    med = float(np.median(norms))
    x_tr, x_va = noisy[:, train], noisy[0][val]  # the student's view: misaligned crops
    variants = {
        "as before (raw input, default init, AdamW 1e-3)": {},
        "head lr 1e-2": {"lr": 1e-2},
        "head lr 1e-4": {"lr": 1e-4},
        "output bias = label mean, l2 = 0": {"bias_at_mean": True},
        "input / median norm": {"input_scale": 1.0 / med},
        "standardised targets": {"standardise": True},
        "input / median norm + bias at mean": {"input_scale": 1.0 / med, "bias_at_mean": True},
        "input / median norm + standardised + bias at mean": {
            "input_scale": 1.0 / med,
            "bias_at_mean": True,
            "standardise": True,
        },
        "L2-normalised input + standardised + bias at mean": {
            "normalise": True,
            "bias_at_mean": True,
            "standardise": True,
        },
    }
    report["heads"] = {}
    for name, kw in variants.items():
        runs = [
            train_head(x_tr, labels[train], x_va, labels[val], epochs=args.epochs, seed=s, **kw)
            for s in range(3)
        ]
        report["heads"][name] = {k: float(np.mean([r[k] for r in runs])) for k in runs[0] if k != "val_curve"}
        report["heads"][name]["val_curve"] = np.mean([r["val_curve"] for r in runs], axis=0).tolist()
        print(name, report["heads"][name], flush=True)
    report["gradients"] = {
        f"last {t} tensors": gradient_balance(args.backbone, faces, labels, args.p, args.seed, t, 4)
        for t in (100,)
    }
    (args.out / "diagnose.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "heads"}, indent=2))
    print(
        "\n| head variant | train loss | val loss | mean-predictor val loss | pred std | Spearman vs label |"
    )
    print("|---|---|---|---|---|---|")
    for name, r in report["heads"].items():
        print(
            f"| {name} | {r['train_loss']:.4f} | {r['val_loss']:.4f} | {report['mean_baseline_val_loss']:.4f} | "
            f"{r['pred_std_val']:.4f} | {r['val_spearman']:.3f} |"
        )


if __name__ == "__main__":
    main()
