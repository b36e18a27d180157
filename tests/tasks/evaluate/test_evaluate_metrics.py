"""EDC, pAUC and CR-FIQA curves on hand-computed cases, and against definition-level brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aikd_cli.tasks.evaluate import edc


def test_hand_computed_edc_and_all_three_paucs():
    # 5 mated comparisons, qualities 1..5, errors at q=1 and q=3
    curve = edc.edc(np.array([3.0, 1.0, 5.0, 2.0, 4.0]), np.array([True, True, False, False, False]))
    assert curve.discard.tolist() == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert np.allclose(curve.error, [2 / 5, 1 / 4, 1 / 3, 0, 0, 0])
    (area,) = edc.partial_areas(curve, (0.3,))
    assert area.pauc == pytest.approx(0.4 * 0.2 + 0.25 * 0.1)  # 0.105
    assert area.pauc_minus_best == pytest.approx(0.105 - (0.4**2 / 2 - 0.1**2 / 2))  # best = 0.075
    assert area.normalised == pytest.approx(0.105 / (0.4 * 0.3))  # 0.875


def test_ties_are_discarded_together():
    curve = edc.edc(np.array([1.0, 1.0, 2.0, 2.0, 3.0]), np.array([True, False, False, True, False]))
    assert curve.discard.tolist() == [0.0, 0.4, 0.8, 1.0]
    assert np.allclose(curve.error, [2 / 5, 1 / 3, 0, 0])
    assert edc.pauc(curve, 0.5) == pytest.approx(0.4 * 0.4 + 0.1 / 3)


def test_all_equal_quality_is_exactly_random():
    rng = np.random.default_rng(0)
    errors = rng.random(1000) < 0.1
    curve = edc.edc(np.full(1000, 0.7), errors)
    assert curve.discard.tolist() == [0.0, 1.0]
    for area in edc.partial_areas(curve, (0.2, 0.3, 1.0)):
        assert area.normalised == pytest.approx(1.0)
        assert area.pauc == pytest.approx(errors.mean() * area.limit)


def test_perfect_and_inverted_quality():
    errors = np.array([True, True] + [False] * 8)
    perfect = edc.edc(np.arange(10.0), errors)  # the two errors have the lowest quality
    assert np.allclose(perfect.error[:4], [0.2, 1 / 9, 0, 0])
    area = edc.partial_areas(perfect, (0.3,))[0]
    assert area.pauc == pytest.approx(0.2 * 0.1 + 0.1 / 9)
    assert area.pauc_minus_best == pytest.approx(0.1 / 9 + 0.02 - 0.02)  # the step above the continuous best
    inverted = edc.edc(-np.arange(10.0), errors)  # the errors have the highest quality
    assert np.allclose(inverted.error[:4], [2 / 10, 2 / 9, 2 / 8, 2 / 7])
    assert edc.partial_areas(inverted, (0.3,))[0].normalised > 1.0 > area.normalised


def test_theoretical_best_area_both_branches():
    assert edc.theoretical_best_area(0.1, 0.3) == pytest.approx(0.005)  # limit beyond the error
    assert edc.theoretical_best_area(0.4, 0.3) == pytest.approx(0.08 - 0.005)  # limit inside the triangle


def test_pauc_limits():
    curve = edc.edc(np.arange(4.0), np.array([True, False, True, False]))
    assert edc.pauc(curve, 0.0) == 0.0
    assert edc.pauc(curve, 1.0) == pytest.approx(0.25 * 0.5 + 0.25 / 3 + 0.25 * 0.5 + 0)
    with pytest.raises(ValueError):
        edc.pauc(curve, 1.5)


def _brute_force_edc(q, errors):
    """The definition: for every distinct quality level, keep the comparisons at or above it."""
    discard, error = [], []
    for level in np.unique(q):
        keep = q >= level
        discard.append(1 - keep.mean())
        error.append(errors[keep].mean())
    return np.array(discard + [1.0]), np.array(error + [0.0])


def _loop_pauc(discard, error, limit):
    """Step-wise area, one segment at a time."""
    area = 0.0
    for i in range(len(discard) - 1):
        if discard[i + 1] >= limit:
            return area + error[i] * (limit - discard[i])
        area += error[i] * (discard[i + 1] - discard[i])
    return area


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_edc_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    q = np.round(rng.random(400), 2)  # many ties
    errors = rng.random(400) < 0.2 + 0.3 * (q < 0.3)
    curve = edc.edc(q, errors)
    d, e = _brute_force_edc(q, errors)
    assert np.allclose(curve.discard, d) and np.allclose(curve.error, e)
    for limit in (0.05, 0.2, 0.3, 0.77, 1.0):
        assert edc.pauc(curve, limit) == pytest.approx(_loop_pauc(d, e, limit), abs=1e-15)


def test_threshold_for_fmr():
    nonmated = np.arange(1, 11) / 10.0  # 0.1 .. 1.0
    t = edc.threshold_for_fmr(nonmated, 0.2)  # 2 false matches allowed: just above 0.8
    assert 0.8 < t < 0.8 + 1e-12 and np.mean(nonmated >= t) == pytest.approx(0.2)
    assert np.mean(nonmated >= edc.threshold_for_fmr(nonmated, 0.25)) <= 0.25
    tied = np.full(10, 0.5)
    assert np.mean(tied >= edc.threshold_for_fmr(tied, 0.2)) == 0.0  # ties: stay at or below the target
    assert edc.threshold_for_fmr(np.arange(3000.0), 1e-3) == np.nextafter(2996.0, np.inf)  # floor(2.999..)=3
    assert edc.min_nonmated_for_fmr(1e-3) == 1000 and edc.min_nonmated_for_fmr(1e-4) == 10000


def test_threshold_for_start_error_is_the_linear_quantile():
    mated = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    assert edc.threshold_for_start_error(mated, 0.25) == pytest.approx(0.2)
    assert edc.threshold_for_start_error(mated, 0.3) == pytest.approx(0.22)


def _naive_rejection(scores, mated, q, fmr, rates):
    order = np.argsort(q, kind="stable")
    out = []
    for rate in rates:
        keep = order[int(rate * len(q) + 1e-9) :]
        s, m = scores[keep], mated[keep]
        if m.all() or not m.any():  # no threshold (or no FNMR) without both kinds of pair
            out.append(np.nan)
            continue
        t = edc.threshold_for_fmr(s[~m], fmr)
        out.append(np.mean(s[m] < t))
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1])
def test_rejection_curve_equals_per_rate_definition(seed):
    rng = np.random.default_rng(seed)
    n = 20_000
    mated = rng.random(n) < 0.3
    q = np.round(rng.random(n), 2)  # heavy ties: the pair order decides inside a tie
    scores = np.where(mated, rng.normal(0.3 + 0.4 * q, 0.1), rng.normal(0, 0.1))
    curve = edc.rejection_curve(scores, mated, q, 1e-2)
    assert np.allclose(curve.fnmr, _naive_rejection(scores, mated, q, 1e-2, edc.CRFIQA_RATES))
    assert curve.nonmated_left[0] == (~mated).sum() and np.all(np.diff(curve.nonmated_left) <= 0)
    # a quality that rejects the highest impostor scores first forces the widened search
    adversarial = np.where(mated, 1.0, -scores)
    curve = edc.rejection_curve(scores, mated, adversarial, 1e-2)
    assert np.allclose(
        curve.fnmr, _naive_rejection(scores, mated, adversarial, 1e-2, edc.CRFIQA_RATES), equal_nan=True
    )
    assert np.isnan(curve.fnmr[-1]) and curve.nonmated_left[-1] == 0


def test_trapezoid_areas_of_a_rejection_curve():
    rates = edc.CRFIQA_RATES
    curve = edc.RejectionCurve(rates, 0.1 - rates / 10, np.zeros(20), np.full(20, 10**6), 100)
    (area,) = edc.rejection_partial_areas(curve, (0.3,))
    assert area.pauc == pytest.approx(0.3 * (0.1 + 0.07) / 2)
    assert area.normalised == pytest.approx(area.pauc / (0.1 * 0.3)) and math.isnan(area.pauc_minus_best)
    assert edc.trapezoid_area(rates, curve.fnmr, 0.325) == pytest.approx(0.325 * (0.1 + 0.0675) / 2)


def test_spearman_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x = np.round(rng.random(300), 1)
    y = x + rng.normal(0, 0.2, 300)
    assert edc.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert edc.rank_average(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]
    assert math.isnan(edc.spearman(np.ones(5), np.arange(5.0)))


def _erc_roc_threshold(pos_dists, neg_dists, op):
    """CR-FIQA ERC/roc.py, calculate_roc(ds_scores=True, rates=False) + get_fmr_op, transcribed."""
    g, i = -np.asarray(pos_dists, np.float64), -np.asarray(neg_dists, np.float64)
    stacked = sorted(list(zip(g, [1] * len(g))) + list(zip(i, [0] * len(i))), key=lambda t: t[0])
    scores = np.array(stacked)
    cumul = np.cumsum(scores[:, 1])
    thresholds, u_indices = np.unique(scores[:, 0], return_index=True)
    fnm = cumul[u_indices] - scores[u_indices][:, 1]
    fm = len(i) - (u_indices - fnm)
    index = np.argmin(abs(fm / len(i) - op))
    return thresholds[index] * -1


def _erc_curve(similarity, is_same, qualities, op):
    """CR-FIQA ERC/erc.py getFNMRFixedTH on cosine similarities (angular distance arccos / pi),
    transcribed: pairs rejected in the order of numpy's default (unstable) argsort of the qualities."""
    dist = np.arccos(np.clip(similarity, -1.0, 1.0)) / math.pi
    order = np.argsort(np.array(list(map(float, qualities))))
    fnmrs = []
    for u_rate in np.arange(0, 0.98, 0.05):
        keep = order[int(u_rate * len(is_same)) :]
        pos, neg = np.sort(dist[keep][is_same[keep] == 1]), np.sort(dist[keep][is_same[keep] == 0])
        th = _erc_roc_threshold(pos, neg, op)
        fnmrs.append(1 - len([g for g in pos if g < th]) / len(pos))
    return np.arange(0, 0.98, 0.05), np.array(fnmrs)


