"""AI-KD against a plain regressor by the paper's metric (EDC pAUC), with aikd's own commands.

Hold out ``--test-people`` LFW people (``--split-seed``) and label the rest with ``aikd label``
(``--schemes``: the FR model's embedding norm, CR-FIQA certainty ratio, SDD-FIQA). For each training
seed, train two students from the same frozen MobileFaceNet at the same budget with ``aikd distill``
(AI-KD: ``--aikd-options``, by default p = 3 px with the embedding and quality terms; plain: p = 0,
quality only), and run ``aikd evaluate`` on all pairs of the held-out people at p = 0, 2, 3, 5 px and
at IOD-relative levels. One split serves every seed: the seeds measure the training's variance, the
bootstrap over identities the test set's. Then, from the same cached model outputs ``aikd evaluate``
computed:

* 95 % bootstrap intervals over held-out identities (mated pairs of resampled identities, the
  threshold fixed once on all non-mated pairs, as in the EDC protocol) for each model and p, and
  for the paired difference AI-KD - plain, with the number of false non-matches behind each curve;
* the FR embedding norm yardstick at every p (the norm of the teacher's embedding of the same
  misaligned crop: a training-free quality that sees the same misalignment);
* the mechanism: Spearman of each student's quality of the misaligned test faces with the teacher's
  quality of the aligned ones, and how much less AI-KD loses of it than plain from p = 0 to p
  (paired intervals), next to what misalignment costs the teacher itself (norm labels);
* each student's validation embedding term before training and at its best step.

Run (CPU; a student trains in ~4 min on an idle 2-core machine, so ~10 min per seed and scheme):
``PYTHONPATH=src python benchmarks/aikd_acceptance.py --out out/acceptance --seeds 0 1 2``
Every ``aikd`` command it runs is printed and logged in ``--out/commands.log``; ``summary.md`` holds
the tables. ``--keep-pauc`` rebuilds the other tables from existing result files in seconds.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from aikd_cli.tasks.evaluate import edc  # noqa: E402

LABEL_FIELDS = ["path", "identity"]


def aikd(out: Path, *args: str) -> None:
    """Run one ``aikd`` command (logged), failing loudly."""
    cmd = [sys.executable, "-m", "aikd_cli", *map(str, args)]
    line = "aikd " + " ".join(shlex.quote(str(a)) for a in args)
    print(f"$ {line}", flush=True)
    with open(out / "commands.log", "a") as log:
        log.write(line + "\n")
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    with open(out / "commands.log", "a") as log:
        log.write(f"# rc {result.returncode}, {time.perf_counter() - start:.0f} s\n")
        log.write("".join(f"#   {x}\n" for x in (result.stdout + result.stderr).splitlines()[-40:]))
    if result.returncode:
        raise SystemExit(f"failed ({result.returncode}): {line}\n{result.stderr[-3000:]}")


def finished_elsewhere(run: Path, epochs: int) -> bool:
    """Wait for another process training ``run`` (a second driver of the same seeds) and say whether
    it completed: its last validation is at the final epoch."""
    while any(str(run) in cmd for cmd in _command_lines()):
        time.sleep(30)
    metrics = run / "metrics.jsonl"
    if not (run / "best.safetensors").exists() or not metrics.exists():
        return False
    records = [json.loads(x) for x in metrics.read_text().splitlines() if x]
    return any("val_q_loss" in r and r["epoch"] >= epochs - 1e-6 for r in records)


def _command_lines() -> list[str]:
    lines = []
    for proc in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(proc.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return [x for x in lines if "aikd_cli " in x]


def split(landmarks: Path, people: int, seed: int, out: Path) -> tuple[Path, Path, list[str]]:
    """Train identities CSV (with landmarks: no detection) and test identities CSV."""
    rows = [r for r in csv.DictReader(open(landmarks, newline="")) if r["status"] == "ok"]
    names = sorted({r["identity"] for r in rows})
    random.Random(seed).shuffle(names)
    held = set(names[:people])
    lm = [k for k in rows[0] if k.startswith("lm")]
    train, test = out / "train_ids.csv", out / "test_ids.csv"
    if train.exists() and test.exists():  # written once: several drivers may share a split
        return train, test, sorted(held)
    for path, keep, fields in ((train, False, ["path", "identity", "face", *lm]), (test, True, LABEL_FIELDS)):
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            w.writeheader()
            w.writerows(r for r in rows if (r["identity"] in held) == keep)
    return train, test, sorted(held)


def subset(labels: Path, people: int, seed: int) -> Path:
    """The labels of ``people`` of the labelled people (seeded): the training budget. The labels
    themselves stay those computed over all labelled people."""
    rows = list(csv.DictReader(open(labels, newline="")))
    names = sorted({r["identity"] for r in rows})
    random.Random(seed).shuffle(names)
    keep = set(names[:people])
    out = labels.with_name(f"{labels.stem}_{people}people.csv")
    if out.exists():
        return out
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(r for r in rows if r["identity"] in keep)
    return out


def model_outputs(test: Path, landmarks: Path, models: dict[str, str], fr: str, levels, unit: str, det: str):
    """Qualities (per model and p) and FR embeddings of the test faces, from the cache ``aikd evaluate`` filled."""
    from aikd_cli.defaults import DEFAULT_DET_SIZE
    from aikd_cli.faces.detector import load_detector
    from aikd_cli.faces.landmarks import read_landmarks
    from aikd_cli.models.inference import open_face_model
    from aikd_cli.tasks.evaluate.cache import default_cache_dir
    from aikd_cli.tasks.evaluate.model_outputs import ModelJob, model_fingerprint, run_models
    from aikd_cli.tasks.evaluate.model_runs import detector_fingerprint
    from aikd_cli.tasks.evaluate.protocols import FileImages

    rows = list(csv.DictReader(open(test, newline="")))
    keys = [os.path.normpath(os.path.abspath(r["path"])) for r in rows]
    lms = read_landmarks(landmarks)
    # as `aikd evaluate` runs it, so the outputs it cached are found: the detector for faces without landmarks
    detect = any(k not in lms for k in keys)
    variants = tuple(sorted({0.0, *levels}))
    jobs = []
    for label, ref in models.items():
        m = open_face_model(ref, device="cpu", precision="fp32", expect="quality")
        jobs.append(ModelJob(label, m, model_fingerprint(ref, m), "quality", variants))
    frm = open_face_model(fr, device="cpu", precision="fp32", expect="recognition")
    jobs.append(ModelJob("fr", frm, model_fingerprint(fr, frm), "embedding", variants))
    ran = run_models(
        keys,
        FileImages(),
        jobs,
        landmarks=lms,
        detector=load_detector(det, device="cpu", max_size=DEFAULT_DET_SIZE, score_threshold=0.5) if detect else None,  # fmt: skip
        detector_id=detector_fingerprint(det) if detect else "",
        misalign_unit=unit,
        seed=0,
        workers=2,
        cache_root=default_cache_dir(),
    )
    assert not ran.failures, ran.failures
    return [r["identity"] for r in rows], ran.outputs, variants


def first_validation(run: Path) -> dict:
    """The run's validation before training (its ``start`` line), or its first one for older runs."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return next((r for r in records if r.get("start")), next((r for r in records if "val_cos" in r), {}))


