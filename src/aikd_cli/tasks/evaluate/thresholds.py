"""How the comparison threshold is fixed and checked: enough pairs for the rule, pairs excluded and
why, rejection support of the CR-FIQA protocol, and the FR model's own verification accuracy."""

from __future__ import annotations

from collections import Counter

import numpy as np

from aikd_cli.errors import InputFormatError
from aikd_cli.tasks.evaluate import edc, verification
from aikd_cli.tasks.evaluate.options import EvaluateOptions
from aikd_cli.tasks.evaluate.protocols import Protocol
from aikd_cli.tasks.evaluate.results import MethodResult


def verification_of(protocol: Protocol, used: np.ndarray, scores: np.ndarray, mated: np.ndarray):
    """The FR model's 10-fold accuracy on a verification protocol (cosine scores it computed), with
    a note when it is so low that the model is probably fed the wrong colour order or crop."""
    if protocol.folds is None or protocol.scores is not None:
        return None
    result = verification.ten_fold(scores, mated, protocol.folds[used])
    if result.mean < verification.SUSPICIOUS_BELOW:
        protocol.notes.append(
            f"the FR model's verification accuracy is only {result.describe()}: a working model reaches about 99 % "
            "on LFW; check its colour order, normalisation and crop (`aikd models show NAME`)"
        )
    return result


def pair_reasons(reasons: list[str | None], sample_ok: np.ndarray, ia, ib, pair_ok: np.ndarray) -> Counter:
    """Why each excluded pair is excluded: its first sample's reason, else its second's, else its score."""
    labels = sorted({r for r in reasons if r is not None}) + ["comparison score missing or NaN"]
    code = np.array([labels.index(r) if r is not None else -1 for r in reasons], dtype=np.int64)
    bad = np.flatnonzero(~pair_ok)
    a, b = ia[bad], ib[bad]
    which = np.where(~sample_ok[a], code[a], np.where(~sample_ok[b], code[b], len(labels) - 1))
    counts = np.bincount(which, minlength=len(labels))
    return Counter({labels[k]: int(c) for k, c in enumerate(counts) if c})


def why_excluded(excluded: Counter) -> str:
    if not excluded:
        return ""
    top = ", ".join(f"{reason}: {n:,}" for reason, n in excluded.most_common(3))
    return f" (excluded pairs: {top})"


def check_counts(options: EvaluateOptions, where: str, n_mated: int, n_nonmated: int, excluded: Counter) -> None:
    """Mated pairs are left, and enough non-mated ones for the FMR the threshold is fixed at."""
    if n_mated == 0:
        raise InputFormatError(f"{where}: no mated pairs left to evaluate{why_excluded(excluded)}")
    rule = options.rule
    if rule.fmr is not None:
        need = edc.min_nonmated_for_fmr(rule.fmr)
        if n_nonmated < need:
            raise InputFormatError(
                f"{where}: {n_nonmated:,} non-mated pairs left, but FMR {rule.fmr:g} needs at least {need:,}"
                f"{why_excluded(excluded)}",
                hint="use a larger --fmr, --start-error, or --threshold, or a protocol with more non-mated pairs",
            )


def fix_threshold(
    options: EvaluateOptions, scores: np.ndarray, mated: np.ndarray, n_nonmated: int
) -> tuple[float, float | None]:
    """The comparison threshold of the EDC protocol (and the FMR it gives over the non-mated)."""
    rule = options.rule
    if rule.fmr is not None:
        t = (  # the crfiqa protocol re-fixes it per rate
            edc.closest_fmr_threshold(scores[mated], scores[~mated], rule.fmr)
            if rule.fmr_rule == "closest"
            else edc.threshold_for_fmr(scores[~mated], rule.fmr)
        )
    elif rule.start_error is not None:
        t = edc.threshold_for_start_error(scores[mated], rule.start_error)
    else:
        t = float(rule.value)
    achieved = float(np.mean(scores[~mated] >= t)) if n_nonmated else None
    return t, achieved


def check_rejection_support(
    methods: list[MethodResult], options: EvaluateOptions, where: str, notes: list[str]
) -> None:
    """The FMR must stay observable on what remains up to the largest discard limit."""
    need = edc.min_nonmated_for_fmr(options.rule.fmr)
    limit = max(options.limits)
    for m in methods:
        curve = m.curve
        short = curve.rates[(curve.nonmated_left < need)]
        if len(short) and short.min() <= limit + 1e-9:
            raise InputFormatError(
                f"{where}: after rejecting {short.min():.0%} of pairs by {m.label}, fewer than {need:,} non-mated "
                f"pairs remain for FMR {options.rule.fmr:g}",
                hint="use a larger --fmr or smaller --limit",
            )
        if len(short):
            notes.append(
                f"{m.label}: from {short.min():.0%} rejected on, fewer than {need:,} non-mated pairs remain "
                "(beyond the discard limits, so no reported number is affected)"
            )
