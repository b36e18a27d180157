"""Pseudo quality labels from identities, for when no FIQA model exists: ``aikd label``.

Two published unsupervised schemes, both computed from the embeddings of an FR model on correctly
aligned faces and the identity of each face, and one that needs no identities:

* ``cr`` -- CR-FIQA's certainty ratio (Boutros et al., CVPR 2023): ``CCS`` is the cosine between a
  face and its own identity centre, ``NNCCS`` the largest cosine to any other identity centre, and
  ``CR = CCS / (NNCCS + 1 + eps)``. The ``+ 1`` is the paper's: ``NNCCS`` lies in [-1, 1], so the
  denominator stays positive. Centres here are the normalised means of each identity's normalised
  embeddings (CR-FIQA uses its classifier's class proxies, which play the same role).
* ``sdd`` -- SDD-FIQA (Ou et al., CVPR 2021): the Wasserstein-1 distance between a face's genuine
  similarities (to the other faces of its identity) and its impostor similarities (to faces of
  other identities, a seeded random subset of at most ``max_impostors``). It is signed here (negative
  when the impostor similarities are the higher ones), so a face that looks more like others than
  like itself never scores high.
* ``norm`` -- the norm of the face's embedding, the quality MagFace (Meng et al., CVPR 2021) trains
  into its FR model and the training-free yardstick ``aikd evaluate`` reports: a teacher quality
  that any FR model gives (``genuine``/``impostor`` stay empty).

Identities with one face have no genuine comparison and get no label (status ``single_image``); when
only one identity has usable faces there is no impostor comparison (status ``no_impostor``), and an
identities CSV that lists a single identity is refused before any work.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aikd_cli.defaults import DEFAULT_DET_SIZE, DEFAULT_DETECTOR
from aikd_cli.errors import InputFormatError
from aikd_cli.faces.landmarks import (
    DIGEST_COLUMN,
    LANDMARK_COLUMNS,
    LandmarkTable,
    landmark_fields,
    relative_to_csv,
)
from aikd_cli.models.inference import FaceModel
from aikd_cli.tasks.distill.samples import FaceRecord
from aikd_cli.tasks.label.options import SCHEMES, LabelOptions
from aikd_cli.utils.progress import Progress

#: ``genuine`` / ``impostor`` are CCS / NNCCS for ``cr`` and the mean genuine / impostor cosine for ``sdd``.
#: Status of a listed image that does not exist (often a CSV read from the wrong folder).
MISSING = "missing"
LABEL_COLUMNS = (
    "path",
    "face",
    "identity",
    "quality",
    "genuine",
    "impostor",
    *LANDMARK_COLUMNS,
    DIGEST_COLUMN,
    "status",
    "message",
)


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x.double(), dim=1)


def _identity_ids(identities: list[str]) -> tuple[torch.Tensor, int]:
    names = {name: i for i, name in enumerate(sorted(set(identities)))}
    return torch.tensor([names[n] for n in identities], dtype=torch.long), len(names)


def certainty_ratio(embeddings: torch.Tensor, identities: list[str], eps: float = 1e-9, chunk: int = 4096):
    """``(cr, ccs, nnccs)`` per face (NaN for identities with a single face or when only one identity exists)."""
    emb = _normalise(embeddings)
    ids, count = _identity_ids(identities)
    sizes = torch.bincount(ids, minlength=count)
    centres = torch.zeros(count, emb.shape[1], dtype=emb.dtype).index_add_(0, ids, emb)
    centres = _normalise(centres)
    ccs = torch.empty(len(emb), dtype=emb.dtype)
    nnccs = torch.empty(len(emb), dtype=emb.dtype)
    for start in range(0, len(emb), chunk):
        sims = emb[start : start + chunk] @ centres.T
        own = ids[start : start + chunk]
        rows = torch.arange(len(own))
        ccs[start : start + chunk] = sims[rows, own]
        sims[rows, own] = -math.inf
        nnccs[start : start + chunk] = sims.max(dim=1).values if count > 1 else math.nan
    cr = ccs / (nnccs + 1.0 + eps)
    single = sizes[ids] < 2
    for t in (cr, ccs, nnccs):
        t[single] = math.nan
    return cr, ccs, nnccs


def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> float:
    """W1 distance between the empirical distributions of samples ``a`` and ``b``:
    the area between their CDFs."""
    a, b = np.sort(np.asarray(a, dtype=np.float64)), np.sort(np.asarray(b, dtype=np.float64))
    values = np.sort(np.concatenate([a, b]))
    deltas = np.diff(values)
    cdf_a = np.searchsorted(a, values[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, values[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * deltas))


def sdd_quality(embeddings: torch.Tensor, identities: list[str], max_impostors: int = 1000, seed: int = 0):
    """``(quality, genuine mean, impostor mean)`` per face under the (signed) SDD-FIQA scheme."""
    emb = _normalise(embeddings)
    ids, _ = _identity_ids(identities)
    n = len(emb)
    generator = torch.Generator().manual_seed(seed)
    by_id: dict[int, torch.Tensor] = {}
    for i, k in enumerate(ids.tolist()):
        by_id.setdefault(k, []).append(i)  # type: ignore[arg-type]
    by_id = {k: torch.tensor(v) for k, v in by_id.items()}
    quality = np.full(n, np.nan)
    genuine_mean = np.full(n, np.nan)
    impostor_mean = np.full(n, np.nan)
    for i in range(n):
        mates = by_id[int(ids[i])]
        mates = mates[mates != i]
        others = n - len(mates) - 1
        if len(mates) == 0 or others == 0:
            continue
        # draw impostors by rejection: indices uniformly over all faces, drop same-identity ones
        draw = torch.randint(0, n, (min(max_impostors, others) * 2 + 16,), generator=generator)
        draw = draw[ids[draw] != ids[i]][:max_impostors]
        if len(draw) == 0:
            draw = torch.nonzero(ids != ids[i]).reshape(-1)[:max_impostors]
        genuine = (emb[mates] @ emb[i]).numpy()
        impostor = (emb[draw] @ emb[i]).numpy()
        sign = 1.0 if genuine.mean() >= impostor.mean() else -1.0
        quality[i] = sign * wasserstein_1d(genuine, impostor)
        genuine_mean[i], impostor_mean[i] = genuine.mean(), impostor.mean()
    return quality, genuine_mean, impostor_mean


@dataclass
class LabelResult:
    output: Path
    labelled: int
    skipped: dict[str, int]
    quality: np.ndarray  # the finite labels written


def compute_labels(
    embeddings: torch.Tensor, identities: list[str], scheme: str, *, max_impostors: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(quality, genuine, impostor)`` arrays for ``scheme`` (see the module docstring)."""
    if scheme == "cr":
        return tuple(t.numpy() for t in certainty_ratio(embeddings, identities))  # type: ignore[return-value]
    if scheme == "sdd":
        return sdd_quality(embeddings, identities, max_impostors=max_impostors, seed=seed)
    if scheme == "norm":
        empty = np.full(len(embeddings), np.nan)
        return embeddings.double().norm(dim=1).numpy(), empty, empty.copy()
    raise InputFormatError(f"unknown labelling scheme {scheme!r} (choose {', '.join(SCHEMES)})")


