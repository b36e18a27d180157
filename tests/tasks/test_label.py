"""`aikd label`: CR-FIQA certainty ratios and SDD-FIQA Wasserstein labels from identities."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from distill_helpers import lfw_identities
from paths import SRC

from aikd_cli.tasks.distill.losses import spearman
from aikd_cli.tasks.distill.samples import read_manifest
from aikd_cli.tasks.label import certainty_ratio, compute_labels, sdd_quality, wasserstein_1d


def _controlled_embeddings():
    """Identity A along e0 with faces drifting away from it along +-e2 by growing amounts (in pairs,
    so A's centre stays on e0); identity B along e1; a lone face of identity C."""
    dim = 8
    e = torch.eye(dim, dtype=torch.float64)
    drift = torch.tensor([0.05, -0.05, 0.2, -0.2, 0.4, -0.4, 0.7, -0.7, 1.5, -1.5])
    a = e[0] + drift[:, None] * e[2]
    b = e[1] + torch.tensor([0.1, 0.3, 0.2])[:, None] * e[3]
    c = (e[4] + e[0])[None]
    names = ["A"] * len(a) + ["B"] * len(b) + ["C"]
    return torch.cat([a, b, c]) * 3.0, names, drift.abs()  # unnormalised on purpose


def test_certainty_ratio_ranks_faces_by_closeness_to_their_centre():
    emb, names, drift = _controlled_embeddings()
    cr, ccs, nnccs = certainty_ratio(emb, names)
    a = slice(0, len(drift))
    assert spearman(cr[a], -drift) == pytest.approx(1.0)  # closer to the centre -> higher label
    assert torch.all(cr[a][0:-2:2] > cr[a][2::2])
    # the formula, recomputed by hand for one face
    unit = torch.nn.functional.normalize(emb, dim=1)
    centre_a = torch.nn.functional.normalize(unit[a].mean(0), dim=0)
    centre_b = torch.nn.functional.normalize(unit[10:13].mean(0), dim=0)
    x = unit[2]
    own, other = float(x @ centre_a), max(float(x @ centre_b), float(x @ unit[13]))
    assert ccs[2].item() == pytest.approx(own) and nnccs[2].item() == pytest.approx(other)
    assert cr[2].item() == pytest.approx(own / (other + 1.0))
    assert math.isnan(cr[-1]) and torch.isfinite(cr[:-1]).all()  # a lone face has no label


def test_wasserstein_matches_scipy_and_sdd_labels_are_signed_and_finite():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n, m in ((3, 50), (7, 7), (1, 200)):
        a, b = rng.normal(0.5, 0.1, n), rng.normal(0.0, 0.2, m)
        assert wasserstein_1d(a, b) == pytest.approx(stats.wasserstein_distance(a, b), abs=1e-12)
    emb, names, drift = _controlled_embeddings()
    q, genuine, impostor = sdd_quality(emb, names, max_impostors=100, seed=0)
    assert np.isfinite(q[:-1]).all() and math.isnan(q[-1])
    assert q[0] > q[len(drift) - 1]  # the face closest to its mates beats the one drifting away
    assert np.array_equal(q[:-1], sdd_quality(emb, names, max_impostors=100, seed=0)[0][:-1])  # seeded
    # a face that resembles another identity more than its own gets a negative label
    swapped = emb.clone()
    swapped[0] = emb[11]  # a face of B labelled A
    q2, g2, i2 = sdd_quality(swapped, names, max_impostors=100, seed=0)
    assert g2[0] < i2[0] and q2[0] < 0


def test_norm_labels_are_embedding_norms_and_need_no_identities():
    emb, names, _ = _controlled_embeddings()
    quality, genuine, impostor = compute_labels(emb, names, "norm")
    np.testing.assert_allclose(quality, np.linalg.norm(emb.numpy(), axis=1), rtol=1e-12)
    assert np.isnan(genuine).all() and np.isnan(impostor).all()
    # the lone face of identity C gets a label too, and one identity is enough
    assert np.isfinite(quality).all()
    assert np.isfinite(compute_labels(emb[:4], ["A"] * 4, "norm")[0]).all()


def test_label_command_on_real_photos(assets, mobilefacenet_weights, retinaface_weights, tmp_path):
    ids = lfw_identities(assets, tmp_path / "ids.csv", people=3)
    lone = sorted((assets / "lfw").glob("Adam_Sandler/*.jpg"))[0]  # a person not among the first three
    with open(ids, "a", newline="") as f:
        csv.writer(f).writerows([[str(lone), "lone_person"], [str(tmp_path / "gone.jpg"), "ghost"]])
    out = tmp_path / "labels.csv"
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "aikd_cli",
            "label",
            "-i",
            str(ids),
            "--fr-model",
            str(mobilefacenet_weights),
            "-o",
            str(out),
            "--detector",
            str(retinaface_weights),
            "--workers",
            "0",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(out, newline="")))
    by_status = {}
    for row in rows:
        by_status.setdefault(row["status"], []).append(row)
    assert len(by_status["ok"]) == 12 and len(rows) == 14
    assert [r["identity"] for r in by_status["single_image"]] == ["lone_person"]
    assert by_status["missing"][0]["identity"] == "ghost"  # named as missing, not unreadable
    values = np.array([float(r["quality"]) for r in by_status["ok"]])
    assert np.isfinite(values).all() and values.std() > 0
    assert all(0 < float(r["genuine"]) <= 1 for r in by_status["ok"])
    # the labels file is a complete distill manifest: landmarks and quality for every labelled face
    faces = [f for f in read_manifest(out) if np.isfinite(f.label)]
    assert len(faces) == 12 and all(f.landmarks is not None for f in faces)
    assert "12 labels" in proc.stdout
