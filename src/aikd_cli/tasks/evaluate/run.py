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

import functools
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aikd_cli.defaults import DEFAULT_DET_SIZE
from aikd_cli.errors import InputFormatError
from aikd_cli.tasks.evaluate import edc, verification
from aikd_cli.tasks.evaluate.embeddings import cosine_scores, is_normalised, read_embeddings
from aikd_cli.tasks.evaluate.options import EvaluateOptions, ModelInput
from aikd_cli.tasks.evaluate.protocols import FileImages, Protocol, drop_bad_pairs, open_protocol
from aikd_cli.tasks.evaluate.quality import QualityTable, read_quality_file
from aikd_cli.tasks.evaluate.results import NORM, RANDOM, DatasetResult, EvaluateResult, MethodResult
from aikd_cli.tasks.evaluate.robustness import RobustnessRow, quality_correlation
from aikd_cli.utils.progress import Progress

if TYPE_CHECKING:
    from aikd_cli.faces.landmarks import LandmarkTable
    from aikd_cli.tasks.evaluate.model_outputs import ModelJob
    from aikd_cli.utils.outputs import Output

log = logging.getLogger("aikd")


@dataclass
class _Models:
    """Models opened once for all datasets."""

    fr: ModelJob | None
    quality: list[ModelJob]


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
    models = _open_models(options, taken={t.label for t in tables} | {RANDOM, NORM})
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


def _open_models(options: EvaluateOptions, taken: set[str]) -> _Models:
    from aikd_cli.models.availability import ensure_available
    from aikd_cli.models.inference import open_face_model
    from aikd_cli.tasks.evaluate.model_outputs import ModelJob, model_fingerprint

    uses_fr = bool(options.fr_model and options.score_column is None and not options.embeddings)
    refs = [("--model", m.ref if isinstance(m, ModelInput) else m) for m in options.quality_models]
    ensure_available([("--fr-model", options.fr_model if uses_fr else None), *refs])
    fr = None
    if uses_fr:
        model = open_face_model(
            options.fr_model, device=options.device, precision=options.precision, expect="recognition"
        )
        fr = ModelJob("fr", model, model_fingerprint(options.fr_model, model), "embedding")
    variants = tuple(sorted({0.0, *map(float, options.perturb)}))
    jobs = []
    for item in options.quality_models:
        item = ModelInput(item) if isinstance(item, str) else item
        ref, base = item.ref, item.label or model_label(item.ref)
        model = open_face_model(ref, device=options.device, precision=options.precision, expect="quality")
        label, k = base, 1
        while label in taken:  # the same model twice, or a quality file of the same name
            k += 1
            label = f"{base} ({k})"
        taken.add(label)
        jobs.append(ModelJob(label, model, model_fingerprint(ref, model), "quality", variants))
    return _Models(fr, jobs)


def model_label(ref: str) -> str:
    """A model's default label: a run folder's own name (for the folder, its ``best.safetensors``
    or ``last.safetensors``: "run", "run (last)"), else the file's stem, else the reference."""
    path = Path(ref)
    if path.is_dir():
        return path.resolve().name
    if path.exists():
        run = path.resolve().parent.name
        return {"best": run, "last": f"{run} (last)"}.get(path.stem, path.stem)
    return ref.removeprefix("hf://")


def _landmark_table(options: EvaluateOptions, tables: list[QualityTable]) -> LandmarkTable | None:
    """Landmarks to align with: ``--landmarks`` first, then the quality CSVs' own."""
    from aikd_cli.faces.landmarks import LandmarkTable, read_landmarks

    found: dict[str, list[tuple[int, np.ndarray]]] = {}
    digests: dict[str, str] = {}
    for table in tables:
        for key, lm in table.landmarks.items():
            if key not in found:
                found[key] = [(0, lm)]
                if key in table.digests:
                    digests[key] = table.digests[key]
    given = LandmarkTable("the quality CSVs", found, digests) if found else None
    if options.landmarks is None:
        return given
    return read_landmarks(options.landmarks).with_fallback(given)


@dataclass
class _Samples:
    """What is known per sample of one dataset: why it is unusable, its qualities, embeddings."""

    keys: list[str]
    reasons: list[str | None]
    qualities: dict[str, np.ndarray] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    shifted: dict[tuple[str, float], np.ndarray] = field(default_factory=dict)  # (model, p) -> qualities
    embeddings: np.ndarray | None = None

    def flag(self, i: int, why: str | None) -> None:
        """Record why sample ``i`` is unusable (the first reason found is kept)."""
        if why and self.reasons[i] is None:
            self.reasons[i] = why

    @property
    def ok(self) -> np.ndarray:
        return np.array([r is None for r in self.reasons], dtype=bool)


