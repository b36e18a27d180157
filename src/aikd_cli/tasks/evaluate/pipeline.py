"""``aikd evaluate`` as a function: protocols + qualities + comparison scores in, EDC results out.

    from aikd_cli.tasks.evaluate import EvaluateOptions, DatasetInput, QualityInput, evaluate
    result = evaluate(EvaluateOptions(datasets=[DatasetInput("lfw.bin")], quality=[QualityInput("q.csv")],
                                      fr_model="weights.pt"))

Every sample or pair that cannot be evaluated is excluded *for all methods alike* (so the methods
are compared on the same comparisons) and counted by reason in :class:`DatasetResult`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aikd_cli.errors import AikdError, InputFormatError
from aikd_cli.tasks.evaluate import edc
from aikd_cli.tasks.evaluate.embeddings import cosine_scores, is_normalised, read_embeddings
from aikd_cli.tasks.evaluate.protocols import Protocol, drop_bad_pairs, open_protocol
from aikd_cli.tasks.evaluate.quality import QualityTable, read_quality_csv
from aikd_cli.tasks.evaluate.robustness import RobustnessRow, quality_correlation

if TYPE_CHECKING:
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

    def __post_init__(self) -> None:
        if sum(v is not None for v in (self.fmr, self.start_error, self.value)) != 1:
            raise AikdError("choose exactly one of --fmr, --start-error and --threshold")
        for name, v in (("--fmr", self.fmr), ("--start-error", self.start_error)):
            if v is not None and not 0.0 < v < 1.0:
                raise AikdError(f"{name} must be between 0 and 1, got {v}")

    def describe(self) -> str:
        if self.fmr is not None:
            return f"FMR {self.fmr:g}"
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
    quality_models: list[str] = field(default_factory=list)
    misalign: tuple[float, ...] = ()
    misalign_unit: str = "px"
    seed: int = 0
    image_root: Path | None = None
    aligned: bool = False
    landmarks: Path | None = None
    detector: str = "retinaface-mnet025"
    device: str = "auto"
    precision: str = "auto"
    batch_size: int = 64
    workers: int = 0
    max_nonmated: int | None = 5_000_000
    nonmated_within: str | None = None
    cache_dir: Path | None = None  # None: no cache

    def check(self) -> None:
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
        if any(p < 0 for p in self.misalign):
            raise AikdError("--misalign levels must be >= 0")
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
    detector_ref: str
    device: str


def evaluate(
    options: EvaluateOptions, progress: Progress | None = None, log: Callable[[str], None] | None = None
) -> Evaluation:
    """Run the whole evaluation (see the module docstring)."""
    options.check()
    say = log or (lambda _msg: None)
    tables = _read_quality(options)
    embedded = {}
    for path in options.embeddings:
        embedded.update(read_embeddings(path))
    models = _open_models(options)
    results = []
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
        results.append(_evaluate_dataset(protocol, options, tables, embedded, models, progress))
    return Evaluation(options, results)


def _read_quality(options: EvaluateOptions) -> list[QualityTable]:
    """Quality CSVs; several files with the same label are one method (e.g. one file per dataset)."""
    merged: dict[str, QualityTable] = {}
    for item in options.quality:
        table = read_quality_csv(
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


def _open_models(options: EvaluateOptions) -> _Models:
    from aikd_cli.models.inference import open_face_model
    from aikd_cli.tasks.evaluate.model_outputs import ModelJob, model_fingerprint

    fr = None
    if options.fr_model and options.score_column is None:
        model = open_face_model(
            options.fr_model, device=options.device, precision=options.precision, expect="recognition"
        )
        fr = ModelJob("fr", model, model_fingerprint(options.fr_model, model), "embedding")
    variants = tuple(sorted({0.0, *map(float, options.misalign)}))
    jobs, labels = [], Counter()
    for ref in options.quality_models:
        model = open_face_model(ref, device=options.device, precision=options.precision, expect="quality")
        label = _model_label(ref)
        labels[label] += 1
        if labels[label] > 1:
            label = f"{label} ({labels[label]})"
        jobs.append(ModelJob(label, model, model_fingerprint(ref, model), "quality", variants))
    return _Models(fr, jobs, options.detector, options.device)


def _model_label(ref: str) -> str:
    path = Path(ref)
    if path.exists():
        return path.parent.name if path.is_dir() else path.stem
    return ref.removeprefix("hf://")


def _detector_factory(ref: str, device: str):
    def build():
        from aikd_cli.faces.detector import FaceDetector
        from aikd_cli.models.loading import load_network
        from aikd_cli.utils.device import resolve_device

        return FaceDetector(load_network(ref, expect="detection").net, device=resolve_device(device))

    return build


def _landmark_map(options: EvaluateOptions, tables: list[QualityTable]) -> dict[str, np.ndarray]:
    """Landmarks to align with: ``--landmarks`` first, then the quality CSVs' own."""
    from aikd_cli.faces.landmarks import read_landmarks

    found: dict[str, np.ndarray] = {}
    for table in tables:
        for key, lm in table.landmarks.items():
            found.setdefault(key, lm)
    if options.landmarks is not None:
        for key, faces in read_landmarks(options.landmarks).items():
            found[key] = min(faces, key=lambda f: f[0])[1]
    return found


