"""The AI-KD objective and the few statistics the run reports."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class LossTerms:
    total: torch.Tensor
    cos: torch.Tensor  # mean 1 - cos(e, e_hat), detached
    quality: torch.Tensor  # mean L1 / SmoothL1 between q_hat and q, detached
    cos_graph: torch.Tensor | None = None  # the same two terms with their graphs (for gradient statistics)
    quality_graph: torch.Tensor | None = None


class DistillLoss(nn.Module):
    """``lambda_cos * (1 - cos(e_i, e_hat_i)) + lambda_q * L(q_hat_i, q_i)``, averaged over the batch.

    ``L`` is SmoothL1 with ``beta`` (the reference's choice, beta 0.5) or plain L1, of the residual
    divided by ``scale`` (the label standard deviation with ``--quality-units std``, else 1). Computed
    in float32 whatever precision the networks ran in.
    """

    def __init__(
        self,
        lambda_cos: float = 1.0,
        lambda_q: float = 1.0,
        kind: str = "smoothl1",
        beta: float = 0.5,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        if kind not in ("smoothl1", "l1"):
            raise ValueError(f"unknown quality loss {kind!r}")
        self.lambda_cos, self.lambda_q, self.kind, self.beta = lambda_cos, lambda_q, kind, beta
        self.scale = scale

    def quality_term(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        residual = (predicted.float().reshape(-1) - target.float().reshape(-1)) / self.scale
        if self.kind == "l1":
            return residual.abs().mean()
        return F.smooth_l1_loss(residual, torch.zeros_like(residual), beta=self.beta)

    def forward(
        self,
        student_emb: torch.Tensor,
        student_q: torch.Tensor,
        teacher_emb: torch.Tensor | None,
        target_q: torch.Tensor,
    ) -> LossTerms:
        """``teacher_emb=None`` (allowed when ``lambda_cos`` is 0) leaves out the embedding term."""
        if teacher_emb is None:
            if self.lambda_cos:
                raise ValueError("the embedding term needs the teacher embeddings")
            cos = student_emb.new_zeros((), dtype=torch.float32)
        else:
            cos = (1.0 - F.cosine_similarity(student_emb.float(), teacher_emb.float(), dim=1)).mean()
        quality = self.quality_term(student_q, target_q)
        return LossTerms(
            self.lambda_cos * cos + self.lambda_q * quality, cos.detach(), quality.detach(), cos, quality
        )


def term_gradients(terms: LossTerms, lambdas: tuple[float, float], params: list[torch.Tensor]) -> dict:
    """Norms of the weighted embedding and quality terms' gradients on ``params`` (the backbone
    tensors both terms share) and the cosine between them; the graph is kept for the real backward."""
    cos_term, q_term = lambdas[0] * terms.cos_graph, lambdas[1] * terms.quality_graph
    grads = []
    for term in (cos_term, q_term):
        g = (
            torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
            if term.requires_grad
            else ()
        )
        flat = [(x if x is not None else torch.zeros_like(p)).reshape(-1).float() for x, p in zip(g, params)]
        grads.append(torch.cat(flat) if flat else torch.zeros(1))
    a, b = grads
    na, nb = float(a.norm()), float(b.norm())
    return {
        "grad_cos": na,
        "grad_q": nb,
        "grad_cosine": float(a @ b) / (na * nb) if na > 0 and nb > 0 else math.nan,
    }


def spearman(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Spearman rank correlation (average ranks for ties); NaN for fewer than 3 values or a constant input."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1), np.asarray(b, dtype=np.float64).reshape(-1)
    if a.size < 3 or a.size != b.size:
        return float("nan")
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else float("nan")


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = np.arange(x.size, dtype=np.float64)
    # average the ranks of tied values
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]