@pytest.mark.parametrize("seed,fmr", [(0, 1e-2), (1, 1e-3), (2, 1e-2)])
def test_closest_fmr_rule_reproduces_crfiqa_erc_loop(seed, fmr):
    rng = np.random.default_rng(seed)
    n = 6000
    mated = rng.random(n) < 0.25
    q = rng.random(n)  # distinct qualities (the test below has ties)
    scores = np.where(mated, rng.normal(0.35 + 0.4 * q, 0.15, n), rng.normal(0.0, 0.12, n)).clip(-0.99, 0.99)
    # scores on a coarse grid: ties between mated and non-mated scores exercise the >= / > edges
    scores = np.round(scores, 3)
    rates, reference = _erc_curve(scores, mated.astype(int), q, fmr)
    curve = edc.rejection_curve(scores, mated, q, fmr, rule="closest")
    assert np.array_equal(curve.rates, rates)
    assert np.array_equal(curve.fnmr, reference)
    # the published number: sklearn.metrics.auc over all 20 rates = the trapezoid rule, un-normalised
    (area,) = edc.rejection_partial_areas(curve, (0.95,))
    assert area.pauc == float(np.sum(np.diff(rates) * (reference[1:] + reference[:-1]) / 2.0))
    # the default rule (FMR <= target, rates rounded) is a different number on the same data
    assert not np.array_equal(edc.rejection_curve(scores, mated, q, fmr).fnmr, curve.fnmr)


