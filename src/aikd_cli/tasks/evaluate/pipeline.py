"""``aikd evaluate`` as a function: protocols + qualities + comparison scores in, EDC results out.

    from aikd_cli.tasks.evaluate import EvaluateOptions, DatasetInput, QualityInput, evaluate
    result = evaluate(EvaluateOptions(datasets=[DatasetInput("lfw.bin")], quality=[QualityInput("q.csv")],
                                      fr_model="weights.pt"))

Every sample or pair that cannot be evaluated is excluded *for all methods alike* (so the methods
are compared on the same comparisons) and counted by reason in :class:`DatasetResult`.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aikd_cli.defaults import DEFAULT_DET_SIZE, DEFAULT_DETECTOR
from aikd_cli.errors import AikdError, InputFormatError
from aikd_cli.tasks.evaluate import edc
from aikd_cli.tasks.evaluate.embeddings import cosine_scores, is_normalised, read_embeddings
from aikd_cli.tasks.evaluate.protocols import Protocol, drop_bad_pairs, open_protocol
from aikd_cli.tasks.evaluate.quality import QualityTable, read_quality_file
from aikd_cli.tasks.evaluate.robustness import RobustnessRow, quality_correlation
from aikd_cli.utils.checks import check_face_options, check_number

if TYPE_CHECKING:
    from aikd_cli.faces.landmarks import LandmarkTable
    from aikd_cli.tasks.evaluate.model_outputs import ModelJob

RANDOM = "random (baseline)"
NORM = "FR embedding norm (baseline)"
Progress = Callable[[str, int, int], None]  # (what, advance, total)


@dataclass(frozen=True)
class ThresholdRule:
    """How the comparison threshold is fixed: exactly one of a target FMR over the non-mated
    comparisons, a starting FNMR over the mated ones, or a given value."""

    fmr: float | None = 1e-3
    start_error: float | None = None
    value: float | None = None
    fmr_rule: str = "at-most"  # or "closest": CR-FIQA's ROC point nearest the target FMR

    def __post_init__(self) -> None:
        if sum(v is not None for v in (self.fmr, self.start_error, self.value)) != 1:
            raise AikdError("choose exactly one of --fmr, --start-error and --threshold")
        for name, v in (("--fmr", self.fmr), ("--start-error", self.start_error)):
            if v is not None and not 0.0 < v < 1.0:
                raise AikdError(f"{name} must be between 0 and 1, got {v}")
        check_number("--threshold", self.value)
        if self.fmr_rule not in edc.FMR_RULES:
            raise AikdError(f"unknown --fmr-rule {self.fmr_rule!r} (choose {', '.join(edc.FMR_RULES)})")

    def describe(self) -> str:
        if self.fmr is not None:
            closest = ", the closest ROC point as in CR-FIQA" if self.fmr_rule == "closest" else ""
            return f"FMR {self.fmr:g}{closest}"
        if self.start_error is not None:
            return f"starting FNMR {self.start_error:g}"
        return f"threshold {self.value:g}"


@dataclass(frozen=True)
class DatasetInput:
    path: Path
    name: str | None = None
    identities: bool = False  # force the all-pairs reader (an identity CSV or folder)


@dataclass(frozen=True)
class QualityInput:
    path: Path
    label: str | None = None


@dataclass(frozen=True)
class ModelInput:
    """A quality model to run (``-m REF[:LABEL]``); the label defaults to :func:`model_label`."""

    ref: str
    label: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelInput:
        """``REF`` or ``REF:LABEL``: a whole string naming an existing file or folder is a reference,
        and the ``:`` of ``hf://`` is never a label separator."""
        _, sep, rest = text.partition("://")
        body = rest if sep else text
        if Path(text).exists() or ":" not in body:
            return cls(text)
        ref, _, label = text.rpartition(":")
        return cls(ref, label or None)


@dataclass
class EvaluateOptions:
    datasets: list[DatasetInput]
    quality: list[QualityInput] = field(default_factory=list)
    path_column: str = "path"
    quality_column: str = "quality"
    fr_model: str | None = None
    embeddings: list[Path] = field(default_factory=list)
    score_column: str | None = None
    threshold: ThresholdRule = field(default_factory=ThresholdRule)
    limits: tuple[float, ...] = (0.2, 0.3)
    protocol: str = "edc"  # or "crfiqa"
    quality_models: list[str | ModelInput] = field(default_factory=list)
    misalign: tuple[float, ...] = ()
    misalign_unit: str = "px"
    seed: int = 0
    image_root: Path | None = None
    aligned: bool = False
    landmarks: Path | None = None
    detector: str = DEFAULT_DETECTOR
    det_size: int = DEFAULT_DET_SIZE
    det_threshold: float = 0.5
    device: str = "auto"
    precision: str = "auto"
    batch_size: int = 64
    workers: int = 0
    max_nonmated: int | None = 5_000_000
    nonmated_within: str | None = None
    cache_dir: Path | None = None  # None: no cache

    def validate(self) -> None:
        if not self.datasets:
            raise AikdError("nothing to evaluate: give at least one --pairs or --identities")
        if self.protocol not in ("edc", "crfiqa"):
            raise AikdError(f"unknown --protocol {self.protocol!r} (choose edc or crfiqa)")
        if self.protocol == "crfiqa" and self.threshold.fmr is None:
            raise AikdError(
                "the crfiqa protocol re-fixes the threshold at each rate for a target FMR: use --fmr"
            )
        if not self.limits or any(not 0.0 < lim <= 1.0 for lim in self.limits):
            raise AikdError(f"discard limits must be in (0, 1], got {list(self.limits)}")
        for p in self.misalign:
            check_number("--misalign", p, 0.0, 1000.0)
        check_number("--max-nonmated", self.max_nonmated, 0)
        check_face_options(det_size=self.det_size, det_threshold=self.det_threshold, batch_size=self.batch_size,
                           workers=self.workers, device=self.device)
        if self.misalign and not self.quality_models:
            raise AikdError("--misalign re-scores the images, so it needs --quality-model")
        if not self.quality and not self.quality_models:
            raise AikdError("no quality to evaluate: give --quality CSVs and/or --quality-model")
        if self.score_column is None and self.fr_model is None and not self.embeddings:
            raise AikdError(
                "no comparison scores: give --fr-model, --embeddings, or a pairs CSV with --score-column"
            )


