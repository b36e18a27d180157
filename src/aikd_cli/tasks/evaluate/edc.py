"""Error-versus-Discard Characteristic (EDC) curves and their partial areas, in pure numpy.

Two protocols, both exact and both linear after one sort:

* :func:`edc` follows Schlett et al., "Considerations on the Evaluation of Biometric Quality
  Assessment Algorithms", IEEE TBIOM 2023: the comparison threshold is fixed once before anything
  is discarded, comparisons are discarded in ascending pair quality (min of the two samples) with
  equal qualities discarded together, and the curve is a step function.
* :func:`rejection_curve` follows the CR-FIQA evaluation (Boutros et al., CVPR 2023): at each
  rejection rate a fixed share of the lowest-quality pairs is dropped, the threshold is re-fixed
  for the target FMR on what remains, and the area is a trapezoid sum.

Scores are similarities (higher = more alike); a comparison is accepted when ``score >= threshold``.
docs/evaluate.md writes the formulas out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: The rejection rates of the CR-FIQA protocol: 0, 0.05, ..., 0.95.
CRFIQA_RATES = np.round(np.arange(20) * 0.05, 2)
#: The same rates exactly as CR-FIQA's ``ERC/erc.py`` makes them (``np.arange(0, 0.98, 0.05)``: a few
#: carry float noise, e.g. 0.15000000000000002), used with the closest-FMR rule to reproduce its numbers.
ERC_RATES = np.arange(0, 0.98, 0.05)
#: How a target FMR becomes a threshold: the lowest threshold with FMR <= target (aikd's default), or
#: the ROC point whose FMR is closest to the target (CR-FIQA's ``ERC/roc.py``).
FMR_RULES = ("at-most", "closest")


def pair_quality(quality_a: np.ndarray, quality_b: np.ndarray) -> np.ndarray:
    """A comparison is as good as its worse sample: discarding a sample discards all its pairs."""
    return np.minimum(np.asarray(quality_a, dtype=np.float64), np.asarray(quality_b, dtype=np.float64))


def min_nonmated_for_fmr(fmr: float) -> int:
    """Non-mated comparisons needed before an FMR of ``fmr`` can be observed at all (1e-3 -> 1000)."""
    return math.ceil(1.0 / fmr - 1e-9)


def allowed_false_matches(count: int, fmr: float) -> int:
    """``floor(fmr * count)``, robust to 0.001 * 3000 = 2.9999999999999996."""
    return int(math.floor(fmr * count + 1e-9))


def threshold_for_fmr(nonmated_scores: np.ndarray, fmr: float) -> float:
    """The lowest threshold whose FMR over ``nonmated_scores`` is at most ``fmr``.

    With ``k = floor(fmr * n)`` false matches allowed, this is just above the (k+1)-th highest
    non-mated score, so at most ``k`` non-mated scores reach it (fewer when scores tie).
    """
    scores = np.asarray(nonmated_scores, dtype=np.float64)
    k = allowed_false_matches(len(scores), fmr)
    if k >= len(scores):
        return -math.inf
    kth = -np.partition(-scores, k)[k]  # (k+1)-th highest
    return float(np.nextafter(kth, math.inf))


def closest_fmr_threshold(mated_scores: np.ndarray, nonmated_scores: np.ndarray, fmr: float) -> float:
    """CR-FIQA's threshold (``ERC/roc.py``: ``calculate_roc`` + ``get_fmr_op``), for ``score >= t``.

    Every distinct score of either kind is a candidate ``c`` with FMR(c) = #{non-mated >= c} / N; the
    lowest candidate whose FMR is closest to ``fmr`` is chosen (its FMR may exceed the target), and
    erc.py then accepts a comparison only when its score is strictly above ``c``. The returned
    threshold is the next float above ``c``, so ``score >= t`` gives exactly erc.py's decisions.
    (erc.py works on the angular distance arccos(cos)/pi, a strictly decreasing map of the cosine.)
    """
    return _closest_sorted(
        np.sort(np.asarray(mated_scores, np.float64)), np.sort(np.asarray(nonmated_scores, np.float64)), fmr
    )


def _closest_sorted(mated: np.ndarray, nonmated: np.ndarray, fmr: float) -> float:
    """:func:`closest_fmr_threshold` of two ascending arrays (a merge of two sorted runs)."""
    merged = np.sort(np.concatenate([mated, nonmated]), kind="stable")
    candidates = merged[np.concatenate(([True], merged[1:] != merged[:-1]))]
    rates = (len(nonmated) - np.searchsorted(nonmated, candidates, side="left")) / len(nonmated)
    chosen = candidates[int(np.argmin(np.abs(rates - fmr)))]
    return float(np.nextafter(chosen, math.inf))


def threshold_for_start_error(mated_scores: np.ndarray, start_error: float) -> float:
    """The threshold at which ``start_error`` of the mated scores fall below it, before discarding:
    the linearly interpolated quantile, as the reference EDC implementation defines it."""
    return float(np.quantile(np.asarray(mated_scores, dtype=np.float64), start_error))


@dataclass(frozen=True)
class EdcCurve:
    """A step curve: after discarding ``discard[i]`` of the comparisons, ``error[i]`` of the rest
    are errors. Starts at discard 0 and closes with the point (1, 0)."""

    discard: np.ndarray
    error: np.ndarray
    count: int

    @property
    def start_error(self) -> float:
        return float(self.error[0])


def edc(pair_qualities: np.ndarray, errors: np.ndarray) -> EdcCurve:
    """EDC of comparisons with qualities ``pair_qualities`` and error flags ``errors``.

    Discarding every comparison below quality ``v`` leaves ``n - #(q < v)`` comparisons, of which
    ``#errors - #(q_err < v)`` are errors; the curve has one point per distinct quality (ties are
    discarded together). Two plain sorts and a binary search, no per-point loop.
    """
    q = np.asarray(pair_qualities, dtype=np.float64)
    e = np.asarray(errors, dtype=bool)
    if q.shape != e.shape or q.ndim != 1:
        raise ValueError("pair_qualities and errors must be 1-D arrays of the same length")
    n = len(q)
    if n == 0:
        raise ValueError("an EDC needs at least one comparison")
    if np.isnan(q).any():
        raise ValueError("pair qualities contain NaN")
    q_all = np.sort(q)
    q_err = np.sort(q[e])
    starts = np.concatenate(([0], np.flatnonzero(q_all[1:] != q_all[:-1]) + 1))  # discarded before each level
    remaining_errors = len(q_err) - np.searchsorted(q_err, q_all[starts], side="left")
    error = remaining_errors / (n - starts)
    discard = starts / n
    return EdcCurve(np.append(discard, 1.0), np.append(error, 0.0), n)


def fnm_edc(scores: np.ndarray, pair_qualities: np.ndarray, threshold: float) -> EdcCurve:
    """The FNM-EDC of mated comparisons: a mated score below ``threshold`` is a false non-match."""
    return edc(pair_qualities, np.asarray(scores, dtype=np.float64) < threshold)


def pauc(curve: EdcCurve, limit: float) -> float:
    """Area under the step curve from discard 0 to ``limit``: ``sum_i e_i (min(d_i+1, L) - min(d_i, L))``."""
    if not 0.0 <= limit <= 1.0:
        raise ValueError(f"discard limit must be in [0, 1], got {limit}")
    d = np.minimum(curve.discard, limit)
    return float(np.sum(curve.error[:-1] * np.diff(d)))


def theoretical_best_area(start_error: float, limit: float) -> float:
    """Area up to ``limit`` under the best possible curve ``max(0, e0 - d)``, which discards exactly
    the erroneous comparisons first."""
    area = start_error**2 / 2.0
    if limit < start_error:
        area -= (start_error - limit) ** 2 / 2.0
    return area


@dataclass(frozen=True)
class PartialArea:
    """The three forms of a pAUC that papers report (lower is better for all three).

    ``normalised`` divides by ``start_error * limit``, the area of a curve that stays at its
    starting error: 1.0 means no better than discarding at random.
    """

    limit: float
    pauc: float
    pauc_minus_best: float
    normalised: float


def partial_areas(curve: EdcCurve, limits: tuple[float, ...]) -> list[PartialArea]:
    e0 = curve.start_error
    results = []
    for limit in limits:
        area = pauc(curve, limit)
        norm = area / (e0 * limit) if e0 > 0 and limit > 0 else math.nan
        results.append(PartialArea(limit, area, area - theoretical_best_area(e0, limit), norm))
    return results


@dataclass(frozen=True)
class RejectionCurve:
    """CR-FIQA's curve: FNMR at the threshold re-fixed for the target FMR after rejecting each
    ``rates[i]`` of the lowest-quality pairs (mated and non-mated together)."""

    rates: np.ndarray
    fnmr: np.ndarray
    thresholds: np.ndarray
    nonmated_left: np.ndarray  # non-mated pairs remaining at each rate
    count: int

    @property
    def start_error(self) -> float:
        return float(self.fnmr[0])


def rejection_curve(
    scores: np.ndarray,
    mated: np.ndarray,
    pair_qualities: np.ndarray,
    fmr: float,
    rates: np.ndarray | None = None,
    rule: str = "at-most",
) -> RejectionCurve:
    """CR-FIQA's protocol: reject the ``floor(rate * n)`` lowest-quality pairs (equal qualities in
    pair order), re-fix the threshold at ``fmr`` on the remaining non-mated scores, and take the
    FNMR of the remaining mated scores.

    ``rule`` "at-most" takes the lowest threshold with FMR <= ``fmr``; "closest" takes CR-FIQA's
    closest-FMR ROC point (:func:`closest_fmr_threshold`) at the rates exactly as ``ERC/erc.py``
    makes and truncates them (:data:`ERC_RATES`, ``int(rate * n)``), with tied pair qualities in
    erc.py's order, which reproduces its curve.

    "at-most" needs no argsort of all pairs: the quality ``v`` of the last rejected pair comes from a plain sort;
    a pair is kept when its quality is above ``v`` (or equal, and later in pair order than the last
    rejected one). The threshold is looked for among the highest non-mated scores only, and the
    FNMR is one vectorised count over the mated pairs.
    """
    if rule not in FMR_RULES:
        raise ValueError(f"unknown FMR rule {rule!r} (choose {', '.join(FMR_RULES)})")
    scores = np.asarray(scores, dtype=np.float64)
    mated = np.asarray(mated, dtype=bool)
    q = np.asarray(pair_qualities, dtype=np.float64)
    n = len(scores)
    if rates is None:
        rates = ERC_RATES if rule == "closest" else CRFIQA_RATES
    rates = np.asarray(rates, dtype=np.float64)
    if rule == "closest":
        return _closest_rejection_curve(scores, mated, q, fmr, rates)
    q_sorted = np.sort(q)
    index = np.arange(n)
    qm, sm, im = q[mated], scores[mated], index[mated]
    qn, sn, inn = q[~mated], scores[~mated], index[~mated]
    qn_sorted = np.sort(qn)
    worst_left = max(int(len(sn) * (1.0 - rates.max())), 1)  # about as many as remain at the last rate
    top = _top_scores(sn, 4 * (allowed_false_matches(len(sn), fmr) + 1) * len(sn) // worst_left + 256)
    fnmr = np.full(len(rates), np.nan)
    thresholds = np.full(len(rates), np.nan)
    left = np.zeros(len(rates), dtype=np.int64)
    for i, rate in enumerate(rates):
        cut = int(rate * n + 1e-9)
        v, last = _rejected_below(q, q_sorted, cut)
        tie_nonmated = int(np.count_nonzero(~mated[(q == v) & (index <= last)])) if cut > 0 else 0
        left[i] = len(sn) - int(np.searchsorted(qn_sorted, v, side="left")) - tie_nonmated
        keep_m = (qm > v) | ((qm == v) & (im > last))
        kept_mated = int(keep_m.sum())
        if left[i] == 0 or kept_mated == 0:
            continue
        k = allowed_false_matches(int(left[i]), fmr)
        size = 2 * (k + 1) * len(sn) // int(left[i]) + 64  # enough if rejection ignores the score
        while True:
            if size > len(top) and len(top) < len(sn):
                top = _top_scores(sn, size)  # rare: the method rejected most of the top impostors
            head = top[:size]
            hits = np.flatnonzero((qn[head] > v) | ((qn[head] == v) & (inn[head] > last)))
            if len(hits) > k or len(head) == len(sn):
                break
            size *= 4
        t = float(np.nextafter(sn[head[hits[k]]], math.inf)) if len(hits) > k else -math.inf
        thresholds[i] = t
        fnmr[i] = np.count_nonzero(keep_m & (sm < t)) / kept_mated
    return RejectionCurve(rates, fnmr, thresholds, left, n)


def _rejected_below(q: np.ndarray, q_sorted: np.ndarray, cut: int) -> tuple[float, int]:
    """Quality ``v`` of the last of the ``cut`` rejected pairs and its pair index (``-inf, -1`` for none):
    a pair is kept when its quality is above ``v``, or equal and later in pair order."""
    if cut <= 0:
        return -math.inf, -1
    v = q_sorted[cut - 1]
    ties = np.flatnonzero(q == v)[: cut - int(np.searchsorted(q_sorted, v, side="left"))]
    return float(v), int(ties[-1])


def _closest_rejection_curve(
    scores: np.ndarray, mated: np.ndarray, q: np.ndarray, fmr: float, rates: np.ndarray
) -> RejectionCurve:
    """The rejection curve with CR-FIQA's closest-FMR threshold: per rate, the kept scores in sorted
    order come from one global sort (a mask, no per-rate sort).

    Pairs are rejected in the order of numpy's default ``argsort`` of the pair qualities, as
    erc.py orders them: pairs that share a sample tie, and that sort breaks ties in its own,
    unstable way (a stable order moved CR-FIQA's pAUC by 7e-5)."""
    n = len(scores)
    position = np.empty(n, dtype=np.int64)
    position[np.argsort(q)] = np.arange(n)  # erc.py: qlts_sorted_idx = np.argsort(qlts)
    by_m = np.flatnonzero(mated)[np.argsort(scores[mated], kind="stable")]
    by_n = np.flatnonzero(~mated)[np.argsort(scores[~mated], kind="stable")]
    fnmr = np.full(len(rates), np.nan)
    thresholds = np.full(len(rates), np.nan)
    left = np.zeros(len(rates), dtype=np.int64)
    for i, rate in enumerate(rates):
        cut = int(rate * n)  # erc.py: qlts_sorted_idx[int(u_rate * num_pairs):]
        kept_m, kept_n = (by[position[by] >= cut] for by in (by_m, by_n))
        left[i] = len(kept_n)
        if len(kept_n) == 0 or len(kept_m) == 0:
            continue
        thresholds[i] = _closest_sorted(scores[kept_m], scores[kept_n], fmr)
        # erc.py's float expression, 1 - accepted / mated: equal bits, not just equal values
        fnmr[i] = 1 - np.count_nonzero(scores[kept_m] >= thresholds[i]) / len(kept_m)
    return RejectionCurve(rates, fnmr, thresholds, left, n)


def _top_scores(scores: np.ndarray, size: int) -> np.ndarray:
    """Indices of the ``size`` highest scores, highest first."""
    size = min(size, len(scores))
    part = (
        np.argpartition(scores, len(scores) - size)[len(scores) - size :]
        if size < len(scores)
        else np.arange(size)
    )
    return part[np.argsort(-scores[part], kind="stable")]


def trapezoid_area(rates: np.ndarray, values: np.ndarray, limit: float) -> float:
    """Trapezoid area of ``values`` over ``rates`` from 0 to ``limit`` (interpolated at ``limit``
    when it falls between two rates)."""
    keep = rates <= limit + 1e-9
    x, y = rates[keep], values[keep]
    if x[-1] < limit - 1e-9 and keep.sum() < len(rates):
        x = np.append(x, limit)
        y = np.append(y, np.interp(limit, rates, values))
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def rejection_partial_areas(curve: RejectionCurve, limits: tuple[float, ...]) -> list[PartialArea]:
    """Trapezoid pAUCs of a CR-FIQA curve; normalised by the flat curve at the 0% FNMR (as the
    CR-FIQA code does). The theoretical-best form is not defined for this protocol (NaN)."""
    e0 = curve.start_error
    results = []
    for limit in limits:
        area = trapezoid_area(curve.rates, curve.fnmr, limit)
        norm = area / (e0 * limit) if e0 > 0 and limit > 0 else math.nan
        results.append(PartialArea(limit, area, math.nan, norm))
    return results


def rank_average(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (scipy's ``rankdata(method="average")``)."""
    values = np.asarray(values, dtype=np.float64)
    unique, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return (first + (counts + 1) / 2.0)[inverse]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (Pearson correlation of average ranks); NaN for constant input."""
    rx, ry = rank_average(x), rank_average(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = math.sqrt(float(np.dot(rx, rx)) * float(np.dot(ry, ry)))
    return float(np.dot(rx, ry) / denom) if denom > 0 else math.nan
