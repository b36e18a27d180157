"""``aikd export``: one model to several deployment formats, each verified before it counts.

Files are written into a hidden staging folder beside the output folder and moved into place only
when every requested format has been exported *and* verified, together with ``config.json``
(config + provenance, read back by ``score`` and ``distill``), ``export.json`` (the verification
report) and the model card ``README.md``. A crash or a failed check leaves no half-written export.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from aikd_cli._version import __version__
from aikd_cli.errors import AikdError
from aikd_cli.models.config import ModelConfig
from aikd_cli.models.hub import sha256_of
from aikd_cli.models.loading import LoadedModel, ResolvedWeights, load_network, resolve_weights
from aikd_cli.models.registry import get_spec
from aikd_cli.tasks.export.errors import VerificationFailed
from aikd_cli.tasks.export.formats import FORMATS, FP16, PREPROCESSING, ExportFormat
from aikd_cli.tasks.export.job import ExportJob
from aikd_cli.tasks.export.model_card import model_name, public_record
from aikd_cli.tasks.export.options import ExportOptions
from aikd_cli.tasks.export.verify import MAX_REAL, FormatResult, make_samples, verify
from aikd_cli.utils.atomic import replace_dir
from aikd_cli.utils.outputs import Output, guard_outputs, local_paths
from aikd_cli.utils.progress import Progress

log = logging.getLogger("aikd")

@dataclass
class ExportResult:
    folder: Path
    model: str
    config: ModelConfig
    formats: list[FormatResult]
    real_images: int = 0
    hub_url: str | None = None
    notes: list[str] = field(default_factory=list)  # options that did not apply to some formats


def _licence(spec, teacher) -> tuple[str | None, str]:
    """Licence of the weights an export derives from: its registry entry, else its teacher's."""
    if spec is not None:
        return spec.license, f"registry entry {spec.name}: {spec.source}"
    if isinstance(teacher, dict):  # a distilled student records its teacher's source
        teacher = teacher.get("source")
    if isinstance(teacher, str):
        with contextlib.suppress(AikdError):
            t = get_spec(teacher)
            return t.license, f"inherited from the teacher {t.name}: {t.source}"
    return None, ""


