"""``aikd evaluate`` as a function: protocols + qualities + comparison scores in, EDC results out.

>>> from aikd_cli import DatasetInput, EvaluateOptions, QualityInput, evaluate
>>> result = evaluate(EvaluateOptions(datasets=[DatasetInput("lfw.bin")], quality=[QualityInput("q.csv")],
...                                   fr_model="weights.pt", output="evaluation"))  # doctest: +SKIP

:func:`run` writes the report files; :func:`evaluate` only computes (for callers that want the
numbers without files).

Every sample or pair that cannot be evaluated is excluded *for all methods alike* (so the methods
are compared on the same comparisons) and counted by reason in :class:`DatasetResult`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aikd_cli.tasks.evaluate import edc
from aikd_cli.tasks.evaluate.embeddings import cosine_scores, read_embeddings
from aikd_cli.tasks.evaluate.model_runs import Models, compute_outputs, open_models
from aikd_cli.tasks.evaluate.options import EvaluateOptions
from aikd_cli.tasks.evaluate.protocols import FileImages, Protocol, drop_bad_pairs, open_protocol
from aikd_cli.tasks.evaluate.quality import QualityTable, read_quality_file
from aikd_cli.tasks.evaluate.results import NORM, RANDOM, DatasetResult, EvaluateResult, MethodResult
from aikd_cli.tasks.evaluate.robustness import RobustnessRow, quality_correlation
from aikd_cli.tasks.evaluate.samples import Samples, add_baselines, attach_embeddings
from aikd_cli.tasks.evaluate.thresholds import (
    check_counts,
    check_rejection_support,
    fix_threshold,
    pair_reasons,
    verification_of,
)
from aikd_cli.utils.progress import Progress

if TYPE_CHECKING:
    from aikd_cli.utils.outputs import Output

log = logging.getLogger("aikd")


def run(options: EvaluateOptions, progress: Progress | None = None) -> EvaluateResult:
    """Evaluate and write tables, curves, plots and config to ``options.output``, which is checked
    before anything is read and held (one run per folder) until it is written."""
    from aikd_cli.tasks.evaluate.result_files import evaluate_inputs, evaluate_outputs, write_outputs
    from aikd_cli.utils.outputs import guard_outputs

    options.validate()
    outputs = evaluate_outputs(options.output)
    with guard_outputs(outputs, evaluate_inputs(options)):
        evaluation = evaluate(options, progress, outputs=outputs)
        write_outputs(evaluation, options.output, options.metric)
    return evaluation


def evaluate(options: EvaluateOptions, progress: Progress | None = None, *,
             outputs: Sequence[Output] = ()) -> EvaluateResult:
    """Run the whole evaluation (see the module docstring) without writing files. All inputs are
    read and checked before any model is loaded, ``outputs`` (what :func:`run` will write) against
    the images the protocols list too."""
    from aikd_cli.utils.outputs import check_listed

    options.validate()
    tables = _read_quality(options)
    embedded = {}
    for path in options.embeddings:
        embedded.update(read_embeddings(path))
    protocols = []
    for dataset in options.datasets:
        protocol = open_protocol(
            dataset.path,
            name=dataset.name,
            identities=dataset.identities,
            score_column=options.score_column,
            image_root=options.image_root,
            aligned=options.aligned,
            group_column=options.nonmated_within,
            max_nonmated=options.max_nonmated or None,
            seed=options.seed,
        )
        log.info("%s: %s pairs from %s", protocol.name, f"{len(protocol):,}", dataset.path)
        protocols.append(protocol)
    check_listed(outputs, [key for p in protocols if isinstance(p.images, FileImages) for key in p.keys.tolist()])
    needs_images = bool(options.quality_models) or (
        options.fr_model is not None and options.score_column is None and not options.embeddings
    )
    prepared = [_prepare(p, tables, embedded, needs_images) for p in protocols]
    for d in prepared:  # before any model runs: what is certain to be excluded already
        d.check_feasible(options)
    models = open_models(options, taken={t.label for t in tables} | {RANDOM, NORM})
    return EvaluateResult(options, [_evaluate_dataset(d, options, tables, models, progress) for d in prepared])


def _read_quality(options: EvaluateOptions) -> list[QualityTable]:
    """Quality CSVs; several files with the same label are one method (e.g. one file per dataset)."""
    merged: dict[str, QualityTable] = {}
    for item in options.quality:
        table = read_quality_file(
            Path(item.path),
            item.label,
            path_column=options.path_column,
            quality_column=options.quality_column,
        )
        if table.label in merged:
            into = merged[table.label]
            into.quality.update(table.quality)
            into.landmarks.update(table.landmarks)
            into.failed.update({k: v for k, v in table.failed.items() if k not in into.quality})
            into.multi_face += table.multi_face
        else:
            merged[table.label] = table
    return list(merged.values())










@dataclass
class _Dataset:
    """One protocol after the checks that need no model: bad pairs dropped, and the samples that
    are unusable whatever the models say (no quality in a quality file, image file missing, no
    precomputed embedding) flagged."""

    protocol: Protocol
    pairs_read: int
    excluded: Counter
    samples: Samples

    @property
    def where(self) -> str:
        return f"{self.protocol.name} ({self.protocol.source})"

    def pair_ok(self) -> np.ndarray:
        ok = self.samples.ok
        pair_ok = ok[self.protocol.ia] & ok[self.protocol.ib]
        if self.protocol.scores is not None:
            pair_ok &= np.isfinite(self.protocol.scores)
        return pair_ok

    def check_feasible(self, options: EvaluateOptions) -> None:
        """Refuse now a dataset whose threshold rule cannot be met on the pairs left, naming why
        the others are excluded (models can only exclude more)."""
        pair_ok = self.pair_ok()
        mated = self.protocol.mated[pair_ok]
        excluded = self.excluded + pair_reasons(
            self.samples.reasons, self.samples.ok, self.protocol.ia, self.protocol.ib, pair_ok
        )
        check_counts(options, self.where, int(mated.sum()), int((~mated).sum()), excluded)


def _prepare(protocol: Protocol, tables: list[QualityTable], embedded: dict[str, np.ndarray],
             needs_images: bool) -> _Dataset:
    pairs_read = len(protocol)
    protocol, excluded = drop_bad_pairs(protocol)
    samples = Samples(protocol.keys.tolist(), [None] * len(protocol.keys))
    for table in tables:
        values, why = table.lookup(samples.keys, images=needs_images)
        for i, w in enumerate(why):
            samples.flag(i, w)
        samples.qualities[table.label], samples.kinds[table.label] = values, "quality file"
    if embedded and protocol.scores is None:
        attach_embeddings(samples, embedded)
    if needs_images:
        for i in np.flatnonzero(samples.ok):
            if not protocol.images.exists(samples.keys[i]):
                samples.flag(int(i), "image file missing")
    return _Dataset(protocol, pairs_read, excluded, samples)


def _evaluate_dataset(
    d: _Dataset,
    options: EvaluateOptions,
    tables: list[QualityTable],
    models: Models,
    progress: Progress | None,
) -> DatasetResult:
    protocol, samples, excluded, pairs_read = d.protocol, d.samples, d.excluded, d.pairs_read
    ia, ib = protocol.ia, protocol.ib
    compute_outputs(protocol, samples, options, tables, models, progress)
    add_baselines(samples, options.seed, protocol.notes)

    sample_ok = samples.ok
    if protocol.scores is not None:
        scores = protocol.scores
    else:
        scores = cosine_scores(np.where(sample_ok[:, None], np.nan_to_num(samples.embeddings), 0.0), ia, ib)
    pair_ok = sample_ok[ia] & sample_ok[ib] & np.isfinite(scores)
    excluded.update(pair_reasons(samples.reasons, sample_ok, ia, ib, pair_ok))
    used = np.flatnonzero(pair_ok)
    mated, s = protocol.mated[used], scores[used]
    n_mated, n_nonmated = int(mated.sum()), int((~mated).sum())
    where = d.where
    check_counts(options, where, n_mated, n_nonmated, excluded)
    threshold, achieved = fix_threshold(options, s, mated, n_nonmated)
    verification = verification_of(protocol, used, s, mated)

    def curve_of(q: np.ndarray):
        pq = edc.pair_quality(q[ia[used]], q[ib[used]])
        if options.protocol == "edc":
            curve = edc.fnm_edc(s[mated], pq[mated], threshold)
            return curve, edc.partial_areas(curve, options.limits)
        curve = edc.rejection_curve(s, mated, pq, options.rule.fmr, rule=options.rule.fmr_rule)
        return curve, edc.rejection_partial_areas(curve, options.limits)

    methods = []
    for label, q in samples.qualities.items():
        curve, areas = curve_of(q)
        methods.append(MethodResult(label, samples.kinds[label], areas, curve))
    if options.protocol == "crfiqa":
        check_rejection_support(methods, options, where, protocol.notes)
    if methods[0].curve.start_error == 0:
        protocol.notes.append(
            f"no false non-match at {options.rule.describe()} before discarding: every pAUC is 0 and the "
            "normalised form is undefined; use a stricter --fmr or a --start-error"
        )
    robustness = [
        RobustnessRow(
            job.label,
            p,
            curve_of(samples.shifted[job.label, p])[1],
            quality_correlation(
                samples.shifted[job.label, 0.0][sample_ok], samples.shifted[job.label, p][sample_ok]
            ),
            int(sample_ok.sum()),
        )
        for job in models.quality
        for p in job.variants
    ]
    return DatasetResult(
        name=protocol.name,
        source=str(protocol.source),
        pairs_read=pairs_read,
        pairs_used=len(used),
        mated=n_mated,
        nonmated=n_nonmated,
        samples=len(samples.keys),
        threshold=threshold,
        achieved_fmr=achieved,
        start_error=methods[0].curve.start_error,
        excluded=+excluded,
        sample_issues=Counter(r for r in samples.reasons if r is not None),
        notes=protocol.notes,
        methods=methods,
        robustness=robustness,
        verification=verification,
    )
