def pairs(identities: list[str]):
    ids = np.array(identities)
    ia, ib = np.triu_indices(len(ids), 1)
    return ia, ib, ids[ia] == ids[ib]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def bootstrap(
    identities, emb, methods: dict, diff: tuple[str, str], fmr: float, limits, draws: int, seed: int
):
    """Normalised pAUC of each ``methods[name][level]`` quality with 95 % intervals over identities
    (mated pairs of resampled identities; the threshold fixed once on all non-mated pairs), and of the
    paired difference ``diff[0] - diff[1]`` at each level."""
    ia, ib, mated = pairs(identities)
    scores = cosine(emb[ia], emb[ib])
    threshold = edc.threshold_for_fmr(scores[~mated], fmr)
    mi, mb, ms = ia[mated], ib[mated], scores[mated]
    names = np.array(identities)
    people = sorted(set(identities))
    by_person = {p: np.flatnonzero(names[mi] == p) for p in people}

    def areas(sel: np.ndarray) -> dict:
        res = {}
        for name, per_level in methods.items():
            for level, q in per_level.items():
                curve = edc.fnm_edc(ms[sel], edc.pair_quality(q[mi[sel]], q[mb[sel]]), threshold)
                res[name, level] = [a.normalised for a in edc.partial_areas(curve, limits)]
        return res

    full = areas(np.arange(len(ms)))
    rng = np.random.default_rng(seed)
    samples, fnm = [], []
    for _ in range(draws):
        sel = np.concatenate([by_person[people[k]] for k in rng.choice(len(people), len(people))])
        samples.append(areas(sel))
        fnm.append(int(np.sum(ms[sel] < threshold)))
    out = {"threshold": threshold, "mated": int(mated.sum()), "nonmated": int((~mated).sum())}
    out["false_nonmatches"] = int(np.sum(ms < threshold))
    out["false_nonmatches_ci95"] = np.percentile(fnm, [2.5, 97.5]).tolist()
    table = {}
    for (name, level), value in full.items():
        boot = np.array([s[name, level] for s in samples])
        table[f"{name}|{level}"] = {
            "value": value,
            "ci95": np.nanpercentile(boot, [2.5, 97.5], axis=0).T.tolist(),
        }
    a, b = diff
    for level in methods[a]:
        d = np.array([np.subtract(s[a, level], s[b, level]) for s in samples])
        table[f"{a} - {b}|{level}"] = {
            "value": np.subtract(full[a, level], full[b, level]).tolist(),
            "ci95": np.nanpercentile(d, [2.5, 97.5], axis=0).T.tolist(),
        }
    return {**out, "pauc": table, "limits": list(limits)}


