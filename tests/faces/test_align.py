"""Alignment: least-squares similarity, an OpenCV-equivalent warp, and landmark perturbation."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from aikd_cli.faces.align import (
    ARCFACE_TEMPLATE,
    align_faces,
    estimate_similarity,
    invert_affine,
    template,
    warp_affine,
)
from aikd_cli.faces.perturb import perturb_landmarks
from aikd_cli.images.decode import load_image


def _umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Reference Umeyama (1991) similarity via SVD, written independently of the code under test."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    fix = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        fix[1, 1] = -1
    rot = u @ fix @ vt
    scale = np.trace(np.diag(sig) @ fix) / (s**2).sum(1).mean()
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def test_exact_similarity_is_recovered():
    angle, scale, t = 0.3, 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    src = np.random.default_rng(0).uniform(0, 200, (5, 2))
    dst = src @ rot.T + t
    m = estimate_similarity(torch.tensor(src), torch.tensor(dst)).numpy()
    assert np.allclose(m, np.hstack([rot, t[:, None]]), atol=1e-9)


def test_least_squares_matches_umeyama_on_noisy_points():
    rng = np.random.default_rng(1)
    src = rng.uniform(50, 250, (32, 5, 2))
    ours = estimate_similarity(torch.tensor(src), ARCFACE_TEMPLATE).numpy()
    for i in range(len(src)):
        assert np.allclose(ours[i], _umeyama(src[i], ARCFACE_TEMPLATE.numpy()), atol=1e-8)


def test_inverse_and_template_scaling():
    m = estimate_similarity(torch.rand(3, 5, 2) * 100, template(224))
    inv = invert_affine(m)
    pts = torch.tensor([[10.0, 20.0, 1.0]], dtype=torch.float64)
    there = pts @ m[0].T
    back = torch.cat([there, torch.ones(1, 1, dtype=torch.float64)], 1) @ inv[0].T
    assert torch.allclose(back, pts[:, :2])
    assert torch.allclose(template(224), ARCFACE_TEMPLATE * 2)


def test_warp_matches_opencv_within_one_grey_level(assets):
    rng = np.random.default_rng(0)
    photos = sorted((assets / "faces").glob("*/*.jpg"))[::12]
    base = ARCFACE_TEMPLATE.numpy() * 2 + 20  # a plausible face, then moved/scaled/rotated below
    worst = 0
    for path in photos:
        img = load_image(path)
        h, w = img.shape[:2]
        for _ in range(4):
            pts = (base - base.mean(0)) * rng.uniform(0.3, 3) * min(h, w) / 250 + [rng.uniform(0, w), rng.uniform(0, h)]
            pts = pts + rng.uniform(-8, 8, pts.shape)
            crops, mats = align_faces(torch.from_numpy(img).permute(2, 0, 1), torch.tensor(pts[None]))
            ref = cv2.warpAffine(img, mats[0].numpy(), (112, 112))  # default: bilinear, black border
            worst = max(worst, int(np.abs(crops[0].permute(1, 2, 0).numpy().astype(int) - ref).max()))
    assert worst <= 1


def test_batched_float_warp_agrees_with_per_face_and_is_differentiable():
    img = torch.rand(2, 3, 80, 90, requires_grad=True)
    m = estimate_similarity(torch.rand(2, 5, 2) * 60 + 10, template())
    out = warp_affine(img, m, 112)
    assert out.shape == (2, 3, 112, 112)
    single = warp_affine(img[1:], m[1:], 112)
    assert torch.allclose(out[1:], single, atol=1e-6)
    out.sum().backward()
    assert img.grad is not None and img.grad.abs().sum() > 0


def test_faces_outside_the_image_give_black_crops():
    img = torch.full((3, 50, 50), 200, dtype=torch.uint8)
    far = ARCFACE_TEMPLATE[None] + 1000
    crops, _ = align_faces(img, far)
    assert crops.shape == (1, 3, 112, 112) and int(crops.max()) == 0


def test_perturbation_is_bounded_fresh_and_seeded():
    lm = ARCFACE_TEMPLATE.clone()[None].repeat(500, 1, 1)
    gen = torch.Generator().manual_seed(0)
    a = perturb_landmarks(lm, 3.0, gen)
    b = perturb_landmarks(lm, 3.0, gen)
    assert torch.equal(lm, ARCFACE_TEMPLATE[None].repeat(500, 1, 1))  # input untouched (no accumulation)
    delta = a - lm
    assert delta.abs().max() <= 3.0 and delta.abs().max() > 2.9  # bounded, and uses the range
    assert abs(float(delta.mean())) < 0.1
    assert not torch.equal(a, b)  # fresh noise on every draw
    again = perturb_landmarks(lm, 3.0, torch.Generator().manual_seed(0))
    assert torch.equal(a, again)  # reproducible from the seed
    rel = perturb_landmarks(lm, 0.05, torch.Generator().manual_seed(0), relative=True) - lm
    iod = float((ARCFACE_TEMPLATE[0] - ARCFACE_TEMPLATE[1]).norm())
    assert rel.abs().max() <= 0.05 * iod + 1e-9
    with pytest.raises(ValueError):
        perturb_landmarks(lm, -1)