def test_closest_fmr_threshold_picks_the_nearest_roc_point():
    nonmated = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    mated = np.array([0.85, 0.95])
    # candidates are all distinct scores; FMR(c) = #{nonmated >= c} / 10; the lowest candidate of the
    # nearest FMR wins, and a comparison is accepted only above it
    assert edc.closest_fmr_threshold(mated, nonmated, 0.12) == np.nextafter(0.95, np.inf)  # FMR 0.1
    assert edc.closest_fmr_threshold(mated, nonmated, 0.19) == np.nextafter(
        0.85, np.inf
    )  # FMR 0.2, a mated score
    assert edc.closest_fmr_threshold(mated, nonmated, 0.38) == np.nextafter(0.7, np.inf)  # FMR 0.4 > target
    assert edc.threshold_for_fmr(nonmated, 0.38) == np.nextafter(0.7, np.inf)  # at-most: 3 false matches


def test_quality_model_labels(tmp_path):
    from aikd_cli.tasks.evaluate.model_runs import model_label
    from aikd_cli.tasks.evaluate.options import ModelInput

    for name in ("aikd_s0", "plain_s0"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "best.safetensors").write_bytes(b"")
        (tmp_path / name / "last.safetensors").write_bytes(b"")
    run = tmp_path / "aikd_s0"
    # two run folders are told apart by their own names, however they are passed
    assert model_label(str(run)) == "aikd_s0" and model_label(str(tmp_path / "plain_s0")) == "plain_s0"
    assert model_label(str(run / "best.safetensors")) == "aikd_s0"
    assert model_label(str(run / "last.safetensors")) == "aikd_s0 (last)"
    assert model_label("hf://org/model") == "org/model" and model_label("ediffiqa-s") == "ediffiqa-s"
    assert ModelInput.parse(f"{run}/best.safetensors:AI-KD") == ModelInput(f"{run}/best.safetensors", "AI-KD")
    assert ModelInput.parse(f"{run}:AI-KD") == ModelInput(str(run), "AI-KD")
    assert ModelInput.parse("hf://org/model") == ModelInput("hf://org/model")
    assert ModelInput.parse("hf://org/model:mine") == ModelInput("hf://org/model", "mine")
    odd = tmp_path / "a:b.safetensors"  # an existing file whose name has a colon is a path
    odd.write_bytes(b"")
    assert ModelInput.parse(str(odd)) == ModelInput(str(odd))


