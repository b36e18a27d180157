"""The LFW study's committed results: the weighted EDC behind its bootstrap agrees with aikd's EDC,
and docs/distill.md shows exactly the tables the committed per-face files give."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import aikd_lfw_tables as lfw  # noqa: E402

from aikd_cli.tasks.evaluate import edc  # noqa: E402

RESULTS = Path(os.environ.get("AIKD_LFW_RESULTS", ROOT / "benchmarks" / "results" / "lfw"))


def test_weighted_pauc_is_aikd_edc():
    rng = np.random.default_rng(0)
    q = np.round(rng.random(400), 2)  # many ties: tied pairs are discarded together
    errors = rng.random(400) < 0.2
    for limit in (0.2, 0.3):
        want = edc.partial_areas(edc.edc(q, errors), (limit,))[0].normalised
        assert lfw.weighted_pauc(q, errors, np.ones(400), limit) == pytest.approx(want, abs=1e-12)
    # integer weights = the pairs repeated (a bootstrap resample)
    w = rng.integers(0, 3, 400)
    repeated = edc.partial_areas(edc.edc(np.repeat(q, w), np.repeat(errors, w)), (0.2,))[0].normalised
    assert lfw.weighted_pauc(q, errors, w, 0.2) == pytest.approx(repeated, abs=1e-12)


def test_person_weights_resample_people():
    w = lfw.person_weights(np.array([0, 0, 1, 2]), 3, 50, seed=0)
    assert w.shape == (50, 4) and (w[:, 0] == w[:, 1]).all()
    assert (w.sum(axis=1) >= 0).all() and w.max() <= 3


@pytest.mark.skipif(not (RESULTS / "summary.json").exists(), reason="the LFW study has not been committed")
def test_docs_tables_are_the_committed_results():
    summary = json.loads((RESULTS / "summary.json").read_text())
    tables = lfw.render(summary)
    assert (RESULTS / "tables.md").read_text() == tables
    doc = (ROOT / "docs" / "distill.md").read_text(encoding="utf-8")
    assert lfw.DOC_BEGIN + "\n" + tables + lfw.DOC_END in doc


@pytest.mark.skipif(not (RESULTS / "summary.json").exists(), reason="the LFW study has not been committed")
def test_point_estimates_recompute_from_the_per_face_files():
    summary = json.loads((RESULTS / "summary.json").read_text())
    again = lfw.summarise(RESULTS, boot=0, agreement_boot=0)
    key = ("labels", "evaluator", "threshold_rule", "p", "metric")
    stored = {tuple(r[k] for k in key): r for r in summary["results"]}
    assert len(again["results"]) == len(stored) > 0
    for r in again["results"]:
        s = stored[tuple(r[k] for k in key)]
        assert (r["aikd"], r["plain"], r["diff"]) == pytest.approx((s["aikd"], s["plain"], s["diff"]), abs=1e-12)
    assert again["data"] == summary["data"]
