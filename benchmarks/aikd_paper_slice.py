"""Check docs/paper-recipe.md end to end on a tiny slice, on the CPU, and measure a CPU step rate.

The paper-scale inputs do not exist here, so each is replaced by the smallest thing that exercises
the same command: VGGFace2 by ``--people`` LFW people of the kit; the iResNet-100 CosFace teacher by a
randomly initialised iResNet-100 (BatchNorm statistics from random images) saved as an aikd
checkpoint; DifFIQA(R) labels by ``aikd label`` CR labels; eight GPUs by two gloo processes on the
CPU; the paper's .bin evaluation sets and FR models by the slice's own pairs and the kit's
MobileFaceNet. Every command of the document runs as written apart from those paths and the budget
options (``--max-steps``, ``--batch-size``, ``--device cpu``).

The step rate is the real engine's (``aikd distill`` with the iResNet-100 teacher and student, fp32,
``--warp-on workers``) on this CPU: it says what a CPU does, nothing about a GPU.

Run: ``PYTHONPATH=src python benchmarks/aikd_paper_slice.py --out out/paper-slice``
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from aikd_acceptance import aikd  # noqa: E402

VGGFACE2_TRAIN_IMAGES = 3_141_890  # VGGFace2 train split, as distributed (8,631 identities)


def torchrun(out: Path, *args: str) -> None:
    """``torchrun --nproc-per-node 2 -m aikd_cli ...`` on the CPU (gloo), logged like :func:`aikd`."""
    import subprocess
    import time

    exe = Path(sys.executable).with_name("torchrun")
    cmd = [str(exe), "--standalone", "--nproc-per-node", "2", "-m", "aikd_cli", *map(str, args)]
    line = "torchrun --standalone --nproc-per-node 2 -m aikd_cli " + " ".join(map(str, args))
    print(f"$ {line}", flush=True)
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    with open(out / "commands.log", "a") as log:
        log.write(f"{line}\n# rc {result.returncode}, {time.perf_counter() - start:.0f} s\n")
    if result.returncode:
        raise SystemExit(f"failed: {line}\n{result.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "paper-slice")
    parser.add_argument(
        "--assets", type=Path, default=Path(os.environ.get("AIKD_ASSETS", ROOT.parent / "shared" / "assets"))
    )
    parser.add_argument("--people", type=int, default=6)
    parser.add_argument("--rate-steps", type=int, default=3)
    parser.add_argument("--rate-batch", type=int, default=4)
    args = parser.parse_args()
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    from factories import calibrated_net

    from aikd_cli.models.checkpoints import save_checkpoint
    from aikd_cli.models.config import ModelConfig

    # stand-ins: the slice, the teacher backbone
    rows = list(csv.DictReader(open(args.assets / "lfw" / "identities.csv", newline="")))
    people = sorted({r["identity"] for r in rows})[: args.people]
    ids = out / "identities.csv"
    with open(ids, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "identity"])
        w.writerows(
            [str(args.assets / "lfw" / r["path"]), r["identity"]] for r in rows if r["identity"] in people
        )
    config = ModelConfig(arch="iresnet100")
    r100 = save_checkpoint(
        out / "r100_random.safetensors", calibrated_net(config), config, {"note": "random stand-in"}
    )
    fr = str(args.assets / "models" / "fr" / "mobilefacenet_foamliu.pt")
    det = str(args.assets / "models" / "retinaface" / "mobilenet0.25_Final.pth")
    cpu = ["--device", "cpu", "--precision", "fp32"]

    # 1. labels (+ landmarks) from identities with the teacher backbone
    aikd(out, "label", "-i", ids, "--fr-model", r100, "--detector", det, *cpu, "-o", out / "labels.csv")
    # 2. the paper's run file, 8 GPUs -> 2 CPU processes, a few steps
    slice_run = [out / "labels.csv", "--backbone", r100, "-o", out / "run"]
    torchrun(out, "distill", *slice_run, "--config", ROOT / "configs" / "aikd-paper.toml",
             "--max-steps", "2", "--batch-size", "2", "--workers", "1", "--warp-on", "workers", "--device", "cpu")  # fmt: skip
    # resuming the same run file works too
    torchrun(out, "distill", "--config", ROOT / "configs" / "aikd-paper.toml", "--resume", "-o", out / "run",
             "--max-steps", "3", "--workers", "1", "--device", "cpu")  # fmt: skip
    # 3. score and evaluate the student, CR-FIQA-style numbers (closest-FMR rule, AUC over all rates)
    images = [r["path"] for r in csv.DictReader(open(ids, newline=""))]
    aikd(out, "score", *images, "--model", out / "run", "--detector", det, *cpu, "-o", out / "scores.csv")
    aikd(out, "evaluate", "--identities", ids, "--fr-model", fr, "--landmarks", out / "labels.csv", "-m", f"{out / 'run'}:AI-KD",
         "-q", f"{out / 'scores.csv'}:AI-KD (score CSV)", "--perturb", "0,3", "--protocol", "crfiqa", "--fmr-rule", "closest",
         "--fmr", "1e-2", "-l", "0.3", "--metric", "pauc", *cpu, "-o", out / "eval")  # fmt: skip

    # the CPU step rate of the real engine at paper scale (iResNet-100 teacher + student)
    rate_run = out / "rate"
    aikd(out, "distill", out / "labels.csv", "--config", ROOT / "configs" / "aikd-paper.toml", "--backbone", r100,
         "-o", rate_run, "--max-steps", args.rate_steps, "--batch-size", args.rate_batch, "--log-every", "1",
         "--workers", "1", "--warp-on", "workers", "--device", "cpu", "--val-every", "100")  # fmt: skip
    lines = [json.loads(x) for x in (rate_run / "metrics.jsonl").read_text().splitlines()]
    rates = [x["samples_per_s"] for x in lines if "samples_per_s" in x][1:]  # the first step warms up
    rate = sum(rates) / len(rates)
    report = {
        "cpu_images_per_s": rate,
        "batch": args.rate_batch,
        "steps_timed": len(rates),
        "cpu_hours_per_vggface2_epoch": VGGFACE2_TRAIN_IMAGES / rate / 3600,
        "threads": os.cpu_count(),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
