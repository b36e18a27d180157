"""Device and precision choices, resolved once and explained in one place."""

from __future__ import annotations

import contextlib
from typing import Literal

import torch

from aikd_cli.errors import AikdError

Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; an unavailable device is an error."""
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise AikdError(f"unknown device {name!r}", hint="use auto, cpu, cuda, cuda:N or mps") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise AikdError(f"device {name!r} is not supported", hint="use auto, cpu, cuda, cuda:N or mps")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AikdError(f"device {name!r} requested but CUDA is not available", hint="use --device cpu or auto")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise AikdError(f"device {name!r} requested but Apple MPS is not available", hint="use --device cpu or auto")
    return device


def resolve_precision(precision: Precision, device: torch.device) -> torch.dtype:
    """``auto`` is bf16 on GPUs that support it and fp32 elsewhere: on CPUs fp32 is the default
    because it is the only precision that reproduces reference scores exactly (bf16 is opt-in)."""
    if precision == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dtype is None:
        raise AikdError(f"unknown precision {precision!r} (choose auto, fp32, bf16 or fp16)")
    if dtype == torch.float16 and device.type == "cpu":
        raise AikdError("fp16 is not supported on the CPU", hint="use --precision bf16 or fp32")
    return dtype


def autocast(device: torch.device, dtype: torch.dtype):
    """Mixed-precision context for ``dtype`` (a no-op for fp32)."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
