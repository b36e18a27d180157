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


def _synthetic_split(seed: int, people: int = 150, per_person: int = 4) -> lfw.Split:
    """A Split with random faces: AI-KD's quality follows the comparison scores more loosely than
    plain's (so the two differ), two draws at every p, both evaluators the same scores."""
    rng = np.random.default_rng(seed)
    split = lfw.Split.__new__(lfw.Split)
    split.identity = np.repeat([f"p{k}" for k in range(people)], per_person)
    split.people, split.person = np.unique(split.identity, return_inverse=True)
    ia, ib = np.triu_indices(len(split.identity), 1)
    mated = split.person[ia] == split.person[ib]
    i, j = ia[mated], ib[mated]
    face = rng.normal(size=len(split.identity))  # a face's own quality drives its pairs' scores
    scores = np.minimum(face[i], face[j]) + rng.normal(0, 0.5, len(i))
    split.emb = {}
    for name in lfw.EVALUATOR_NAMES:
        split.emb |= {f"{name}|mated": np.stack([i, j], axis=1), f"{name}|mated_scores": scores,
                      f"{name}|threshold|fnmr": np.float64(np.quantile(scores, 0.2)),
                      f"{name}|threshold|fmr": np.float64(np.quantile(scores, 0.1)),
                      f"{name}|nonmated": np.int64(1000), f"{name}|rules": np.array([1e-3, 0.2])}
    split.q = {f"{model}|p{p:g}|d{d}": face + rng.normal(0, noise, len(face))
               for model, noise in (("lightqnet_aikd_s0", 1.5), ("lightqnet_plain_s0", 0.5))
               for p in (0.0, 3.0, 5.0) for d in range(2)}
    return split


def test_crossfit_pools_the_halves_and_resamples_them_independently():
    first = _synthetic_split(0)
    rows = lfw.crossfit(first, first, boot=300)  # the same half twice: independent resamples of it
    assert len(rows) == 2 * 2 * 3
    curves = lfw.Edc(first, "insightface", 300)
    for r in (r for r in rows if r["evaluator"] == "insightface" and r["threshold_rule"] == "fnmr"):
        q = {arm: [first.q[f"lightqnet_{arm}_s0|p{r['p']:g}|d{d}"] for d in range(2)] for arm in ("aikd", "plain")}
        one = curves.compare(q["aikd"], q["plain"], 0.2)
        assert r["diff"] == pytest.approx(one["diff"], abs=1e-12) and one["diff"] > 0.05  # plain follows the scores
        assert [f["diff"] for f in r["folds"]] == pytest.approx([one["diff"]] * 2, abs=1e-12)
        # two independent halves of the same size: the interval shrinks by about 1/sqrt(2)
        ratio = (r["ci95"][1] - r["ci95"][0]) / (one["ci95"][1] - one["ci95"][0])
        assert 0.55 < ratio < 0.85, ratio
    without_plain = _synthetic_split(1)
    without_plain.q = {k: v for k, v in without_plain.q.items() if "plain" not in k}
    assert lfw.crossfit(_synthetic_split(0), without_plain, boot=0) == []


def test_a_folder_without_results_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        lfw.main([str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("no LFW study results here (faces_test.csv missing)")


def test_fold_1_alone_is_one_line(tmp_path, capsys):
    """Fold 1's folder is no study of its own (no validation people, no View-2): pointing the tables
    at it says so instead of failing on a missing file (or overwriting anything)."""
    (tmp_path / "faces_test.csv").write_text("path,identity\n")
    (tmp_path / "split.json").write_text(json.dumps({"fold": 1}))
    with pytest.raises(SystemExit) as exit_info:
        lfw.main([str(tmp_path)])
    assert exit_info.value.code == 2
    assert "fold 1 of a study; pass the study's folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces_test.csv", "split.json"]


def test_study_logs_a_command_before_it_runs(tmp_path, monkeypatch):
    """An interrupted command (resumed later with --resume) keeps its options in commands.log."""
    import subprocess

    import aikd_lfw

    args = aikd_lfw.parse_args(["--lfw-root", str(tmp_path), "--pairs", "p.txt", "--lightqnet", "l.onnx",
                                "--insightface-mfn", "m.params", "--work", str(tmp_path / "work"),
                                "--results", str(tmp_path / "results")])
    study = aikd_lfw.Study(args)

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(subprocess, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        study.aikd("distill", "labels.csv", "--seed", 1)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, "done\n", ""))
    study.aikd("distill", "--resume")
    log = (tmp_path / "work" / "commands.log").read_text().splitlines()
    assert log[0] == "aikd distill labels.csv --seed 1"
    assert log[1] == "aikd distill --resume" and log[2].startswith("# rc 0, ") and log[3] == "#   done"