def level_methods(outputs, models, variants, identities) -> dict:
    """Each student's quality and the teacher's embedding norm (the yardstick) at every level p, and
    the held-out faces' own CR label at p = 0 (computed with their identities: what the students are
    taught to predict, as a reference, not a quality method)."""
    from aikd_cli.tasks.label import certainty_ratio

    methods = {m: {f"{p:g}": outputs[m, p][:, 0] for p in variants} for m in models}
    methods["FR embedding norm"] = {f"{p:g}": np.linalg.norm(outputs["fr", p], axis=1) for p in variants}
    cr = certainty_ratio(torch.from_numpy(outputs["fr", 0.0]), list(identities))[0].numpy()
    methods["CR label of the test faces (uses identities)"] = {"0": cr}
    return methods


def teacher_agreement(
    methods: dict, teacher: np.ndarray, identities, students, diff, draws: int, seed: int
) -> dict:
    """Spearman's rho between each student's quality of the (misaligned) test faces and the teacher's
    quality of the aligned ones, per level p, with 95 % intervals over identities and for the paired
    difference ``diff[0] - diff[1]``. This is what AI-KD trains for, measured on every held-out face
    (not only the few behind false non-matches), so it is far less noisy than pAUC; it is the
    mechanism, not the verdict. With norm labels the ``FR embedding norm`` row is the teacher itself
    on the misaligned faces: how much misalignment costs the teacher, the most AI-KD can win back."""
    from aikd_cli.tasks.distill.losses import spearman

    names = np.array(identities)
    people = sorted(set(identities))
    by_person = [np.flatnonzero(names == p) for p in people]

    def rhos(sel: np.ndarray) -> dict:
        return {(m, p): spearman(q[sel], teacher[sel]) for m in students for p, q in methods[m].items()}

    full = rhos(np.arange(len(names)))
    rng = np.random.default_rng(seed)
    samples = [
        rhos(np.concatenate([by_person[k] for k in rng.choice(len(people), len(people))]))
        for _ in range(draws)
    ]
    table = {}
    for key, value in full.items():
        table["|".join(key)] = {
            "value": value,
            "ci95": np.percentile([s[key] for s in samples], [2.5, 97.5]).tolist(),
        }
    a, b = diff
    for p in methods[a]:
        d = [s[a, p] - s[b, p] for s in samples]
        table[f"{a} - {b}|{p}"] = {
            "value": full[a, p] - full[b, p],
            "ci95": np.percentile(d, [2.5, 97.5]).tolist(),
        }
    for p in methods[a]:  # invariance: how much less AI-KD loses than plain from p = 0 to p
        if p != "0":
            d = [(s[a, p] - s[a, "0"]) - (s[b, p] - s[b, "0"]) for s in samples]
            table[f"({a} - {b}) change from p = 0|{p}"] = {
                "value": (full[a, p] - full[a, "0"]) - (full[b, p] - full[b, "0"]),
                "ci95": np.percentile(d, [2.5, 97.5]).tolist(),
            }
    return table


