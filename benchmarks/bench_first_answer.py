"""How fast a mistake is answered: `aikd score missing/` against a bare `import torch, torchvision`.

Every check of the options (paths, ranges, choices, unknown models) runs before torch is imported,
so a typo costs Python, Typer and the options modules only. Prints both times (best of --repeat
fresh processes) and their ratio; issue 20's target is below 0.40.

    python benchmarks/bench_first_answer.py --repeat 5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def best(args: list[str], repeat: int, cwd: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], capture_output=True, cwd=cwd, env=env)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as cwd:
        torch_s = best(["-c", "import torch, torchvision"], args.repeat, cwd)
        rows = [(" ".join(cmd), best(["-m", "aikd_cli", *cmd], args.repeat, cwd)) for cmd in
                (["score", "missing/"], ["score", "x.jpg", "--det-threshold", "5"], ["evaluate", "-p", "missing.txt",
                 "-q", "q.csv", "--fr-model", "x"], ["--help"])]
    print(f"import torch, torchvision: {torch_s:.2f} s")
    for name, seconds in rows:
        print(f"aikd {name}: {seconds:.2f} s ({seconds / torch_s:.2f} x the torch import)")


if __name__ == "__main__":
    main()