def write_labels(
    output: Path, faces: list[LabelledFace], values: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> dict[str, int]:
    """The labels CSV (atomically): one row per input face, labelled or with the reason it is not.

    It carries the landmarks the faces were aligned with, so it is also a complete
    ``aikd distill`` manifest (path, face, landmarks, quality).
    """
    from aikd_cli.utils.csvout import ResultsWriter

    quality, genuine, impostor = values
    usable = Counter(f.identity for f in faces if f.row is not None)
    counts: dict[str, int] = {}
    rows = []
    for f in faces:
        i = f.row
        ok = i is not None and math.isfinite(quality[i])
        status, message = ("ok", "") if ok else (f.status, f.message) if i is None else _unlabelled(f, usable)
        if status == "unreadable" and not os.path.exists(f.path):
            status = MISSING  # named as what it is: the path leads nowhere
        counts[status] = counts.get(status, 0) + 1
        rows.append(
            {
                "path": relative_to_csv(f.path, output.parent),
                "face": "" if f.face is None else str(f.face),
                "identity": f.identity,
                "quality": _cell(quality, i) if ok else "",
                "genuine": _cell(genuine, i),
                "impostor": _cell(impostor, i),
                **landmark_fields(f.landmarks),
                DIGEST_COLUMN: f.sha256,
                "status": status,
                "message": message,
            }
        )
    writer = ResultsWriter(output, LABEL_COLUMNS)
    writer.write(rows)
    writer.close()
    return counts


def _unlabelled(face: LabelledFace, usable: Counter) -> tuple[str, str]:
    """Why an embedded face got no label: its identity has no other usable face, or no other
    identity has one."""
    if usable[face.identity] < 2:
        return "single_image", "the only usable face of its identity: no genuine comparison"
    return "no_impostor", "no other identity has a usable face: no impostor comparison"


def _cell(values: np.ndarray, i: int | None) -> str:
    return f"{values[i]:.6f}" if i is not None and math.isfinite(values[i]) else ""


@dataclass
class LabelledFace:
    """One input row of ``aikd label`` and what became of it (``row`` indexes the embeddings)."""

    path: str
    identity: str
    face: int | None = None
    landmarks: np.ndarray | None = None
    row: int | None = None
    status: str = "ok"
    message: str = ""
    sha256: str = ""  # of the image file the landmarks belong to


def identity_landmarks(faces: list[FaceRecord], landmarks: str | Path | None = None) -> LandmarkTable:
    """The landmarks ``aikd label`` aligns with: the identities CSV's own columns, else those of
    ``landmarks`` (a landmark CSV)."""
    from aikd_cli.faces.landmarks import read_landmarks

    given = LandmarkTable("the identities CSV", {f.path: [(f.face, f.landmarks)] for f in faces if f.landmarks is not None}, {})
    return given.with_fallback(read_landmarks(landmarks) if landmarks else None)


def embed_identities(
    faces: list[FaceRecord],
    model: FaceModel,
    *,
    table: LandmarkTable | None = None,
    detector: str | None = None,
    det_size: int = DEFAULT_DET_SIZE,
    det_threshold: float = 0.5,
    batch_size: int = 64,
    workers: int = 0,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[LabelledFace], torch.Tensor]:
    """Embed the correctly aligned face of every listed image with the shared face pipeline.

    Landmarks come from ``table`` (default: the manifest's own columns, :func:`identity_landmarks`),
    else the detector (largest face), which is opened only when an image is missing from the table
    or changed since its landmarks were written. Returns one :class:`LabelledFace` per input and the
    embeddings of those that have ``row`` set.
    """
    from aikd_cli.faces.detector import open_detector
    from aikd_cli.faces.pipeline import FaceSource, iter_faces, open_finder
    from aikd_cli.options import FaceOptions

    size = model.config.preprocess.crop_size
    device = model.device
    table = table if table is not None else identity_landmarks(faces)
    opts = FaceOptions(detector=detector or DEFAULT_DETECTOR, det_size=det_size, det_threshold=det_threshold,
                       device=str(device))
    identity = {f.path: f.identity or "" for f in faces}
    # images without landmarks: the detector now (workers prepare its inputs); else only if one changed
    found = None if all(path in table for path in identity) else open_detector(opts, device)
    source = FaceSource(open_finder(opts, size, device, detector=found, table=table, detect_missing=True), size=size,
                        device=device)
    out: list[LabelledFace] = []
    chunks: list[torch.Tensor] = []
    count = 0
    for batch in iter_faces(sorted(identity), source, batch_size, workers):
        found = [(img, img.usable[0]) for img in batch if img.usable]
        if found:
            chunks.append(model(torch.stack([f.crop for _, f in found])).embedding)
        rows = {id(img): count + j for j, (img, _) in enumerate(found)}
        count += len(found)
        for img in batch:
            name = identity[os.path.normpath(os.path.abspath(img.path))]
            if img.usable:
                f = img.usable[0]
                out.append(LabelledFace(img.path, name, f.index, f.landmarks, rows[id(img)], sha256=img.sha256 or ""))
            else:
                out.append(LabelledFace(img.path, name, status=img.status, message=img.message,
                                        sha256=img.sha256 or ""))
        if progress:
            progress(len(batch))
    embeddings = torch.cat(chunks) if chunks else torch.zeros(0, model.config.embedding_size)
    return out, embeddings


def run(options: LabelOptions, progress: Progress | None = None) -> LabelResult:
    """Label every image of ``options.identities`` and write ``options.output``; the Python
    equivalent of ``aikd label``. ``progress(done, total)`` is called as images are embedded.
    The output is checked against the inputs and locked before any work.

    >>> from aikd_cli import LabelOptions, label
    >>> result = label(LabelOptions(identities="ids.csv", fr_model="mobilefacenet.pt"))  # doctest: +SKIP
    """
    from aikd_cli.utils.outputs import Output, check_listed, guard_outputs, local_paths

    o = options
    o.validate()
    outputs = [Output(o.output, "--output")]
    with guard_outputs(outputs, local_paths(o.identities, o.landmarks, o.fr_model, o.detector)):
        faces = read_identities(o.identities, o.scheme)
        check_listed(outputs, [f.path for f in faces])  # nor may the labels replace a listed image
        paths = sorted({f.path for f in faces})
        missing = [p for p in paths if not os.path.exists(p)]
        if len(missing) == len(paths):
            raise InputFormatError(
                f"{o.identities}: none of its {len(paths):,} images exists (first: {missing[0]})",
                hint=f"relative paths are read from the CSV's folder ({o.identities.parent.resolve()})",
            )
        result = _label(faces, o.fr_model, o.output, scheme=o.scheme, landmarks=o.landmarks, detector=o.detector,
                      det_size=o.det_size, det_threshold=o.det_threshold, device=o.device, precision=o.precision,
                      workers=o.workers, batch_size=o.batch_size, max_impostors=o.max_impostors, seed=o.seed,
                      progress=progress)
    if not result.labelled:
        why = ", ".join(f"{status} {n:,}" for status, n in sorted(result.skipped.items()))
        raise InputFormatError(f"no face could be labelled ({why}); every row of {result.output} says why")
    return result


def read_identities(identities: str | Path, scheme: str) -> list[FaceRecord]:
    """The faces of an identities CSV, refused in one line when they cannot be labelled (no rows,
    rows without an identity, an image under two identities, a single identity)."""
    from aikd_cli.tasks.distill.samples import read_manifest

    faces = read_manifest(identities)
    if not faces:
        raise InputFormatError(f"{identities}: lists no images")
    unnamed = [f.path for f in faces if not f.identity]
    if unnamed:
        raise InputFormatError(
            f"{identities}: {len(unnamed)} rows have no identity (first: {unnamed[0]})",
            hint="the identities CSV needs 'path' and 'identity' columns",
        )
    seen: dict[str, str] = {}
    for f in faces:
        if seen.setdefault(f.path, f.identity or "") != f.identity:
            raise InputFormatError(
                f"{identities}: {f.path} is listed as both {seen[f.path]!r} and {f.identity!r}"
            )
    if scheme != "norm" and len(set(seen.values())) < 2:
        raise InputFormatError(
            f"{identities}: lists one identity ({next(iter(seen.values()))!r}); a label compares each face with "
            "its own identity and the others, so at least two are needed"
        )
    return faces


def _label(faces: list[FaceRecord], fr_model: str, output: Path, *, scheme: str, landmarks, detector, det_size: int,
           det_threshold: float, device: str, precision: str, workers: int, batch_size: int, max_impostors: int,
           seed: int, progress: Progress | None) -> LabelResult:
    """The body of :func:`run`, run holding the output's lock."""
    from aikd_cli.models.availability import ensure_available
    from aikd_cli.models.inference import open_face_model

    table = identity_landmarks(faces, landmarks)
    needs_detector = any(f.path not in table for f in faces)  # (or an image that changed: then loaded late)
    ensure_available([("--fr-model", fr_model), ("--detector", detector if needs_detector else None)])
    model = open_face_model(fr_model, device=device, precision=precision, expect="recognition")  # type: ignore[arg-type]
    total = len({f.path for f in faces})
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    tick(0)  # the work starts now: rates count from here
    labelled, embeddings = embed_identities(
        faces,
        model,
        table=table,
        detector=detector,
        det_size=det_size,
        det_threshold=det_threshold,
        batch_size=batch_size,
        workers=workers,
        progress=tick,
    )
    names = [""] * len(embeddings)
    for f in labelled:
        if f.row is not None:
            names[f.row] = f.identity
    values = compute_labels(embeddings, names, scheme, max_impostors=max_impostors, seed=seed)
    counts = write_labels(output, labelled, values)
    quality = values[0][np.isfinite(values[0])]
    return LabelResult(output, int(quality.size), counts, quality)