def teacher_quality(scheme: str, embeddings: np.ndarray, identities) -> np.ndarray:
    """The teacher's quality of the aligned test faces by the scheme the students were taught (CR and
    SDD use the test faces' identities, as ``aikd label`` does for training faces)."""
    from aikd_cli.tasks.label import compute_labels

    return compute_labels(torch.from_numpy(embeddings), list(identities), scheme)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--assets", type=Path, default=Path(os.environ.get("AIKD_ASSETS", ROOT.parent / "shared" / "assets"))
    )
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "acceptance")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument(
        "--train-people", type=int, default=350, help="train on this many of the labelled people"
    )
    parser.add_argument("--test-people", type=int, default=150)
    parser.add_argument(
        "--schemes", nargs="+", default=["norm", "cr", "sdd"], help="label schemes to train students on"
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--px", default="2,3,5")
    parser.add_argument("--iod", default="0.05")
    parser.add_argument("--fmr", type=float, default=1e-3)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument(
        "--extra", default="", help="extra options for both distill runs (e.g. '--recipe paper')"
    )
    parser.add_argument(
        "--aikd-options",
        default="--perturb 3 --cache-teacher",
        help="the AI-KD student's distill options (the plain one's are --perturb 0 --lambda-cos 0)",
    )
    parser.add_argument(
        "--keep-pauc",
        action="store_true",
        help="reuse the pAUC bootstrap of existing result files (recompute the other tables only)",
    )
    parser.add_argument(
        "--summary-only", action="store_true", help="only merge the result files into summary.md"
    )
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.summary_only:
        return write_summary(out)
    fr = str(args.assets / "models" / "fr" / "mobilefacenet_foamliu.pt")
    det = str(args.assets / "models" / "retinaface" / "mobilenet0.25_Final.pth")
    landmarks = out / "all_landmarks.csv"
    if (
        not landmarks.exists()
    ):  # one detection pass over the 2,000 photos; the labels CSV carries the landmarks
        aikd(
            out,
            "label",
            "-i",
            args.assets / "lfw" / "identities.csv",
            "--fr-model",
            fr,
            "--detector",
            det,
            "--device",
            "cpu",
            "--precision",
            "fp32",
            "-o",
            landmarks,
        )
    results = {}
    split_dir = out / f"split{args.split_seed}"
    split_dir.mkdir(exist_ok=True)
    train, test, held = split(landmarks, args.test_people, args.split_seed, split_dir)
    cpu = ["--device", "cpu", "--precision", "fp32"]
    for scheme in args.schemes:
        labels = split_dir / f"train_{scheme}.csv"
        if not labels.exists():
            aikd(out, "label", "-i", train, "--fr-model", fr, "--detector", det, "--scheme", scheme, *cpu,
                 "-o", labels)  # fmt: skip
    students = {
        "AI-KD": shlex.split(args.aikd_options),
        "plain": ["--perturb", "0", "--lambda-cos", "0"],
    }
    for seed in args.seeds:
        sdir = out / f"seed{seed}"
        sdir.mkdir(exist_ok=True)
        for scheme in args.schemes:
            labels = subset(split_dir / f"train_{scheme}.csv", args.train_people, args.split_seed)
            runs = {}
            for name, extra in students.items():
                run = sdir / f"{'aikd' if name == 'AI-KD' else 'plain'}_{scheme}"
                if not (run / "done").exists() and finished_elsewhere(run, args.epochs):
                    (run / "done").write_text("")
                if not (run / "done").exists():
                    shutil.rmtree(run, ignore_errors=True)
                    budget = ["--seed", seed, "--epochs", args.epochs, "-b", args.batch_size, "-j", "2"]
                    aikd(out, "distill", labels, "--backbone", fr, "--detector", det, "-o", run, *budget, "--device", "cpu", *extra,
                         *shlex.split(args.extra))  # fmt: skip
                    (run / "done").write_text("")
                runs[name] = str(run)
            evaluations = {}
            for unit, levels in (("px", args.px), ("iod", args.iod)):
                edir = sdir / f"eval_{scheme}_{unit}"
                models = [x for n, r in runs.items() for x in ("-m", f"{r}:{n}")]
                while any(str(edir) in cmd for cmd in _command_lines()):  # another driver evaluates it
                    time.sleep(30)
                if not (edir / "results.json").exists():
                    aikd(out, "evaluate", "--identities", test, "--fr-model", fr, "--landmarks", landmarks, "--detector", det, *models,
                         "--perturb", f"0,{levels}", "--perturb-unit", unit, "--fmr", args.fmr, *cpu, "-j", "2",
                         "-o", edir)  # fmt: skip
                lv = [float(x) for x in levels.split(",")]
                identities, outputs, variants = model_outputs(test, landmarks, runs, fr, lv, unit, det)
                methods = level_methods(outputs, runs, variants, identities)
                stored = out / f"results_seed{seed}_{scheme}.json"
                if args.keep_pauc and stored.exists():  # only the tables after the pAUC bootstrap change
                    ev = json.loads(stored.read_text())[f"seed{seed}/{scheme}"]["evaluations"][unit]
                else:
                    ev = bootstrap(
                        identities, outputs["fr", 0.0], methods, ("AI-KD", "plain"), args.fmr, (0.2, 0.3),
                        args.draws, seed,
                    )  # fmt: skip
                ev["cli_table"] = json.loads((edir / "results.json").read_text())["robustness"]
                ev["teacher_agreement"] = teacher_agreement(
                    methods, teacher_quality(scheme, outputs["fr", 0.0], identities), identities, [*runs, "FR embedding norm"], ("AI-KD", "plain"),
                    args.draws, seed,
                )  # fmt: skip
                evaluations[unit] = ev
            metrics = {
                n: json.loads((Path(r) / "config.json").read_text())["metrics"] for n, r in runs.items()
            }
            starts = {n: first_validation(Path(r)) for n, r in runs.items()}
            results[f"seed{seed}/{scheme}"] = {
                "evaluations": evaluations,
                "validation": metrics,
                "validation_start": starts,
                "test_people": held,
            }
            key = f"seed{seed}/{scheme}"
            (out / f"results_seed{seed}_{scheme}.json").write_text(
                json.dumps({key: results[key]}, indent=2, default=float)
            )
            print(summarise({key: results[key]}), flush=True)
    write_summary(out)


def write_summary(out: Path) -> None:
    """summary.md from every result file in ``out`` (per seed, or one file of several seeds)."""
    merged = {}
    for path in sorted(out.glob("results*.json")):
        merged.update(json.loads(path.read_text()))
    merged = dict(sorted(merged.items()))
    by_scheme: dict[str, dict] = {}  # "seedN/scheme" keys: one table per label scheme, seeds as columns
    for key, value in merged.items():
        by_scheme.setdefault(key.split("/")[-1], {})[key] = value
    tables = "\n\n".join(
        f"## {scheme} labels\n\n{across_seeds(r)}\n\n{doc_table(r)}" for scheme, r in by_scheme.items()
    )
    (out / "summary.md").write_text(summarise(merged) + "\n" + tables)
    print(tables)


def doc_table(results: dict) -> str:
    """The table docs/distill.md shows: normalised pAUC @0.2 [95 % CI] per seed, and the means."""
    seeds = list(results)
    head = " | ".join(k.split("/")[0] for k in seeds)
    lines = [f"| quality | p | {head} | mean @0.2 | mean @0.3 |", "|---|---|" + "---|" * (len(seeds) + 2)]
    for unit in ("px", "iod"):
        names = list(next(iter(results.values()))["evaluations"][unit]["pauc"])
        for name in names:
            method, p = name.split("|")
            cells = [r["evaluations"][unit]["pauc"].get(name) for r in results.values()]
            if any(c is None for c in cells):
                continue
            text = [f"{c['value'][0]:+.3f}" if " - " in method else f"{c['value'][0]:.3f}" for c in cells]
            text = [f"{t} [{c['ci95'][0][0]:.2f}, {c['ci95'][0][1]:.2f}]" for t, c in zip(text, cells)]
            mean = np.mean([c["value"] for c in cells], axis=0)
            lines.append(
                f"| {method} | {p} {unit} | " + " | ".join(text) + f" | {mean[0]:.3f} | {mean[1]:.3f} |"
            )
    return "\n".join(lines)


def across_seeds(results: dict) -> str:
    """Mean over seeds of each method's normalised pAUC per level, with the per-seed values."""
    lines = ["\n### Across seeds: normalised pAUC @0.2 / @0.3, mean over seeds (per-seed values)\n"]
    lines += ["| method | p | @0.2 | @0.3 | seeds |", "|---|---|---|---|---|"]
    for unit in ("px", "iod"):
        cells: dict = {}
        for r in results.values():
            for name, cell in r["evaluations"][unit]["pauc"].items():
                cells.setdefault(name, []).append(cell["value"])
        for name, values in cells.items():
            method, p = name.split("|")
            v = np.array(values)
            per = "; ".join(f"{a:.3f}/{b:.3f}" for a, b in v)
            lines.append(f"| {method} | {p} {unit} | {v[:, 0].mean():.3f} | {v[:, 1].mean():.3f} | {per} |")
    lines += [
        "\n### Across seeds: Spearman of the student's quality (misaligned) with the teacher's (aligned), mean (per seed)\n",
        "| method | p | rho | seeds |",
        "|---|---|---|---|",
    ]
    for unit in ("px", "iod"):
        rhos: dict = {}
        for r in results.values():
            for name, cell in r["evaluations"][unit].get("teacher_agreement", {}).items():
                rhos.setdefault(name, []).append(cell["value"])
        for name, values in rhos.items():
            method, p = name.split("|")
            lines.append(
                f"| {method} | {p} {unit} | {np.mean(values):+.3f} | "
                + "; ".join(f"{v:+.3f}" for v in values)
                + " |"
            )
    return "\n".join(lines)


def summarise(results: dict) -> str:
    lines = []
    for key, r in results.items():
        for unit in ("px", "iod"):
            ev = r["evaluations"][unit]
            lines += [
                f"\n### {key}, misalignment in {unit}: normalised pAUC @0.2 / @0.3 [95 % CI over identities]",
                f"({ev['mated']:,} mated, {ev['nonmated']:,} non-mated pairs; {ev['false_nonmatches']} false non-matches at "
                f"0 % discard, CI {ev['false_nonmatches_ci95']}; threshold {ev['threshold']:.4f})\n",
                "| method | p | @0.2 | @0.3 |",
                "|---|---|---|---|",
            ]
            for name, cell in ev["pauc"].items():
                method, p = name.split("|")
                (v2, v3), ((l2, h2), (l3, h3)) = cell["value"], cell["ci95"]
                lines.append(
                    f"| {method} | {p} | {v2:.3f} [{l2:.3f}, {h2:.3f}] | {v3:.3f} [{l3:.3f}, {h3:.3f}] |"
                )
            agreement = ev.get("teacher_agreement")
            if agreement:
                lines += [
                    f"\n{key}, {unit}: Spearman of the student's quality of the misaligned test faces with the "
                    "teacher's quality of the aligned ones [95 % CI over identities]\n",
                    "| method | p | rho |",
                    "|---|---|---|",
                ]
                for name, cell in agreement.items():
                    method, p = name.split("|")
                    (lo, hi), sign = cell["ci95"], "+" if " - " in method else ""
                    lines.append(
                        f"| {method} | {p} | {cell['value']:{sign}.3f} [{lo:{sign}.3f}, {hi:{sign}.3f}] |"
                    )
        d = {k: v.get("val_cos", float("nan")) for k, v in r["validation"].items()}
        s0 = {k: v.get("val_cos", float("nan")) for k, v in r.get("validation_start", {}).items()}
        lines.append(
            "\n1 - cos(student on p = 3 crops, teacher) on the validation faces, best step (before training): "
            + ", ".join(f"{k} {v:.4f} ({s0.get(k, float('nan')):.4f})" for k, v in d.items())
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