@dataclass
class _Dataset:
    """One protocol after the checks that need no model: bad pairs dropped, and the samples that
    are unusable whatever the models say (no quality in a quality file, image file missing, no
    precomputed embedding) flagged."""

    protocol: Protocol
    pairs_read: int
    excluded: Counter
    samples: _Samples

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
        excluded = self.excluded + _pair_reasons(
            self.samples.reasons, self.samples.ok, self.protocol.ia, self.protocol.ib, pair_ok
        )
        _check_counts(options, self.where, int(mated.sum()), int((~mated).sum()), excluded)


def _prepare(protocol: Protocol, tables: list[QualityTable], embedded: dict[str, np.ndarray],
             needs_images: bool) -> _Dataset:
    pairs_read = len(protocol)
    protocol, excluded = drop_bad_pairs(protocol)
    samples = _Samples(protocol.keys.tolist(), [None] * len(protocol.keys))
    for table in tables:
        values, why = table.lookup(samples.keys)
        for i, w in enumerate(why):
            samples.flag(i, w)
        samples.qualities[table.label], samples.kinds[table.label] = values, "quality file"
    if embedded and protocol.scores is None:
        _attach_embeddings(samples, embedded)
    if needs_images:
        for i in np.flatnonzero(samples.ok):
            if not protocol.images.exists(samples.keys[i]):
                samples.flag(int(i), "image file missing")
    return _Dataset(protocol, pairs_read, excluded, samples)


def _evaluate_dataset(
    d: _Dataset,
    options: EvaluateOptions,
    tables: list[QualityTable],
    models: _Models,
    progress: Progress | None,
) -> DatasetResult:
    protocol, samples, excluded, pairs_read = d.protocol, d.samples, d.excluded, d.pairs_read
    ia, ib = protocol.ia, protocol.ib
    _run_models(protocol, samples, options, tables, models, progress)
    _add_baselines(samples, options.seed, protocol.notes)

    sample_ok = samples.ok
    if protocol.scores is not None:
        scores = protocol.scores
    else:
        scores = cosine_scores(np.where(sample_ok[:, None], np.nan_to_num(samples.embeddings), 0.0), ia, ib)
    pair_ok = sample_ok[ia] & sample_ok[ib] & np.isfinite(scores)
    excluded.update(_pair_reasons(samples.reasons, sample_ok, ia, ib, pair_ok))
    used = np.flatnonzero(pair_ok)
    mated, s = protocol.mated[used], scores[used]
    n_mated, n_nonmated = int(mated.sum()), int((~mated).sum())
    where = d.where
    _check_counts(options, where, n_mated, n_nonmated, excluded)
    threshold, achieved = _threshold(options, s, mated, n_nonmated)
    verification = _verification(protocol, used, s, mated)

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
        _check_rejection_support(methods, options, where, protocol.notes)
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


def _verification(protocol: Protocol, used: np.ndarray, scores: np.ndarray, mated: np.ndarray):
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


def _run_models(
    protocol: Protocol,
    samples: _Samples,
    options: EvaluateOptions,
    tables: list[QualityTable],
    models: _Models,
    progress: Progress | None,
) -> None:
    """FR embeddings and model qualities (clean and misaligned) of the samples still usable."""
    jobs = ([models.fr] if models.fr is not None and protocol.scores is None else []) + models.quality
    if not jobs:
        return
    from aikd_cli.faces.detector import FaceDetector
    from aikd_cli.tasks.evaluate.model_outputs import run_models

    active = np.flatnonzero(samples.ok)  # samples already excluded are not worth a model run
    active_keys = [samples.keys[i] for i in active]
    landmarks = _landmark_table(options, tables)
    # a detector for images without landmarks (loaded now: workers prepare their inputs), and a
    # factory for images whose recorded hash may turn out stale (loaded only if one is)
    detector = None
    if not protocol.images.aligned:
        if landmarks is None or any(k not in landmarks for k in active_keys):
            detector = _open_detector(options)
        elif landmarks.has_digests:
            detector = functools.partial(_open_detector, options)
    ran = run_models(
        active_keys,
        protocol.images,
        jobs,
        landmarks=landmarks,
        detector=detector,
        detector_id=_detector_fingerprint(options.detector, options.det_size, options.det_threshold)
        if isinstance(detector, FaceDetector) else "",
        misalign_unit=options.perturb_unit,
        seed=options.seed,
        batch_size=options.batch_size,
        workers=options.workers,
        cache_root=options.cache_root,
        progress=_advancing(progress, f"faces of {protocol.name}") if progress else None,
    )
    for i, why in ran.failures.items():
        samples.flag(int(active[i]), why)
    if ran.from_file:
        protocol.notes.append(f"{ran.from_file:,} samples aligned from landmarks in {landmarks.source}")
    if ran.detected:
        protocol.notes.append(f"{ran.detected:,} samples aligned from detected landmarks")
    if ran.cached:
        protocol.notes.append(f"{ran.cached:,} samples' model outputs read from the cache")

    def expand(values: np.ndarray) -> np.ndarray:
        full = np.full((len(samples.keys), values.shape[1]), np.nan, dtype=np.float32)
        full[active] = values
        return full

    if ("fr", 0.0) in ran.outputs:
        samples.embeddings = expand(ran.outputs["fr", 0.0])
    for job in models.quality:
        for p in job.variants:
            samples.shifted[job.label, p] = expand(ran.outputs[job.label, p])[:, 0].astype(np.float64)
        clean = samples.shifted[job.label, 0.0]
        samples.qualities[job.label], samples.kinds[job.label] = clean, "quality model"
        for i in active[~np.isfinite(clean[active])]:
            samples.flag(int(i), f"no quality from {job.label}")