def _evaluate_dataset(
    protocol: Protocol,
    options: EvaluateOptions,
    tables: list[QualityTable],
    embedded: dict[str, np.ndarray],
    models: _Models,
    progress: Progress | None,
) -> DatasetResult:
    pairs_read = len(protocol)
    protocol, excluded = drop_bad_pairs(protocol)
    keys, ia, ib = protocol.keys.tolist(), protocol.ia, protocol.ib
    reasons: list[str | None] = [None] * len(keys)

    def flag(i: int, why: str | None) -> None:
        if why and reasons[i] is None:
            reasons[i] = why

    qualities: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for table in tables:
        values, why = table.lookup(keys)
        for i, w in enumerate(why):
            flag(i, w)
        qualities[table.label], kinds[table.label] = values, "quality file"

    embeddings = None
    jobs = ([models.fr] if models.fr is not None and not embedded else []) + models.quality
    shifted: dict[tuple[str, float], np.ndarray] = {}
    if jobs:
        from aikd_cli.tasks.evaluate.model_outputs import run_models

        # samples already excluded (e.g. without a quality score) are not worth a model run
        active = np.flatnonzero([r is None for r in reasons])
        active_keys = [keys[i] for i in active]
        landmarks = _landmark_map(options, tables)
        needs_detection = not protocol.images.aligned and any(k not in landmarks for k in active_keys)
        detector_id = _detector_fingerprint(models.detector_ref) if needs_detection else ""
        ran = run_models(
            active_keys,
            protocol.images,
            jobs,
            landmarks=landmarks,
            detector=_detector_factory(models.detector_ref, models.device),
            detector_id=detector_id,
            misalign_unit=options.misalign_unit,
            seed=options.seed,
            batch_size=options.batch_size,
            workers=options.workers,
            cache_root=options.cache_dir,
            progress=(lambda adv, total: progress(protocol.name, adv, total)) if progress else None,
        )
        for i, why in ran.failures.items():
            flag(int(active[i]), why)

        def expand(values: np.ndarray) -> np.ndarray:
            full = np.full((len(keys), values.shape[1]), np.nan, dtype=np.float32)
            full[active] = values
            return full

        if ran.detected:
            protocol.notes.append(f"{ran.detected:,} samples aligned from detected landmarks")
        if ran.cached:
            protocol.notes.append(f"{ran.cached:,} samples' model outputs read from the cache")
        if models.fr is not None and not embedded:
            embeddings = expand(ran.outputs["fr", 0.0])
        for job in models.quality:
            for p in job.variants:
                shifted[job.label, p] = expand(ran.outputs[job.label, p])[:, 0].astype(np.float64)
            qualities[job.label], kinds[job.label] = shifted[job.label, 0.0], "quality model"
            for i in active[~np.isfinite(qualities[job.label][active])]:
                flag(int(i), f"no quality from {job.label}")
    if embedded and protocol.scores is None:
        width = len(next(iter(embedded.values())))
        embeddings = np.full((len(keys), width), np.nan, dtype=np.float32)
        for i, k in enumerate(keys):
            row = embedded.get(k)
            if row is None:
                flag(i, "no precomputed embedding")
            else:
                embeddings[i] = row

    rng = np.random.default_rng(options.seed)
    qualities[RANDOM], kinds[RANDOM] = rng.random(len(keys)), "baseline"
    if embeddings is not None:
        if is_normalised(embeddings):
            protocol.notes.append("embeddings are L2-normalised: no embedding-norm baseline")
        else:
            qualities[NORM], kinds[NORM] = np.linalg.norm(embeddings, axis=1).astype(np.float64), "baseline"

    # ------------------------------------------------------------ which pairs survive
    sample_ok = np.array([r is None for r in reasons], dtype=bool)
    if protocol.scores is not None:
        scores = protocol.scores
    else:
        safe = np.where(sample_ok[:, None], np.nan_to_num(embeddings), 0.0)
        scores = cosine_scores(safe, ia, ib)
    pair_ok = sample_ok[ia] & sample_ok[ib] & np.isfinite(scores)
    excluded.update(_pair_reasons(reasons, sample_ok, ia, ib, pair_ok))
    sample_issues = Counter(r for r in reasons if r is not None)
    used = np.flatnonzero(pair_ok)
    mated = protocol.mated[used]
    s = scores[used]
    n_mated, n_nonmated = int(mated.sum()), int((~mated).sum())
    where = f"{protocol.name} ({protocol.source})"
    if n_mated == 0:
        raise InputFormatError(f"{where}: no mated pairs left to evaluate{_why(excluded)}")
    threshold, achieved = _threshold(options, where, s, mated, n_nonmated)

    methods = []
    for label, q in qualities.items():
        pq = edc.pair_quality(q[ia[used]], q[ib[used]])
        if options.protocol == "edc":
            curve = edc.fnm_edc(s[mated], pq[mated], threshold)
            areas = edc.partial_areas(curve, options.limits)
        else:
            curve = edc.rejection_curve(s, mated, pq, options.threshold.fmr)
            areas = edc.rejection_partial_areas(curve, options.limits)
        methods.append(MethodResult(label, kinds[label], areas, curve))
    if options.protocol == "crfiqa":
        _check_rejection_support(methods, options, where, protocol.notes)
    if methods[0].curve.start_error == 0:
        protocol.notes.append(
            f"no false non-match at {options.threshold.describe()} before discarding: every pAUC is 0 and the "
            "normalised form is undefined; use a stricter --fmr or a --start-error"
        )

    robustness = []
    for job in models.quality:
        for p in job.variants:
            q = shifted[job.label, p]
            pq = edc.pair_quality(q[ia[used]], q[ib[used]])
            if options.protocol == "edc":
                areas = edc.partial_areas(edc.fnm_edc(s[mated], pq[mated], threshold), options.limits)
            else:
                areas = edc.rejection_partial_areas(
                    edc.rejection_curve(s, mated, pq, options.threshold.fmr), options.limits
                )
            corr = quality_correlation(shifted[job.label, 0.0][sample_ok], q[sample_ok])
            robustness.append(RobustnessRow(job.label, p, areas, corr, int(sample_ok.sum())))

    return DatasetResult(
        name=protocol.name,
        source=str(protocol.source),
        pairs_read=pairs_read,
        pairs_used=len(used),
        mated=n_mated,
        nonmated=n_nonmated,
        samples=len(keys),
        threshold=threshold,
        achieved_fmr=achieved,
        start_error=methods[0].curve.start_error,
        excluded=+excluded,
        sample_issues=sample_issues,
        notes=protocol.notes,
        methods=methods,
        robustness=robustness,
    )


