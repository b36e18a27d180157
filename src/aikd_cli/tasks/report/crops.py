"""Aligned crops kept by ``aikd score --save-crops DIR``, and found again by ``aikd report``.

The scorer already holds every aligned crop in memory; writing it out as a PNG costs far less than
the report decoding the original photo again and re-aligning it. The layout mirrors the CSV's
``path`` cells (an absolute cell without its root): ``DIR/alice/001.png`` for ``alice/001.jpg``, and
``DIR/group/party_1.png`` for face 1 of a photo with several faces (as ``aikd align`` names them).

Each PNG carries, in a text chunk, the path cell, face index and landmarks it was cut for. The report
uses a crop only when these match its CSV row, so a crop left over from another run, or a name two
photos share (``a.jpg`` and ``a.png``), falls back to decoding the original instead of showing the
wrong face. Crops are written under a temporary name and renamed (a reader never sees half a PNG);
they are not fsynced: a crop lost to a power cut is re-made from the original by the report.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath

import numpy as np

from aikd_cli.faces.landmarks import relative_to_csv

KEY = "aikd-crop"


def crop_name(cell: str, face: int, several: bool) -> str:
    """Where the crop of face ``face`` of the photo in path cell ``cell`` lives under the folder."""
    path = PurePath(cell)
    if path.is_absolute():
        path = path.relative_to(path.anchor)
    stem = os.path.splitext(str(path))[0]
    return f"{stem}_{face}.png" if several else f"{stem}.png"


def _tag(cell: str, face: int, landmarks: Sequence[float] | None) -> str:
    marks = None if landmarks is None else [float(v) for v in np.asarray(landmarks, np.float64).reshape(-1)]
    return json.dumps({"path": cell, "face": face, "landmarks": marks})


def write_crop(
    pixels: np.ndarray, folder: Path, cell: str, face: int, several: bool, landmarks: Sequence[float] | None
) -> Path:
    """Save an ``(S, S, 3)`` uint8 RGB crop for this row, tagged, via a temporary name and a rename."""
    from PIL import Image, PngImagePlugin

    path = folder / crop_name(cell, face, several)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    info.add_text(KEY, _tag(cell, face, landmarks))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        Image.fromarray(np.ascontiguousarray(pixels)).save(tmp, format="PNG", pnginfo=info, compress_level=1)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_crops(batch: Iterable, folder: str | os.PathLike, csv_dir: Path) -> None:
    """Write the aligned crops of a batch of :class:`~aikd_cli.faces.pipeline.ImageFaces` (the hook
    ``aikd score --save-crops`` calls before the batch's rows are written)."""
    folder = Path(folder)
    for image in batch:
        cell = relative_to_csv(image.path, csv_dir)
        for face in image.faces:
            if face.crop is None:  # a face that could not be aligned: its row says why
                continue
            pixels = face.crop.permute(1, 2, 0).cpu().numpy()
            write_crop(pixels, folder, cell, face.index, len(image.faces) > 1, face.written_landmarks)


def read_crop(path: str, cell: str, face: int | None, landmarks: Sequence[float] | None) -> np.ndarray | None:
    """The crop's pixels if ``path`` is a crop saved for exactly this row (path cell, face index and
    landmarks); None otherwise (missing, unreadable, or made for another photo or detection)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            tag = json.loads(image.info.get(KEY, "null"))
            if not isinstance(tag, dict) or tag.get("path") != cell or tag.get("face") != face:
                return None
            if not _same(tag.get("landmarks"), landmarks):
                return None
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError):  # missing, truncated, not a PNG, bad JSON
        return None


def _same(saved, wanted: Sequence[float] | None) -> bool:
    if saved is None or wanted is None:
        return saved is None and wanted is None
    return len(saved) == len(wanted) and all(
        isinstance(a, (int, float)) and math.isclose(a, b, abs_tol=1e-6)
        for a, b in zip(saved, wanted, strict=True)
    )
