"""One process or many: this process's rank in a ``torchrun`` job, and the few collectives that
``distill`` and ``score`` need (shared here so both join a job the same way)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from aikd_cli.utils.device import resolve_device


@dataclass
class Dist:
    """This process's place in a (possibly single-process) job."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def min(self, value: int) -> int:
        return self._reduce(value, dist.ReduceOp.MIN) if self.active else value

    def sum(self, value: int) -> int:
        return self._reduce(value, dist.ReduceOp.SUM) if self.active else value

    def _reduce(self, value: int, op) -> int:
        t = torch.tensor([value], dtype=torch.long)
        if dist.get_backend() == "nccl":
            t = t.cuda()
        dist.all_reduce(t, op=op)
        return int(t.item())


def launched_world() -> int:
    """How many processes the launcher (``torchrun``) started; 1 when run alone."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def is_main_process() -> bool:
    """Whether this process speaks for the job (rank 0, or alone): only it prints."""
    return int(os.environ.get("RANK", "0") or 0) == 0


def setup_distributed(device_name: str, timeout: timedelta = timedelta(minutes=60)) -> tuple[Dist, torch.device]:
    """Join the torchrun job described by the environment (or run alone) and pick the device;
    ``timeout``: how long a collective may wait for the slowest process."""
    world = launched_world()
    if world <= 1:
        return Dist(), resolve_device(device_name)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    wants_cpu = (device_name or "auto").lower() == "cpu"
    use_cuda = torch.cuda.is_available() and not wants_cpu
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timeout)
    if use_cuda:
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    return Dist(dist.get_rank(), dist.get_world_size(), local), device