def build_record(ref: str, resolved: ResolvedWeights, loaded: LoadedModel) -> dict:
    """Config + provenance written into every artefact: the source's own metadata (teacher,
    training config, metrics) kept as is, plus where the weights came from and when they were exported."""
    record = {k: v for k, v in loaded.info.items() if k not in ("config", "graph")}
    record["config"] = loaded.config.to_dict()
    record.setdefault(
        "source",
        {
            "ref": str(ref),
            "name": model_name(str(ref)),  # before the path is cut to its file name
            "file": resolved.path.name,
            "sha256": sha256_of(resolved.path),
            "layout": loaded.layout,
        },
    )
    if not record.get("license"):
        licence, origin = _licence(resolved.spec, record.get("teacher"))
        if licence:
            record["license"], record["license_source"] = licence, origin
    record["exported"] = {
        "aikd": __version__,
        "torch": torch.__version__.split("+")[0],
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return public_record(record)


def load_real_images(items: Sequence[str | os.PathLike | np.ndarray]) -> list[np.ndarray]:
    """Images for verification: arrays as given, files and folders (walked) decoded; at most
    :data:`MAX_REAL`. An unreadable file is an error: the user asked for it explicitly."""
    from aikd_cli.images.decode import load_image
    from aikd_cli.images.discover import iter_inputs

    arrays = [np.asarray(i) for i in items if isinstance(i, np.ndarray)]
    paths = [i for i in items if not isinstance(i, np.ndarray)]
    for item in iter_inputs(paths):
        if len(arrays) >= MAX_REAL:
            break
        if item.duplicate_of is None and item.problem is None:
            arrays.append(load_image(item.path))
    if paths and not arrays:
        raise AikdError(f"--verify-images {', '.join(map(str, paths))}: no images found")
    return arrays[:MAX_REAL]


def check_output(folder: Path, overwrite: bool) -> None:
    if folder.exists() and not overwrite:
        raise AikdError(
            f"{folder}: already exists", hint="pass --overwrite to replace it, or choose another -o"
        )


def _staging(folder: Path) -> Path:
    """A fresh hidden folder beside ``folder`` (same file system, so the final move is a rename);
    leftovers of crashed exports to the same place (dead process ids) are removed first."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{folder.name}.partial-"
    for old in folder.parent.glob(prefix + "*"):
        pid = old.name[len(prefix) :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    staging = folder.parent / f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    return staging


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _publish(staging: Path, folder: Path) -> None:
    """Move the finished export into place; an old folder (``--overwrite``) is removed only after."""
    replace_dir(staging, folder)


def _plan(formats: list[ExportFormat], config: ModelConfig, fp16: bool, preprocessing: bool) -> list[str]:
    """Refuse options that fit none of the requested formats (or the model); note partial fits."""
    if preprocessing and config.task == "detection":
        raise AikdError(
            f"--include-preprocessing does not fit a face detector ({config.arch}): its input is resized "
            "per image before batching, so the preprocessing stays outside the graph"
        )
    notes = []
    for option, flag, wanted in (
        (FP16, "--fp16", fp16),
        (PREPROCESSING, "--include-preprocessing", preprocessing),
    ):
        if not wanted:
            continue
        fits = [f.name for f in formats if f.accepts(option)]
        skipped = [f.name for f in formats if not f.accepts(option)]
        if not fits:
            allowed = ", ".join(f.name for f in FORMATS.values() if f.accepts(option))
            raise AikdError(f"{flag} does not apply to {', '.join(skipped)}", hint=f"it applies to {allowed}")
        if skipped:
            notes.append(f"{flag} applies to {', '.join(fits)} only, not {', '.join(skipped)}")
    return notes


def _export(options: ExportOptions, chosen: list[ExportFormat], step: Callable[[str], None]):
    """Load, export, verify and publish (the body of :func:`run`, run holding the output lock)."""
    from aikd_cli.tasks.export.model_card import render_model_card

    model, folder = options.model, options.folder
    resolved = resolve_weights(model)
    if resolved.path.suffix == ".onnx":
        raise AikdError(
            f"{model}: is already an ONNX export; export from the torch weights (the safetensors file) instead"
        )
    loaded = load_network(model, resolved=resolved)
    notes = _plan(chosen, loaded.config, options.fp16, options.include_preprocessing)
    job = ExportJob(
        loaded, build_record(str(model), resolved, loaded), options.include_preprocessing, options.fp16,
        options.opset, options.exporter,
    )
    real = load_real_images(options.verify_images)
    samples = make_samples(job, real)

    staging = _staging(folder)
    try:
        results = []
        for fmt in chosen:
            step(f"exporting {fmt.name}")
            start = time.perf_counter()
            path = staging / fmt.filename
            details = fmt.export(job, path)
            step(f"verifying {path.name}")
            check = verify(
                job,
                fmt.runner(path, job),
                samples,
                preprocessing=bool(details.get("preprocessing")),
                precision=details.get("precision", "fp32"),
            )
            if not check.passed:
                worst = check.worst
                raise VerificationFailed(
                    f"{fmt.filename}: does not reproduce the torch model: max |{fmt.name} - torch| on '{worst.output}' "
                    f"({worst.sample}) is {worst.max_abs:.3g} = {worst.error:.2g} x max(1, |torch|), above the "
                    f"{check.precision} tolerance {check.tolerance:g}; nothing was written to {folder}",
                    hint="try --exporter torchscript (ONNX) or drop --fp16; report it with AIKD_DEBUG=1 output",
                )
            results.append(
                FormatResult(
                    fmt.name,
                    folder / fmt.filename,
                    path.stat().st_size,
                    time.perf_counter() - start,
                    details,
                    check,
                )
            )
        (staging / "config.json").write_text(json.dumps(job.record, indent=2) + "\n")
        report = {
            "model": str(model),
            "real_images": len(real),
            "notes": notes,
            "formats": [r.to_dict() for r in results],
        }
        (staging / "export.json").write_text(json.dumps(report, indent=2) + "\n")
        (staging / "README.md").write_text(
            render_model_card(job, results, folder.name, options.push_to_hub, len(real))
        )
        step(f"writing {folder}")
        _publish(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    return loaded, results, real, notes


def run(options: ExportOptions, progress: Progress | None = None) -> ExportResult:
    """Export ``options.model`` in each requested format into ``options.output``, verify every file
    against the torch model, write the model card, and optionally push to the Hub.

    ``progress`` counts steps (each format's export and check, publishing, pushing) once the model
    has loaded; what each step is goes to the ``aikd`` logger. Raises :class:`~aikd_cli.errors.AikdError` (nothing is
    left in ``output``) when the model cannot be loaded or exported, or an export misses the tolerance.
    """
    options.validate()
    folder, chosen = options.folder, options.chosen
    total = 1 + 2 * len(chosen) + bool(options.push_to_hub)
    done = 0

    def step(message: str) -> None:
        nonlocal done
        log.info(message)
        if progress:
            progress(done, total, "exporting")
        done += 1

    inputs = local_paths(str(options.model), *(p for p in options.verify_images if not isinstance(p, np.ndarray)))
    with guard_outputs([Output(folder, "--output", folder=True, whole=True)], inputs):
        check_output(folder, options.overwrite)
        loaded, results, real, notes = _export(options, chosen, step)

    result = ExportResult(folder, str(options.model), loaded.config, results, len(real), notes=notes)
    if options.push_to_hub:
        from aikd_cli.tasks.export.hub_push import push_to_hub

        step(f"pushing to {options.push_to_hub}")
        result.hub_url = push_to_hub(folder, options.push_to_hub, private=options.private)
    if progress:
        progress(total, total, "exporting")
    return result
