"""Run by the DDP test, once alone and once under ``torchrun --nproc-per-node 2`` (gloo, CPU).

Trains the tiny teacher's student for a few steps through the real engine, with the command's
defaults (calibration, validation and EMA included), and saves, per process, the final weights and
the gradients of the last step, for the test to compare.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from distill_helpers import tiny_teacher  # noqa: E402

from aikd_cli.tasks.distill.config_file import resolve_config  # noqa: E402
from aikd_cli.tasks.distill.training import prepare_run  # noqa: E402


def main(manifest: str, output: str, batch_size: int, steps: int) -> None:
    config = resolve_config(
        None,
        {
            "data": [manifest],
            "backbone": "tiny-teacher",
            "labels": manifest,
            "output": output,
            "batch_size": batch_size,
            "max_steps": steps,
            "workers": 0,
            "device": "cpu",
        },
    )
    run = prepare_run(config, teacher=tiny_teacher())
    run.fit()
    rank = run.dist.rank
    grads = {n: p.grad.clone() for n, p in run.student.named_parameters() if p.grad is not None}
    torch.save({"weights": run.student.state_dict(), "grads": grads}, Path(output) / f"result.rank{rank}.pt")
    if run.dist.active:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
