"""Torch-native exports: TorchScript (libtorch C++, PyTorch Mobile), ``torch.export`` archives
(AOTInductor, ExecuTorch) and aikd's canonical safetensors checkpoint.

The graph formats carry the aikd JSON record as an extra file ``aikd.json`` inside the archive
(read it in C++ with ``torch::jit::load(path, device, extra_files)``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from aikd_cli.models.checkpoints import save_checkpoint
from aikd_cli.tasks.export.errors import ExportFailed, reason
from aikd_cli.tasks.export.job import ExportJob

EXTRA_FILE = "aikd.json"


def export_torchscript(job: ExportJob, path: Path) -> dict:
    module, example = job.module(job.preprocessing), job.example(job.preprocessing)
    try:
        with warnings.catch_warnings():
            # torch.jit is deprecated upstream but still what libtorch C++ and PyTorch Mobile load
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(module, (example,), check_trace=False)
            extra = {EXTRA_FILE: json.dumps(job.graph_record(job.preprocessing, "fp32", "torch.jit.trace"))}
            torch.jit.save(traced, str(path), _extra_files=extra)
    except Exception as exc:
        raise ExportFailed(f"{job.config.arch} cannot be traced to TorchScript ({reason(exc)})") from None
    return {"exporter": "torch.jit.trace", "precision": "fp32", "preprocessing": job.preprocessing}


def export_pt2(job: ExportJob, path: Path) -> dict:
    module, example = job.module(job.preprocessing), job.example(job.preprocessing)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.export(
                module, (example,), dynamic_shapes=job.dynamic_shapes(job.preprocessing)
            )
            extra = {EXTRA_FILE: json.dumps(job.graph_record(job.preprocessing, "fp32", "torch.export"))}
            torch.export.save(program, str(path), extra_files=extra)
    except Exception as exc:
        raise ExportFailed(f"{job.config.arch} cannot be captured by torch.export ({reason(exc)})") from None
    return {"exporter": "torch.export", "precision": "fp32", "preprocessing": job.preprocessing}


def export_safetensors(job: ExportJob, path: Path) -> dict:
    info = {k: v for k, v in job.record.items() if k != "config"}
    save_checkpoint(path, job.loaded.net, job.config, info)
    return {"exporter": "safetensors", "precision": "fp32", "preprocessing": False}
