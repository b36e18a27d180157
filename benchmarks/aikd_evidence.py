"""Does AI-KD make quality stable under misalignment? A small, honest experiment on the kit's LFW set.

1. ``aikd label`` (CR-FIQA certainty ratio) with the kit's real MobileFaceNet on all 2,000 LFW photos
   (landmarks from the kit's RetinaFace, cached in the labels file).
2. Split the 500 people: ``--test-people`` held out, the rest for training.
3. Train two students with the same budget, both initialised from the frozen MobileFaceNet teacher:
   * AI-KD: p = 3 px landmark noise, embedding + quality loss;
   * plain regressor: p = 0 (correctly aligned faces only), quality loss only.
4. On the held-out people: quality on correctly aligned faces vs on perturbed-landmark faces
   (Spearman rank correlation, p = 3, 5, 8 px, one seeded draw shared by every model), and the
   error against the labels. The teacher's own CR (recomputed from perturbed embeddings against the
   clean identity centres) is reported as the reference for how much misalignment moves the label.

Run: ``PYTHONPATH=src python benchmarks/aikd_evidence.py --out runs/evidence`` (CPU; see --help for
the budget knobs). Prints a Markdown table and writes ``results.json`` in ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from aikd_cli.models.inference import open_face_model  # noqa: E402
from aikd_cli.tasks.distill.config import resolve_config  # noqa: E402
from aikd_cli.tasks.distill.data import FaceViews, collate_views  # noqa: E402
from aikd_cli.tasks.distill.labels import certainty_ratio, label_faces  # noqa: E402
from aikd_cli.tasks.distill.losses import spearman  # noqa: E402
from aikd_cli.tasks.distill.run import distill  # noqa: E402
from aikd_cli.tasks.distill.samples import read_manifest  # noqa: E402

EVAL_SEED = 1234


def split_people(labels: Path, test_people: int, seed: int, out: Path) -> tuple[Path, Path]:
    rows = [r for r in csv.DictReader(open(labels, newline="")) if r["status"] == "ok"]
    people = sorted({r["identity"] for r in rows})
    random.Random(seed).shuffle(people)
    held = set(people[:test_people])
    paths = {}
    for name, keep in (
        ("train", lambda r: r["identity"] not in held),
        ("test", lambda r: r["identity"] in held),
    ):
        path = out / f"{name}.csv"
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            # labels.csv paths are relative to its folder, which is also this folder
            writer.writerows(r for r in rows if keep(r))
        paths[name] = path
    return paths["train"], paths["test"]


def crops(faces, p: float, workers: int, batch: int):
    """Aligned (p = 0) or perturbed crops of every face, in order, with one seeded noise draw."""
    views = FaceViews(faces, perturb=p, seed=EVAL_SEED, warp_in_workers=True)
    loader = DataLoader(views, batch_size=batch, num_workers=workers, collate_fn=collate_views)
    for b in loader:
        assert not b["bad"], b["bad"]
        yield b["crops"][:, 1]  # view 1 is the perturbed one (identical to view 0 when p = 0)


@torch.no_grad()
def run_model(model, faces, p, workers, batch):
    emb, qual = [], []
    for c in crops(faces, p, workers, batch):
        out = model(c)
        emb.append(out.embedding)
        if out.quality is not None:
            qual.append(out.quality)
    return torch.cat(emb), (torch.cat(qual).numpy() if qual else None)


def teacher_cr(teacher, faces, p_levels, workers, batch) -> dict:
    """CR labels of the held-out faces when the teacher embeds perturbed crops (centres stay clean)."""
    names = [f.identity for f in faces]
    clean, _ = run_model(teacher, faces, 0.0, workers, batch)
    ids = sorted(set(names))
    unit = torch.nn.functional.normalize(clean.double(), dim=1)
    centres = torch.stack([unit[[i for i, n in enumerate(names) if n == k]].mean(0) for k in ids])
    centres = torch.nn.functional.normalize(centres, dim=1)
    own = torch.tensor([ids.index(n) for n in names])

    def cr(emb):
        sims = torch.nn.functional.normalize(emb.double(), dim=1) @ centres.T
        ccs = sims[torch.arange(len(own)), own].clone()
        sims[torch.arange(len(own)), own] = -2.0
        return (ccs / (sims.max(1).values + 1.0 + 1e-9)).numpy()

    base = certainty_ratio(clean, names)[0].numpy()
    result = {"stability": {}}
    for p in p_levels:
        perturbed, _ = run_model(teacher, faces, p, workers, batch)
        result["stability"][p] = spearman(base, cr(perturbed))
    return result


def evaluate(model, faces, p_levels, workers, batch) -> dict:
    labels = np.array([f.label for f in faces])
    _, q0 = run_model(model, faces, 0.0, workers, batch)
    result = {
        "q_std": float(np.std(q0)),
        "label_mae": float(np.mean(np.abs(q0 - labels))),
        "label_spearman": spearman(q0, labels),
        "stability": {},
        "mean_abs_shift": {},
    }
    result["q"] = {0.0: q0}
    for p in p_levels:
        _, qp = run_model(model, faces, p, workers, batch)
        result["stability"][p] = spearman(q0, qp)
        result["mean_abs_shift"][p] = float(np.mean(np.abs(qp - q0)))
        result["q"][p] = qp
    return result


def paired_bootstrap(a: dict, b: dict, p: float, draws: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95 % interval of stability(a) - stability(b) at ``p``, resampling the held-out faces."""
    rng = np.random.default_rng(seed)
    n = len(a["q"][0.0])
    diffs = []
    for _ in range(draws):
        i = rng.integers(0, n, n)
        diffs.append(spearman(a["q"][0.0][i], a["q"][p][i]) - spearman(b["q"][0.0][i], b["q"][p][i]))
    low, high = np.percentile(diffs, [2.5, 97.5])
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--assets", type=Path, default=Path(os.environ.get("AIKD_ASSETS", ROOT.parent / "shared" / "assets"))
    )
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "evidence")
    parser.add_argument("--test-people", type=int, default=100)
    parser.add_argument("--train-people", type=int, default=0, help="0: all people not held out")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backbone-tensors", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--p", type=float, nargs="+", default=[3.0, 5.0, 8.0])
    parser.add_argument("--seed", type=int, default=0)
    # the reference's SGD (lr 0.05) made the quality loss grow on this small, small-batch CPU budget;
    # AdamW with frozen BatchNorm statistics learns within it (both students get the same settings)
    parser.add_argument("--optimizer", default="adamw")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-backbone", type=float, default=3e-4)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--freeze-bn", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    fr = str(args.assets / "models" / "fr" / "mobilefacenet_foamliu.pt")
    det = str(args.assets / "models" / "retinaface" / "mobilenet0.25_Final.pth")
    timings: dict[str, float] = {}

    labels = args.out / "labels.csv"
    if not labels.exists():
        t = time.perf_counter()
        result = label_faces(
            args.assets / "lfw" / "identities.csv",
            fr,
            labels,
            detector=det,
            device="cpu",
            precision="fp32",
            workers=args.workers,
        )
        timings["label"] = time.perf_counter() - t
        print(f"labelled {result.labelled} faces ({result.skipped}) in {timings['label']:.0f} s", flush=True)
    train_csv, test_csv = split_people(labels, args.test_people, args.seed, args.out)
    if args.train_people:
        rows = list(csv.DictReader(open(train_csv, newline="")))
        keep = sorted({r["identity"] for r in rows})[: args.train_people]
        with open(train_csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(r for r in rows if r["identity"] in keep)

    students = {
        "AI-KD (p=3, cos+q)": {"perturb": 3.0, "lambda_cos": 1.0, "lambda_q": 1.0, "cache_teacher": True},
        "plain regressor (p=0, q only)": {"perturb": 0.0, "lambda_cos": 0.0, "lambda_q": 1.0},
    }
    runs = {}
    for name, extra in students.items():
        out = args.out / ("aikd" if extra["perturb"] else "plain")
        if not (out / "best.safetensors").exists() or not (out / "done").exists():
            if out.exists():
                import shutil

                shutil.rmtree(out)
            config = resolve_config(
                None,
                {
                    "data": [str(train_csv)],
                    "backbone": fr,
                    "output": str(out),
                    "epochs": args.epochs,
                    "batch_size": args.batch_size,
                    "backbone_tensors": args.backbone_tensors,
                    "workers": args.workers,
                    "val_fraction": 0.05,
                    "val_every": 0.5,
                    "log_every": 5,
                    "device": "cpu",
                    "seed": args.seed,
                    "optimizer": args.optimizer,
                    "lr": args.lr,
                    "lr_backbone": args.lr_backbone,
                    "weight_decay": args.weight_decay,
                    "freeze_bn": args.freeze_bn,
                    **extra,
                },
            )
            t = time.perf_counter()
            distill(config)
            timings[f"train {name}"] = time.perf_counter() - t
            (out / "done").write_text("")
            print(f"trained {name} in {timings[f'train {name}']:.0f} s", flush=True)
        runs[name] = out / "best.safetensors"

    test = [f for f in read_manifest(test_csv) if np.isfinite(f.label)]
    t = time.perf_counter()
    results = {
        "test_faces": len(test),
        "test_people": len({f.identity for f in test}),
        "p": args.p,
        "models": {},
    }
    teacher = open_face_model(fr, device="cpu", precision="fp32")
    results["teacher_cr"] = teacher_cr(teacher, test, args.p, args.workers, args.batch_size)
    for name, path in runs.items():
        results["models"][name] = evaluate(
            open_face_model(str(path), device="cpu", precision="fp32"),
            test,
            args.p,
            args.workers,
            args.batch_size,
        )
        results["models"][name]["training"] = [
            json.loads(x) for x in (path.parent / "metrics.jsonl").read_text().splitlines()
        ][-1]
    timings["evaluate"] = time.perf_counter() - t
    first, second = list(results["models"].values())
    results["stability_difference_ci95"] = {p: paired_bootstrap(first, second, p) for p in args.p}
    np.savez(
        args.out / "qualities.npz",
        **{
            f"{'aikd' if i == 0 else 'plain'}_p{p:g}": q
            for i, r in enumerate(results["models"].values())
            for p, q in r["q"].items()
        },
    )
    for r in results["models"].values():
        del r["q"]
    results["timings_s"] = timings
    results["settings"] = vars(args) | {"assets": str(args.assets), "out": str(args.out)}
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))

    ps = args.p
    print(f"\nHeld-out: {results['test_faces']} faces of {results['test_people']} people\n")
    print(
        "| model | "
        + " | ".join(f"Spearman q(aligned) vs q(p={p:g})" for p in ps)
        + " | label MAE | Spearman vs label |"
    )
    print("|---|" + "---|" * (len(ps) + 2))
    for name, r in results["models"].items():
        stab = " | ".join(f"{r['stability'][p]:.3f}" for p in ps)
        print(f"| {name} | {stab} | {r['label_mae']:.4f} | {r['label_spearman']:.3f} |")
    stab = " | ".join(f"{results['teacher_cr']['stability'][p]:.3f}" for p in ps)
    print(f"| teacher CR label itself (no student) | {stab} | 0 | 1 |")
    print(
        "\nmean |q(p) - q(aligned)|: "
        + "; ".join(
            f"{name}: " + ", ".join(f"p={p:g} {r['mean_abs_shift'][p]:.4f}" for p in ps)
            for name, r in results["models"].items()
        )
    )
    print(
        "std of q(aligned): "
        + "; ".join(f"{name}: {r['q_std']:.4f}" for name, r in results["models"].items())
    )
    ci = results["stability_difference_ci95"]
    print(
        "stability difference AI-KD - plain, 95% paired bootstrap interval over faces: "
        + "; ".join(f"p={p:g} [{lo:+.3f}, {hi:+.3f}]" for p, (lo, hi) in ci.items())
    )
    print("timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))


if __name__ == "__main__":
    main()
