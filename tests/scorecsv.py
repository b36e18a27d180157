"""Score CSVs for tests, made with the real engine (detector + alignment + a quality stand-in).

``aikd score`` writes these files in production; the report tests must not depend on it, so this
helper runs the same engine pieces and writes the same columns (``SCORE_COLUMNS``, paths relative to
the CSV's folder) and sidecar. The quality is a deterministic stand-in supplied by the caller, e.g.
the embedding norm of the kit's MobileFaceNet.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from aikd_cli.errors import ImageError
from aikd_cli.faces.align import align_faces
from aikd_cli.faces.landmarks import landmark_fields, relative_to_csv
from aikd_cli.images.decode import load_image
from aikd_cli.tasks.score import NO_FACE, OK, SCORE_COLUMNS, UNREADABLE

Quality = Callable[[torch.Tensor], np.ndarray]  # uint8 crops (N, 3, 112, 112) -> (N,)


def score_rows(images: Iterable[Path], csv_dir: Path, detector, quality: Quality) -> list[dict[str, str]]:
    rows = []
    for image in images:
        rel = relative_to_csv(str(image), csv_dir)
        empty = {c: "" for c in SCORE_COLUMNS} | {"path": rel}
        try:
            rgb = load_image(image)
        except ImageError as exc:
            rows.append(empty | {"status": UNREADABLE, "message": exc.reason})
            continue
        faces = detector.detect([rgb])[0]
        if not faces:
            rows.append(empty | {"status": NO_FACE, "message": "no face detected"})
            continue
        landmarks = torch.tensor(np.stack([f.landmarks for f in faces]))
        crops, _ = align_faces(torch.from_numpy(rgb).permute(2, 0, 1), landmarks, 112)
        values = quality(crops)
        for i, (face, q) in enumerate(zip(faces, values, strict=True)):
            box = dict(
                zip(("box_x1", "box_y1", "box_x2", "box_y2"), (f"{v:.2f}" for v in face.box), strict=True)
            )
            rows.append(
                empty
                | {"face": str(i), "quality": f"{q:.6f}", "det_score": f"{face.score:.4f}", "status": OK}
                | box
                | landmark_fields(face.landmarks)
            )
    return rows


def write_score_csv(csv_path: Path, rows: list[dict[str, str]], meta: dict | None = None) -> Path:
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=SCORE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    if meta is not None:
        csv_path.with_name(csv_path.name + ".meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return csv_path


def embedding_norm(model) -> Quality:
    """Quality stand-in: the L2 norm of an FR model's embedding (larger for clearer faces)."""

    def quality(crops: torch.Tensor) -> np.ndarray:
        return model(crops).embedding.norm(dim=1).numpy()

    return quality
