"""AI-KD against a plain regressor on all of LFW, decided by EDC pAUC with aikd's own commands.

The design (docs/distill.md, "AI-KD on all of LFW") is fixed here, before any run:

* data: the 13,233 deep-funneled LFW photos of 5,749 people (``--lfw-root``); the face of each
  photo is the one nearest its centre (``aikd score --faces central``, RetinaFace MobileNet-0.25);
* split by identity with ``--split-seed``: half the people are test people; of the others, a
  ``--val-share`` are validation people (settings are chosen there, never on the test people) and
  the rest train every student; test and validation faces are capped at ``--cap`` photos per person
  (a seeded choice) so that no single person holds a large share of the mated pairs;
* teachers: LightQNet (``lightqnet``, a real FIQA model; primary) and the kit MobileFaceNet's
  embedding norm (``aikd label --scheme norm``); the embedding teacher is always the kit MobileFaceNet;
* arms per label scheme (``aikd distill``, same budget ``--epochs`` x ``--batch-size``): ``aikd``
  (p = 3 px, lambda_cos 1), ``plain`` (p = 0, no embedding term), and for LightQNet also
  ``noemb`` (p = 3 px, no embedding term), ``lam10`` and ``lam30`` (lambda_cos 10 and 30);
* evaluation (``aikd evaluate --identities``): all pairs of the test faces, comparison scores from an
  FR model that is not the teacher (InsightFace MobileFaceNet, ``insightface-mfn``; the kit
  MobileFaceNet as a second evaluator), threshold at FMR 1e-3 on all non-mated pairs; qualities of
  the aligned faces (p = 0) and of ``--draws`` misaligned versions at p = 3 and 5 px (draw k =
  ``--seed k``: the same landmark noise for every model);
* primary endpoint: normalised pAUC@0.2 of the FNM-EDC, AI-KD - plain at p = 3 and 5 px (LightQNet
  labels, InsightFace evaluator), pooled over the training seeds and draws, with one bootstrap over
  test identities (``--boot`` resamples); secondary: Spearman of each student's quality of the
  misaligned faces with the teacher's quality of the aligned ones, AI-KD - teacher, the arms, and
  the LFW View-2 table (6,000 pairs, each evaluator).

Every ``aikd`` command is logged in ``WORK/commands.log`` and copied to the results folder; every
stage is resumable (a finished stage leaves its output; a killed training run is resumed with
``aikd distill --resume``). Per-face qualities, the evaluators' embeddings (float16), the split and
``summary.json`` go to ``--results`` (benchmarks/results/lfw); ``benchmarks/aikd_lfw_tables.py``
recomputes every pAUC from those files and writes the tables of docs/distill.md. ``--groups`` runs
some of the groups of runs (primary, noemb, sweep, norm); the results always hold every student
trained so far.

    PYTHONPATH=src python benchmarks/aikd_lfw.py --lfw-root LFW --pairs LFW/pairs.txt \\
        --lightqnet lightqnet-dm100.onnx --insightface-mfn model-0000.params --work /tmp/lfw-study
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import aikd_lfw_tables as tables  # noqa: E402

ARMS = {  # arm -> (label schemes it is trained for, distill options)
    "aikd": (("lightqnet", "norm"), ["--perturb", "3", "--lambda-cos", "1", "--cache-teacher"]),
    "plain": (("lightqnet", "norm"), ["--perturb", "0", "--lambda-cos", "0"]),
    "noemb": (("lightqnet",), ["--perturb", "3", "--lambda-cos", "0"]),
    "lam10": (("lightqnet",), ["--perturb", "3", "--lambda-cos", "10", "--cache-teacher"]),
    "lam30": (("lightqnet",), ["--perturb", "3", "--lambda-cos", "30", "--cache-teacher"]),
}
LEVELS = (3.0, 5.0)
GROUPS = ("primary", "noemb", "sweep", "norm")  # run in this order; the primary comparison first
EVALUATORS = {"insightface": "insightface-mfn", "kit": None}  # None: the kit MobileFaceNet (--fr)


class Study:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        # fold 1 (cross-fitting) works in sub-folders; the registry and the teacher's scores are shared
        self.shared, self.results_root = args.work.resolve(), args.results.resolve()
        self.work = self.shared / "fold1" if args.fold else self.shared
        self.results = self.results_root / "fold1" if args.fold else self.results_root
        self.work.mkdir(parents=True, exist_ok=True)
        self.results.mkdir(parents=True, exist_ok=True)
        self.fr = str(args.assets / "models" / "fr" / "mobilefacenet_foamliu.pt")
        self.det = str(args.assets / "models" / "retinaface" / "mobilenet0.25_Final.pth")
        self.env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "AIKD_CONFIG_DIR": str(self.shared / "config")}
        self.cpu = ["--device", "cpu", "--precision", "fp32"]

    # -- running aikd -----------------------------------------------------------------------------

    def aikd(self, *args: object, log_name: str = "commands.log") -> None:
        """Run one ``aikd`` command, logged with its time and the tail of its output; fail loudly.
        The command is logged before it runs, so one that is interrupted (and later resumed with
        ``--resume``) keeps its options on record."""
        cmd = [sys.executable, "-m", "aikd_cli", *map(str, args)]
        line = "aikd " + " ".join(shlex.quote(str(a)) for a in args)
        print(f"$ {line}", flush=True)
        with open(self.work / log_name, "a") as log:
            log.write(f"{line}\n")
        start = time.perf_counter()
        result = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
        with open(self.work / log_name, "a") as log:
            log.write(f"# rc {result.returncode}, {time.perf_counter() - start:.0f} s\n")
            log.write("".join(f"#   {x}\n" for x in (result.stdout + result.stderr).splitlines()[-30:]))
        if result.returncode:
            raise SystemExit(f"failed ({result.returncode}): {line}\n{result.stderr[-3000:]}")

    def register_models(self) -> None:
        """LightQNet and the InsightFace MobileFaceNet under their registry names (in the study's own
        config folder), so every command names them as a user would."""
        for name, path in (("lightqnet", self.args.lightqnet), ("insightface-mfn", self.args.insightface_mfn)):
            if not (self.shared / "config" / f"{name}.registered").exists():
                self.aikd("models", "add", name, Path(path).resolve())
                (self.shared / "config" / f"{name}.registered").write_text("")

    # -- data ---------------------------------------------------------------------------------------

    def split(self) -> dict:
        """People by role and the capped photo lists, from the LFW folder and ``--split-seed``."""
        path = self.results / "split.json"
        if path.exists():
            return json.loads(path.read_text())
        root = self.args.lfw_root.resolve()
        photos = {p.name: sorted(f.name for f in p.glob("*.jpg")) for p in sorted(root.iterdir()) if p.is_dir()}
        if self.args.fold:
            return self.swapped_split(photos, path)
        people = sorted(p for p, files in photos.items() if files)
        rng = random.Random(self.args.split_seed)
        order = people[:]
        rng.shuffle(order)
        test = sorted(order[: len(order) // 2])
        rest = order[len(order) // 2 :]
        n_val = round(len(rest) * self.args.val_share)
        val, train = sorted(rest[:n_val]), sorted(rest[n_val:])
        split = {
            "split_seed": self.args.split_seed, "cap": self.args.cap,  # no local folder: --lfw-root says where
            "test": self.capped(photos, test), "val": self.capped(photos, val), "train": {p: photos[p] for p in train},
        }
        path.write_text(json.dumps(split, indent=1) + "\n")
        return split

    def capped(self, photos: dict[str, list[str]], group: list[str]) -> dict[str, list[str]]:
        """At most ``--cap`` photos of each person (a seeded choice per person)."""
        out = {}
        for person in group:
            files = photos[person]
            if len(files) > self.args.cap:
                files = sorted(random.Random(f"{self.args.split_seed}:{person}").sample(files, self.args.cap))
            out[person] = files
        return out

    def swapped_split(self, photos: dict[str, list[str]], path: Path) -> dict:
        """Fold 1: fold 0's halves swapped. Its test people (all their photos) train the students; its
        training and validation people (capped) are the test people. No validation people: fold 1
        repeats the primary comparison only, with the settings fold 0 fixed."""
        first = json.loads((self.results_root / "split.json").read_text())
        split = {"split_seed": first["split_seed"], "cap": first["cap"], "fold": 1,
                 "test": self.capped(photos, sorted([*first["train"], *first["val"]])), "val": {},
                 "train": {p: photos[p] for p in sorted(first["test"])}}
        path.write_text(json.dumps(split, indent=1) + "\n")
        return split

    def identities_csv(self, split: dict, role: str) -> Path:
        path = self.work / f"{role}_ids.csv"
        if not path.exists():
            root = self.args.lfw_root.resolve()
            with open(path, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["path", "identity"])
                for person, files in split[role].items():
                    w.writerows([str(root / person / name), person] for name in files)
        return path

    def teacher_scores(self) -> Path:
        """LightQNet on every LFW photo (its central face): the teacher's aligned quality and the
        landmark table every later command reads."""
        path = self.shared / "lfw_lightqnet.csv"
        if not path.exists() or not (self.shared / "lfw_lightqnet.done").exists():
            self.aikd("score", self.args.lfw_root.resolve(), "--model", "lightqnet", "--faces", "central",
                      "--detector", self.det, *self.cpu, "-j", "2", "--resume", "-o", path)
            (self.shared / "lfw_lightqnet.done").write_text("")
        return path

    def labels(self, split: dict, scores: Path) -> dict[str, Path]:
        """Training labels: LightQNet's quality of the training faces (rows of the score CSV) and the
        kit MobileFaceNet's embedding norm (``aikd label --scheme norm``)."""
        train_ids = self.identities_csv(split, "train")
        out = {"lightqnet": self.work / "train_lightqnet.csv", "norm": self.work / "train_norm.csv"}
        if not out["lightqnet"].exists():
            keep = {os.path.normpath(r["path"]) for r in csv.DictReader(open(train_ids, newline=""))}
            rows = [r for r in csv.DictReader(open(scores, newline="")) if os.path.normpath(r["path"]) in keep]
            rows = [r for r in rows if r["status"] == "ok"]
            tmp = out["lightqnet"].with_suffix(".tmp")
            with open(tmp, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
            tmp.replace(out["lightqnet"])
        if not out["norm"].exists() and any(group == "norm" for group, _ in self.groups()):
            self.aikd("label", "-i", train_ids, "--scheme", "norm", "--fr-model", self.fr, "--landmarks", scores,
                      "--detector", self.det, *self.cpu, "-o", out["norm"])
        return out

    # -- students -----------------------------------------------------------------------------------

    def groups(self) -> list[tuple[str, list[tuple[str, str, int]]]]:
        """(group, [(scheme, arm, seed)]) in the order they are trained and evaluated: the primary
        comparison first, so that its result is on disk before the arms that explain it."""
        every = self.every_group()
        chosen = ("primary",) if self.args.fold else self.args.groups  # fold 1 repeats the primary comparison
        return [(group, every[group]) for group in GROUPS if group in chosen]

    def every_group(self) -> dict[str, list[tuple[str, str, int]]]:
        seeds, sweep = self.args.seeds, self.args.sweep_seeds
        return {
            "primary": [(s, a, k) for k in seeds for s, a in (("lightqnet", "aikd"), ("lightqnet", "plain"))],
            "noemb": [("lightqnet", "noemb", k) for k in seeds],
            "sweep": [(s, a, k) for k in sweep for s, a in (("lightqnet", "lam10"), ("lightqnet", "lam30"))],
            "norm": [(s, a, k) for k in seeds for s, a in (("norm", "aikd"), ("norm", "plain"))],
        }

    def train(self, scheme: str, arm: str, seed: int, labels: Path, scores: Path) -> Path:
        run = self.run_dir(scheme, arm, seed)
        onnx = run / "export" / "model.onnx"
        if onnx.exists():
            return onnx
        budget = ["--seed", seed, "--epochs", self.args.epochs, "-b", self.args.batch_size, "-j", "2"]
        if (run / "last.state.pt").exists() and not (run / "best.safetensors").exists() or (
            (run / "last.state.pt").exists() and not (run / "trained").exists()
        ):
            self.aikd("distill", "--resume", "-o", run, "--device", "cpu")
        elif not (run / "trained").exists():
            self.aikd("distill", labels, "--backbone", self.fr, "--landmarks", scores, "--detector", self.det,
                      "-o", run, "--device", "cpu", *budget, *ARMS[arm][1])
        (run / "trained").write_text("")
        self.aikd("export", run / "best.safetensors", "--format", "onnx", "-o", run / "export")
        return onnx

    # -- evaluation ---------------------------------------------------------------------------------

    def evaluate(self, role: str, split: dict, scores: Path, students: dict[str, Path], evaluator: str,
                 draw: int, group: str) -> Path:
        """``aikd evaluate`` on all pairs of the ``role`` faces, draw ``draw`` of the misalignment."""
        out = self.work / "eval" / group / f"{role}_{evaluator}_draw{draw}"
        if (out / "results.json").exists():
            return out
        fr = EVALUATORS[evaluator] or self.fr
        models = ["-m", "lightqnet:teacher"] + [x for label, path in students.items() for x in ("-m", f"{path}:{label}")]
        self.aikd("evaluate", "--identities", self.identities_csv(split, role), "--fr-model", fr, "--landmarks", scores,
                  "--detector", self.det, *models, "--perturb", ",".join(f"{p:g}" for p in (0.0, *LEVELS)),
                  "--seed", draw, "--start-error", self.args.start_error, "--max-nonmated", 0, *self.cpu, "-j", "2",
                  "-o", out)
        return out

    def view2(self, scores: Path, students: dict[str, Path], evaluator: str, group: str) -> Path:
        out = self.work / "eval" / group / f"view2_{evaluator}"
        if not (out / "results.json").exists():
            fr = EVALUATORS[evaluator] or self.fr
            models = ["-m", "lightqnet:teacher"] + [x for label, path in students.items() for x in ("-m", f"{path}:{label}")]
            self.aikd("evaluate", "--pairs", self.args.pairs.resolve(), "--image-root", self.args.lfw_root.resolve(),
                      "--fr-model", fr, "--landmarks", scores, "--detector", self.det, *models,
                      "--start-error", self.args.start_error, *self.cpu, "-j", "2", "-o", out)
        return out

    def students(self) -> dict[str, Path]:
        """Every student exported so far, in group order: the results always hold all of them, also
        when ``--groups`` runs only some."""
        onnx = [self.run_dir(*run) / "export" / "model.onnx" for group in GROUPS for run in self.every_group()[group]]
        return {path.parent.parent.name: path for path in onnx if path.exists()}

    def run_dir(self, scheme: str, arm: str, seed: int) -> Path:
        return self.work / "runs" / f"{scheme}_{arm}_s{seed}"

    def main(self) -> None:
        self.register_models()
        split = self.split()
        scores = self.teacher_scores()
        labels = self.labels(split, scores)
        for group, runs in self.groups():
            mine = {f"{scheme}_{arm}_s{seed}": self.train(scheme, arm, seed, labels[scheme], scores)
                    for scheme, arm, seed in runs}
            for evaluator in EVALUATORS:
                for role in (r for r in ("val", "test") if split[r]):
                    for draw in range(self.args.draws if evaluator == "insightface" else 1):
                        self.evaluate(role, split, scores, mine, evaluator, draw, group)
                if not self.args.fold:  # View-2 holds people of both halves: fold 0's students only
                    self.view2(scores, mine, evaluator, group)
            self.collect(split, scores, self.students())
            print(tables.render(json.loads((self.results_root / "summary.json").read_text())), flush=True)
        self.copy_log()

    def copy_log(self) -> None:
        """The exact commands, for the results folder (local paths shortened to their roles)."""
        text = (self.work / "commands.log").read_text()
        for path, name in ((self.shared, "$WORK"), (self.args.lfw_root.resolve(), "$LFW"), (self.args.assets.resolve(), "$KIT"),
                           (self.args.pairs.resolve(), "$PAIRS"),
                           (self.args.lightqnet.resolve(), "$LIGHTQNET"), (self.args.insightface_mfn.resolve(), "$INSIGHTFACE_MFN")):
            text = text.replace(str(path), name)
        lines = [x for x in text.splitlines() if x.startswith("aikd ") or x.startswith("# rc")]
        (self.results / "commands.log").write_text("\n".join(lines) + "\n")

    # -- the committed files ------------------------------------------------------------------------

    def outputs(self, keys: list[str], scores: Path, jobs: list, seed: int):
        """Per-face outputs of ``jobs`` at draw ``seed``: read from the cache ``aikd evaluate`` filled
        (the same crops, weights and settings give the same cache entries), computed where missing."""
        from aikd_cli.faces.landmarks import read_landmarks
        from aikd_cli.tasks.evaluate.cache import default_cache_dir
        from aikd_cli.tasks.evaluate.model_outputs import run_models
        from aikd_cli.tasks.evaluate.protocols import FileImages

        ran = run_models(keys, FileImages(), jobs, landmarks=self._landmarks(scores, read_landmarks), seed=seed,
                         workers=2, cache_root=default_cache_dir())
        if ran.failures:
            raise SystemExit(f"{len(ran.failures)} faces failed, e.g. {next(iter(ran.failures.items()))}")
        return ran.outputs

    def _landmarks(self, scores: Path, reader):
        if not hasattr(self, "_table"):
            self._table = reader(scores)
        return self._table

    def jobs(self, students: dict[str, Path], variants: tuple[float, ...], embeddings: bool) -> list:
        from aikd_cli.models.inference import open_face_model
        from aikd_cli.tasks.evaluate.model_outputs import ModelJob, model_fingerprint

        def job(label: str, ref: str, kind: str, levels: tuple[float, ...]) -> ModelJob:
            model = open_face_model(ref, device="cpu", precision="fp32",
                                    expect="quality" if kind == "quality" else "recognition")
            return ModelJob(label, model, model_fingerprint(ref, model), kind, levels)

        out = [job("teacher-lightqnet", "lightqnet", "quality", variants),
               job("teacher-norm", self.fr, "embedding", variants)]
        out += [job(label, str(path), "quality", variants) for label, path in students.items()]
        if embeddings:
            out += [job(f"fr-{name}", EVALUATORS[name] or self.fr, "embedding", (0.0,)) for name in EVALUATORS]
        return out

    def collect(self, split: dict, scores: Path, students: dict[str, Path]) -> None:
        """Write every face's qualities and the evaluators' embeddings and scores to the results."""
        os.environ["AIKD_CONFIG_DIR"] = self.env["AIKD_CONFIG_DIR"]
        root = self.args.lfw_root.resolve()
        for role in (r for r in ("val", "test") if split[r]):
            faces = [(person, name) for person, files in split[role].items() for name in files]
            keys = [os.path.normpath(str(root / person / name)) for person, name in faces]
            with open(self.results / f"faces_{role}.csv", "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["path", "identity"])
                w.writerows([f"{person}/{name}", person] for person, name in faces)
            qualities, embeddings = {}, {}
            for draw in range(self.args.draws):
                variants = (0.0, *LEVELS) if draw == 0 else LEVELS
                outputs = self.outputs(keys, scores, self.jobs(students, variants, draw == 0), draw)
                for (label, p), values in outputs.items():
                    if label.startswith("fr-"):
                        embeddings[label[3:]] = values
                        continue
                    q = np.linalg.norm(values, axis=1) if label == "teacher-norm" else values[:, 0]
                    qualities[f"{label}|p{p:g}|d{draw}"] = q.astype(np.float32)
            np.savez_compressed(self.results / f"qualities_{role}.npz", **qualities)
            identity = np.array([person for person, _ in faces])
            np.savez_compressed(self.results / f"embeddings_{role}.npz",
                                **tables.comparison_arrays(embeddings, identity, self.args.fmr, self.args.start_error))
        if not self.args.fold:
            self.collect_view2(scores, students)
        self.collect_runs(students)
        self.copy_log()
        tables.main([str(self.results_root), "--boot", str(self.args.boot)])

    def collect_runs(self, students: dict[str, Path]) -> None:
        """Each student's training record: its options, and its validation before training and at
        the best step (1 - cos to the teacher on misaligned crops, stability, label agreement)."""
        runs = {}
        for label, onnx in students.items():
            run = onnx.parent.parent
            meta = json.loads((run / "config.json").read_text())
            lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
            start = lines[0]
            keep = ("val_cos", "val_stability", "val_label_spearman", "val_q_loss", "val_q_loss_mean", "val_faces")
            runs[label] = {"arm": label.split("_")[1], "labels": label.split("_")[0], "seed": meta["training"]["seed"],
                           "steps": max(line.get("step", 0) for line in lines), "best_step": meta["step"],
                           "options": ARMS[label.split("_")[1]][1],
                           "start": {k: start[k] for k in keep if k in start},
                           "best": {k: meta["metrics"][k] for k in keep if k in meta["metrics"]}}
        (self.results / "runs.json").write_text(json.dumps(runs, indent=1) + "\n")

    def collect_view2(self, scores: Path, students: dict[str, Path]) -> None:
        from aikd_cli.tasks.evaluate.protocols.pairs import read_pairs_txt

        protocol = read_pairs_txt(self.args.pairs.resolve(), self.args.lfw_root.resolve())
        keys = [str(k) for k in protocol.keys]
        outputs = self.outputs(keys, scores, self.jobs(students, (0.0,), True), 0)
        arrays = {"i": protocol.ia, "j": protocol.ib, "mated": protocol.mated, "folds": protocol.folds}
        for (label, _), values in outputs.items():
            if label.startswith("fr-"):
                e = values / np.linalg.norm(values, axis=1, keepdims=True)
                arrays[f"scores|{label[3:]}"] = np.sum(e[protocol.ia] * e[protocol.ib], axis=1).astype(np.float32)
            elif label == "teacher-norm":
                arrays["quality|FR embedding norm (kit MobileFaceNet)"] = np.linalg.norm(values, axis=1).astype(np.float32)
            else:
                arrays[f"quality|{label}"] = values[:, 0].astype(np.float32)
        for name in EVALUATORS:
            emb = outputs[f"fr-{name}", 0.0]
            arrays[f"quality|FR embedding norm ({tables.EVALUATOR_NAMES[name]})"] = np.linalg.norm(emb, axis=1).astype(np.float32)
        np.savez_compressed(self.results / "view2.npz", **arrays)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lfw-root", type=Path, required=True, help="LFW images_deepfunneled/ (<Name>/<Name>_NNNN.jpg)")
    ap.add_argument("--pairs", type=Path, required=True, help="LFW View-2 pairs.txt")
    ap.add_argument("--lightqnet", type=Path, required=True, help="lightqnet-dm100.onnx (benchmarks/convert_tf_graph.py)")
    ap.add_argument("--insightface-mfn", type=Path, required=True, help="insightface's model-0000.params (+ -symbol.json)")
    ap.add_argument("--assets", type=Path, default=Path(os.environ.get("AIKD_ASSETS", ROOT.parent / "shared" / "assets")))
    ap.add_argument("--work", type=Path, default=ROOT / "out" / "lfw")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "lfw")
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--fold", type=int, choices=(0, 1), default=0,
                    help="1: the halves swapped (cross-fitting): students trained on fold 0's test people and "
                         "tested on its other people; only the primary group; results in RESULTS/fold1")
    ap.add_argument("--val-share", type=float, default=0.1, help="share of the non-test people kept for validation")
    ap.add_argument("--cap", type=int, default=30, help="photos per test / validation person")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--groups", nargs="+", choices=GROUPS, default=list(GROUPS),
                    help="groups of runs to train and evaluate (always in the order primary, noemb, sweep, norm)")
    ap.add_argument("--sweep-seeds", type=int, nargs="+", default=[0], help="training seeds of the lambda sweep")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--draws", type=int, default=5, help="misalignment draws per face (K)")
    ap.add_argument("--fmr", type=float, default=1e-3, help="the conventional operating point (secondary)")
    ap.add_argument("--start-error", type=float, default=0.05,
                    help="primary threshold rule: the FNMR of the aligned test pairs before any discarding")
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap resamples of the test identities")
    return ap.parse_args(argv)


if __name__ == "__main__":
    Study(parse_args()).main()