@dataclass
class MethodResult:
    label: str
    kind: str  # "quality file", "quality model" or "baseline"
    areas: list[edc.PartialArea]
    curve: edc.EdcCurve | edc.RejectionCurve


@dataclass
class DatasetResult:
    name: str
    source: str
    pairs_read: int
    pairs_used: int
    mated: int
    nonmated: int
    samples: int
    threshold: float
    achieved_fmr: float | None
    start_error: float
    excluded: Counter  # pairs by reason
    sample_issues: Counter  # samples by reason
    notes: list[str]
    methods: list[MethodResult]
    robustness: list[RobustnessRow]


@dataclass
class Evaluation:
    options: EvaluateOptions
    datasets: list[DatasetResult]

    @property
    def method_labels(self) -> list[str]:
        seen: dict[str, None] = {}
        for d in self.datasets:
            for m in d.methods:
                seen.setdefault(m.label, None)
        return list(seen)


@dataclass
class _Models:
    """Models opened once for all datasets."""

    fr: ModelJob | None
    quality: list[ModelJob]


def evaluate(
    options: EvaluateOptions, progress: Progress | None = None, log: Callable[[str], None] | None = None
) -> Evaluation:
    """Run the whole evaluation (see the module docstring). All inputs are read and checked
    before any model is loaded."""
    options.validate()
    say = log or (lambda _msg: None)
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
            max_nonmated=options.max_nonmated,
            seed=options.seed,
        )
        say(f"{protocol.name}: {len(protocol):,} pairs from {dataset.path}")
        protocols.append(protocol)
    needs_images = bool(options.quality_models) or (
        options.fr_model is not None and options.score_column is None and not options.embeddings
    )
    prepared = [_prepare(p, tables, embedded, needs_images) for p in protocols]
    for d in prepared:  # before any model runs: what is certain to be excluded already
        d.check_feasible(options)
    models = _open_models(options, taken={t.label for t in tables} | {RANDOM, NORM})
    return Evaluation(options, [_evaluate_dataset(d, options, tables, models, progress) for d in prepared])


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
    from aikd_cli.models.inference import open_face_model
    from aikd_cli.tasks.evaluate.model_outputs import ModelJob, model_fingerprint

    fr = None
    if options.fr_model and options.score_column is None and not options.embeddings:
        model = open_face_model(
            options.fr_model, device=options.device, precision=options.precision, expect="recognition"
        )
        fr = ModelJob("fr", model, model_fingerprint(options.fr_model, model), "embedding")
    variants = tuple(sorted({0.0, *map(float, options.misalign)}))
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

    def curve_of(q: np.ndarray):
        pq = edc.pair_quality(q[ia[used]], q[ib[used]])
        if options.protocol == "edc":
            curve = edc.fnm_edc(s[mated], pq[mated], threshold)
            return curve, edc.partial_areas(curve, options.limits)
        curve = edc.rejection_curve(s, mated, pq, options.threshold.fmr, rule=options.threshold.fmr_rule)
        return curve, edc.rejection_partial_areas(curve, options.limits)

    methods = []
    for label, q in samples.qualities.items():
        curve, areas = curve_of(q)
        methods.append(MethodResult(label, samples.kinds[label], areas, curve))
    if options.protocol == "crfiqa":
        _check_rejection_support(methods, options, where, protocol.notes)
    if methods[0].curve.start_error == 0:
        protocol.notes.append(
            f"no false non-match at {options.threshold.describe()} before discarding: every pAUC is 0 and the "
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
    )


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
        misalign_unit=options.misalign_unit,
        seed=options.seed,
        batch_size=options.batch_size,
        workers=options.workers,
        cache_root=options.cache_dir,
        progress=(lambda adv, total: progress(protocol.name, adv, total)) if progress else None,
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
    rule = options.threshold
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
    rule = options.threshold
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
    need = edc.min_nonmated_for_fmr(options.threshold.fmr)
    limit = max(options.limits)
    for m in methods:
        curve = m.curve
        short = curve.rates[(curve.nonmated_left < need)]
        if len(short) and short.min() <= limit + 1e-9:
            raise InputFormatError(
                f"{where}: after rejecting {short.min():.0%} of pairs by {m.label}, fewer than {need:,} non-mated "
                f"pairs remain for FMR {options.threshold.fmr:g}",
                hint="use a larger --fmr or smaller --limit",
            )
        if len(short):
            notes.append(
                f"{m.label}: from {short.min():.0%} rejected on, fewer than {need:,} non-mated pairs remain "
                "(beyond the discard limits, so no reported number is affected)"
            )