def _pair_reasons(reasons: list[str | None], sample_ok: np.ndarray, ia, ib, pair_ok: np.ndarray) -> Counter:
    """Why each excluded pair is excluded: its first sample's reason, else its second's, else its score."""
    labels = sorted({r for r in reasons if r is not None}) + ["comparison score missing or NaN"]
    code = np.array([labels.index(r) if r is not None else -1 for r in reasons], dtype=np.int64)
    bad = np.flatnonzero(~pair_ok)
    a, b = ia[bad], ib[bad]
    which = np.where(~sample_ok[a], code[a], np.where(~sample_ok[b], code[b], len(labels) - 1))
    counts = np.bincount(which, minlength=len(labels))
    return Counter({labels[k]: int(c) for k, c in enumerate(counts) if c})


def _detector_fingerprint(ref: str) -> str:
    from aikd_cli.models.loading import resolve_weights
    from aikd_cli.tasks.evaluate.cache import digest, file_identity

    return digest(file_identity(resolve_weights(ref).path))


def _why(excluded: Counter) -> str:
    if not excluded:
        return ""
    top = ", ".join(f"{reason}: {n:,}" for reason, n in excluded.most_common(3))
    return f" (excluded pairs: {top})"


def _threshold(
    options: EvaluateOptions, where: str, scores: np.ndarray, mated: np.ndarray, n_nonmated: int
) -> tuple[float, float | None]:
    """The comparison threshold of the EDC protocol (and the FMR it gives over the non-mated)."""
    rule = options.threshold
    if rule.fmr is not None:
        need = edc.min_nonmated_for_fmr(rule.fmr)
        if n_nonmated < need:
            raise InputFormatError(
                f"{where}: {n_nonmated:,} non-mated pairs left, but FMR {rule.fmr:g} needs at least {need:,}",
                hint="use a larger --fmr, --start-error, or --threshold, or a protocol with more non-mated pairs",
            )
        t = edc.threshold_for_fmr(scores[~mated], rule.fmr)  # the crfiqa protocol re-fixes it per rate
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
