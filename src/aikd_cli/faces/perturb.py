"""Landmark perturbation: the misalignment the AI-KD student is trained and tested against.

``k_hat = k + U[-p, p]`` independently per coordinate, drawn from an explicit generator so runs are
reproducible, and always from the clean landmarks (the reference code added noise in place, so it
accumulated over epochs; here the input is never modified).

Every command draws a face's noise from :func:`noise_generator` of ``(seed, stream, face key)``:
the same face gets the same noise in ``align``, ``score``, ``evaluate`` and ``distill`` for the same
seed and stream, whatever the batch, worker, input order or path spelling. A stream names one
independent draw (``distill`` uses one per epoch; ``score --perturb-samples`` one per sample).
The draw does not depend on ``p``: levels scale the same unit noise, so a face misaligned at 5 px
is the one misaligned at 3 px, moved further (common random numbers across levels).
"""

from __future__ import annotations

import hashlib
import os

import torch

from aikd_cli.faces.align import interocular_distance

UNITS = ("px", "iod")


def face_key(path: str, face: int = 0) -> str:
    """A face's identity for noise: its image's absolute, normalised path (or an evaluate sample
    key such as ``/data/lfw.bin#17``) and its index."""
    return f"{os.path.normpath(os.path.abspath(path))}\0{face}"


def noise_generator(seed: int, stream: str | int, key: str) -> torch.Generator:
    """A generator unique to one draw (``stream``) of one face (``key``, see :func:`face_key`)."""
    data = f"{seed}\0{stream}\0{key}".encode()
    value = int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") & ((1 << 63) - 1)
    return torch.Generator().manual_seed(value)


def perturb_landmarks(
    landmarks: torch.Tensor,
    p: float,
    generator: torch.Generator | None = None,
    *,
    relative: bool = False,
) -> torch.Tensor:
    """Return a perturbed copy of ``landmarks`` ``(..., 5, 2)``.

    With ``relative=False`` ``p`` is in source-image pixels (the paper uses 3 px); with
    ``relative=True`` it is a fraction of each face's inter-ocular distance (e.g. 0.05), which makes
    the perturbation comparable across face sizes and datasets.
    """
    if not p >= 0 or p == float("inf"):
        raise ValueError(f"perturbation p must be a finite number >= 0, got {p}")
    landmarks = landmarks.to(torch.float64)
    if p == 0:
        return landmarks.clone()
    noise = torch.rand(landmarks.shape, generator=generator, dtype=torch.float64, device="cpu")
    noise = (noise * 2.0 - 1.0).to(landmarks.device)
    scale = torch.as_tensor(p, dtype=torch.float64, device=landmarks.device)
    if relative:
        scale = scale * interocular_distance(landmarks)[..., None, None]
    return landmarks + noise * scale


def perturb_face(
    landmarks: torch.Tensor, p: float, *, unit: str = "px", seed: int = 0, stream: str | int = 0, key: str
) -> torch.Tensor:
    """One face's ``(5, 2)`` landmarks misaligned by ``p`` (``unit`` px or iod) for draw ``stream``."""
    if unit not in UNITS:
        raise ValueError(f"misalignment unit must be one of {UNITS}, got {unit!r}")
    if p == 0:
        return landmarks.to(torch.float64)
    return perturb_landmarks(landmarks, p, noise_generator(seed, stream, key), relative=unit == "iod")
