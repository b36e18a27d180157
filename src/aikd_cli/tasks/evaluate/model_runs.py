"""The models of an evaluation: opening the FR and quality models the options name (weights checked
first), and running them over a protocol's samples through the shared face pipeline."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aikd_cli.defaults import DEFAULT_DET_SIZE
from aikd_cli.faces.detector import open_detector
from aikd_cli.faces.landmarks import LandmarkTable
from aikd_cli.tasks.evaluate.cache import digest, file_identity
from aikd_cli.tasks.evaluate.model_outputs import ModelJob
from aikd_cli.tasks.evaluate.options import EvaluateOptions, ModelInput
from aikd_cli.tasks.evaluate.protocols import Protocol
from aikd_cli.tasks.evaluate.quality import QualityTable
from aikd_cli.tasks.evaluate.samples import Samples
from aikd_cli.utils.numbers import plural
from aikd_cli.utils.progress import Progress


@dataclass
class Models:
    """Models opened once for all datasets."""

    fr: ModelJob | None
    quality: list[ModelJob]


def open_models(options: EvaluateOptions, taken: set[str]) -> Models:
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
    return Models(fr, jobs)


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


def landmark_table(options: EvaluateOptions, tables: list[QualityTable]) -> LandmarkTable | None:
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


def compute_outputs(
    protocol: Protocol,
    samples: Samples,
    options: EvaluateOptions,
    tables: list[QualityTable],
    models: Models,
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
    landmarks = landmark_table(options, tables)
    # a detector for images without landmarks (loaded now: workers prepare their inputs), and a
    # factory for images whose recorded hash may turn out stale (loaded only if one is)
    detector = None
    if not protocol.images.aligned:
        if landmarks is None or any(k not in landmarks for k in active_keys):
            detector = open_detector(options)
        elif landmarks.has_digests:
            detector = functools.partial(open_detector, options)
    ran = run_models(
        active_keys,
        protocol.images,
        jobs,
        landmarks=landmarks,
        detector=detector,
        detector_id=detector_fingerprint(options.detector, options.det_size, options.det_threshold)
        if isinstance(detector, FaceDetector) else "",
        misalign_unit=options.perturb_unit,
        seed=options.seed,
        batch_size=options.batch_size,
        workers=options.workers,
        cache_root=options.cache_root,
        progress=advancing(progress, f"faces of {protocol.name}") if progress else None,
    )
    for i, why in ran.failures.items():
        samples.flag(int(active[i]), why)
    if ran.from_file:
        protocol.notes.append(f"{plural(ran.from_file, 'sample')} aligned from landmarks in {landmarks.source}")
    if ran.detected:
        protocol.notes.append(f"{plural(ran.detected, 'sample')} aligned from detected landmarks")
    if ran.cached:
        protocol.notes.append(f"model outputs of {plural(ran.cached, 'sample')} read from the cache")

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


def advancing(progress: Progress, stage: str):
    """``run_models`` reports items finished since its last report; tasks report totals."""
    done = 0

    def advance(n: int, total: int) -> None:
        nonlocal done
        done += n
        progress(done, total, stage)

    return advance


def detector_fingerprint(ref: str, det_size: int = DEFAULT_DET_SIZE, det_threshold: float = 0.5) -> str:
    """What decides detected landmarks: the weights and the resolution and threshold."""
    from aikd_cli.models.loading import resolve_weights

    return digest(file_identity(resolve_weights(ref).path), f"{det_size}:{det_threshold!r}")
