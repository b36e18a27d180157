"""Explicit pair lists: a table (CSV or Parquet) of ``path_a, path_b, mated[, score]`` rows, and
LFW-style ``pairs.txt``. Both are read column-wise (see ``tasks.evaluate.tabular``): each
distinct path is resolved once and the pairs become int32 indices."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aikd_cli.errors import InputFormatError
from aikd_cli.tasks.evaluate import tabular
from aikd_cli.tasks.evaluate.protocols.base import FileImages, Protocol, contiguous_folds

#: Column names accepted in pair tables (first match wins, case-insensitive).
PAIR_COLUMNS = {
    "a": ("path_a", "a", "image_a", "path1", "sample_a"),
    "b": ("path_b", "b", "image_b", "path2", "sample_b"),
    "mated": ("mated", "is_same", "issame", "genuine", "same", "label"),
}
_TRUE = {"1", "true", "yes", "y", "mated", "genuine", "same", "t"}
_FALSE = {"0", "false", "no", "n", "non-mated", "nonmated", "non_mated", "impostor", "different", "f"}


def mated_flag(value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"cannot read {value!r} as mated/non-mated (use 1/0, true/false, yes/no)")


def read_pairs_table(
    path: Path, *, score_column: str | None = None, image_root: Path | None = None, aligned: bool = False
) -> Protocol:
    """A CSV or Parquet file with ``path_a, path_b, mated`` (and optionally a score column).
    Relative paths are relative to ``image_root`` or else to the file's folder."""
    names = tabular.header(path)
    found = {role: tabular.find_column(names, aliases) for role, aliases in PAIR_COLUMNS.items()}
    missing = [PAIR_COLUMNS[r][0] for r, c in found.items() if c is None]
    if missing:
        raise InputFormatError(
            f"{path}: not a pairs {'Parquet file' if tabular.is_parquet(path) else 'CSV'}, missing columns "
            f"{', '.join(missing)} (found {', '.join(names) or 'none'})"
        )
    if score_column is not None and score_column not in names:
        raise InputFormatError(f"{path}: no score column {score_column!r} (found {', '.join(names)})")
    wanted = [found["a"], found["b"], found["mated"], *([score_column] if score_column else [])]
    columns = tabular.read_columns(path, wanted, numeric=[score_column] if score_column else [])
    if len(columns) == 0:
        raise InputFormatError(f"{path}: no pairs found")
    flags, codes = tabular.parsed(columns, found["mated"], mated_flag)
    mated = np.asarray(flags, dtype=bool)[codes]
    scores = None
    if score_column is not None:
        scores, _, bad = columns.numbers(score_column)
        row = tabular.first_row(bad)
        if row is not None:
            cell = columns.cell(score_column, row).strip()
            raise InputFormatError(f"{columns.where(row)}: score {cell!r} is not a number")
    keys, (ia, ib) = tabular.sample_codes(image_root or path.parent, columns, [found["a"], found["b"]])
    return Protocol(path.stem, path, keys, ia, ib, mated, FileImages(aligned), scores)


def read_pairs_txt(path: Path, image_root: Path | None = None, ext: str = ".jpg") -> Protocol:
    """LFW ``pairs.txt``: ``name i j`` (mated) and ``name1 i name2 j`` (non-mated) lines, images at
    ``<root>/<name>/<name>_<i:04d>.jpg``. A leading header line of one or two integers is skipped.
    The lines are split in Python (their field count varies), but each distinct image is named once."""
    root = Path(image_root) if image_root else path.parent
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise InputFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputFormatError(f"{path}: not a UTF-8 text file") from None
    images: dict[tuple[str, str], int] = {}  # (name, number) -> sample code
    ia, ib, mated = [], [], []
    folds = 0

    def image(name: str, number: str) -> int:
        return images.setdefault((name, number), len(images))

    for line_no, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if line_no == 1 and len(parts) <= 2 and all(p.isdigit() for p in parts):
            folds = int(parts[0]) if len(parts) == 2 else 0  # "10 300": folds and pairs of each kind per fold
            continue
        if len(parts) not in (3, 4):
            raise InputFormatError(
                f"{path}:{line_no}: expected 'name i j' or 'name1 i name2 j', found {len(parts)} fields"
            )
        second = (parts[0], parts[2]) if len(parts) == 3 else (parts[2], parts[3])
        for number in (parts[1], second[1]):
            if not _is_int(number):
                raise InputFormatError(f"{path}:{line_no}: image number {number!r} is not an integer")
        ia.append(image(parts[0], parts[1]))
        ib.append(image(*second))
        mated.append(len(parts) == 3)
    if not mated:
        raise InputFormatError(f"{path}: no pairs found")
    base = os.path.abspath(root)
    files = [os.path.normpath(os.path.join(base, name, f"{name}_{int(n):04d}{ext}")) for name, n in images]
    keys, inverse = np.unique(tabular.object_array(files), return_inverse=True)
    inverse = inverse.astype(np.int32)
    return Protocol(
        path.stem, path, keys, inverse[ia], inverse[ib], np.array(mated, dtype=bool), FileImages(),
        folds=contiguous_folds(len(mated), folds) if folds > 1 else None,
    )


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
