"""Landmark perturbation: the misalignment the AI-KD student is trained and tested against.

``k_hat = k + U[-p, p]`` independently per coordinate, drawn from an explicit generator so runs are
reproducible, and always from the clean landmarks (the reference code added noise in place, so it
accumulated over epochs; here the input is never modified).
"""

from __future__ import annotations

import torch

from aikd_cli.faces.align import interocular_distance


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
    if p < 0:
        raise ValueError(f"perturbation p must be >= 0, got {p}")
    landmarks = landmarks.to(torch.float64)
    if p == 0:
        return landmarks.clone()
    noise = torch.rand(landmarks.shape, generator=generator, dtype=torch.float64, device="cpu")
    noise = (noise * 2.0 - 1.0).to(landmarks.device)
    scale = torch.as_tensor(p, dtype=torch.float64, device=landmarks.device)
    if relative:
        scale = scale * interocular_distance(landmarks)[..., None, None]
    return landmarks + noise * scale