def test_fmr_rule_closest_through_evaluate_gives_erc_numbers(tmp_path):
    import csv

    from aikd_cli.tasks.evaluate import DatasetInput, EvaluateOptions, QualityInput, evaluate

    rng = np.random.default_rng(3)
    quality = rng.random(300)
    a, b = rng.integers(0, 300, 6000), rng.integers(0, 300, 6000)
    keep = np.unique(np.sort(np.stack([a, b], 1), axis=1)[a != b], axis=0)[:4000]
    mated = rng.random(len(keep)) < 0.2
    scores = np.round(np.where(mated, rng.normal(0.5, 0.2, len(keep)), rng.normal(0.0, 0.15, len(keep))), 3)
    with open(tmp_path / "pairs.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path_a", "path_b", "mated", "score"])
        w.writerows([f"s{i}", f"s{j}", int(m), repr(float(s))] for (i, j), m, s in zip(keep, mated, scores))
    with open(tmp_path / "q.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "quality"])
        w.writerows([f"s{i}", repr(float(q))] for i, q in enumerate(quality))
    options = EvaluateOptions(
        datasets=[DatasetInput(tmp_path / "pairs.csv")],
        quality=[QualityInput(tmp_path / "q.csv", "Q")],
        score_column="score",
        fmr=1e-2, fmr_rule="closest",
        protocol="crfiqa",
        limits=(0.95,),
    )
    (dataset,) = evaluate(options).datasets
    method = next(m for m in dataset.methods if m.label == "Q")
    pair_q = np.minimum(quality[keep[:, 0]], quality[keep[:, 1]])
    _, reference = _erc_curve(scores, mated.astype(int), pair_q, 1e-2)
    assert np.array_equal(method.curve.fnmr, reference)
    # sklearn.metrics.auc over the 20 rates (= numpy's trapezoid rule), un-normalised
    assert method.areas[0].pauc == pytest.approx(
        float(np.trapezoid(reference, np.arange(0, 0.98, 0.05))), abs=1e-15
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_closest_fmr_rule_orders_tied_pair_qualities_as_erc_py(seed):
    """Pairs that share a sample tie on their quality (the min of two), and erc.py rejects them in the
    order of numpy's default argsort, not in pair order (a stable order was 7.2e-5 off in pAUC)."""
    rng = np.random.default_rng(seed)
    samples = rng.random(120)
    a, b = rng.integers(0, 120, 5000), rng.integers(0, 120, 5000)
    pairs = np.unique(np.sort(np.stack([a, b], 1), axis=1)[a != b], axis=0)
    rng.shuffle(pairs)  # pair order unrelated to the samples' order
    mated = rng.random(len(pairs)) < 0.2
    scores = np.round(np.where(mated, rng.normal(0.5, 0.2, len(pairs)), rng.normal(0.0, 0.15, len(pairs))), 3)
    q = edc.pair_quality(samples[pairs[:, 0]], samples[pairs[:, 1]])
    assert len(np.unique(q)) < len(q) / 10  # nearly every pair ties with others
    rates, reference = _erc_curve(scores, mated.astype(int), q, 1e-2)
    curve = edc.rejection_curve(scores, mated, q, 1e-2, rule="closest")
    assert np.array_equal(curve.fnmr, reference)
    (area,) = edc.rejection_partial_areas(curve, (0.95,))
    assert abs(area.pauc - float(np.trapezoid(reference, rates))) <= 1e-9