def _advancing(progress: Progress, stage: str):
    """``run_models`` reports items finished since its last report; tasks report totals."""
    done = 0

    def advance(n: int, total: int) -> None:
        nonlocal done
        done += n
        progress(done, total, stage)

    return advance


def _attach_embeddings(samples: _Samples, embedded: dict[str, np.ndarray]) -> None:
    width = len(next(iter(embedded.values())))
    samples.embeddings = np.full((len(samples.keys), width), np.nan, dtype=np.float32)
    for i, key in enumerate(samples.keys):
        row = embedded.get(key)
        if row is None:
            samples.flag(i, "no precomputed embedding")
        elif len(row) != width:
            raise InputFormatError(f"precomputed embeddings have different sizes ({len(row)} and {width})")
        else:
            samples.embeddings[i] = row


def _add_baselines(samples: _Samples, seed: int, notes: list[str]) -> None:
    """A random quality (seeded) and, with embeddings, their norm before normalisation."""
    rng = np.random.default_rng(seed)
    samples.qualities[RANDOM], samples.kinds[RANDOM] = rng.random(len(samples.keys)), "baseline"
    if samples.embeddings is None:
        return
    if is_normalised(samples.embeddings):
        notes.append("embeddings are L2-normalised: no embedding-norm baseline")
        return
    samples.qualities[NORM] = np.linalg.norm(samples.embeddings, axis=1).astype(np.float64)
    samples.kinds[NORM] = "baseline"


def _pair_reasons(reasons: list[str | None], sample_ok: np.ndarray, ia, ib, pair_ok: np.ndarray) -> Counter:
    """Why each excluded pair is excluded: its first sample's reason, else its second's, else its score."""
    labels = sorted({r for r in reasons if r is not None}) + ["comparison score missing or NaN"]
    code = np.array([labels.index(r) if r is not None else -1 for r in reasons], dtype=np.int64)
    bad = np.flatnonzero(~pair_ok)
    a, b = ia[bad], ib[bad]
    which = np.where(~sample_ok[a], code[a], np.where(~sample_ok[b], code[b], len(labels) - 1))
    counts = np.bincount(which, minlength=len(labels))
    return Counter({labels[k]: int(c) for k, c in enumerate(counts) if c})


def _open_detector(options: EvaluateOptions):
    from aikd_cli.faces.detector import load_detector

    return load_detector(options.detector, device=options.device, max_size=options.det_size,
                         score_threshold=options.det_threshold)


def _detector_fingerprint(ref: str, det_size: int = DEFAULT_DET_SIZE, det_threshold: float = 0.5) -> str:
    """What decides detected landmarks: the weights and the resolution and threshold."""
    from aikd_cli.models.loading import resolve_weights
    from aikd_cli.tasks.evaluate.cache import digest, file_identity

    return digest(file_identity(resolve_weights(ref).path), f"{det_size}:{det_threshold!r}")


def _why(excluded: Counter) -> str:
    if not excluded:
        return ""
    top = ", ".join(f"{reason}: {n:,}" for reason, n in excluded.most_common(3))
    return f" (excluded pairs: {top})"


def _check_counts(options: EvaluateOptions, where: str, n_mated: int, n_nonmated: int, excluded: Counter) -> None:
    """Mated pairs are left, and enough non-mated ones for the FMR the threshold is fixed at."""
    if n_mated == 0:
        raise InputFormatError(f"{where}: no mated pairs left to evaluate{_why(excluded)}")
    rule = options.rule
    if rule.fmr is not None:
        need = edc.min_nonmated_for_fmr(rule.fmr)
        if n_nonmated < need:
            raise InputFormatError(
                f"{where}: {n_nonmated:,} non-mated pairs left, but FMR {rule.fmr:g} needs at least {need:,}"
                f"{_why(excluded)}",
                hint="use a larger --fmr, --start-error, or --threshold, or a protocol with more non-mated pairs",
            )


def _threshold(
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


def _check_rejection_support(
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
