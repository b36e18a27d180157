"""Comparison protocols: which pairs of samples to compare, and whether each pair is mated.

Readers for LFW-style ``pairs.txt``, generic pair CSVs (optionally with comparison scores),
insightface validation ``.bin`` files (read with a restricted unpickler) and identity-labelled
CSVs or folders (all mated pairs, non-mated pairs optionally subsampled). Every reader returns a
:class:`Protocol` whose samples are named by *keys*: the normalised absolute path of an image
file, or ``<abs path of the .bin>#<index>`` for images inside a ``.bin``. Quality CSVs are matched
to samples by the same key.
"""

from __future__ import annotations

import csv
import io
import os
import pickle
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aikd_cli.errors import ImageError, InputFormatError
from aikd_cli.faces.landmarks import resolve_csv_path

#: Column names accepted in pair CSVs (first match wins, case-insensitive).
PAIR_COLUMNS = {
    "a": ("path_a", "a", "image_a", "path1", "sample_a"),
    "b": ("path_b", "b", "image_b", "path2", "sample_b"),
    "mated": ("mated", "is_same", "issame", "genuine", "same", "label"),
}
_TRUE = {"1", "true", "yes", "y", "mated", "genuine", "same", "t"}
_FALSE = {"0", "false", "no", "n", "non-mated", "nonmated", "non_mated", "impostor", "different", "f"}

#: Above this many candidate pairs, non-mated pairs of an identity list are sampled, not enumerated.
ENUMERATE_LIMIT = 20_000_000


class FileImages:
    """Samples that are image files; ``aligned`` says they are already 112x112 aligned crops."""

    def __init__(self, aligned: bool = False) -> None:
        self.aligned = aligned

    def exists(self, key: str) -> bool:
        return os.path.isfile(key)

    def read(self, key: str) -> np.ndarray:
        from aikd_cli.images.decode import load_image

        return load_image(key)


class BinImages:
    """Encoded aligned crops held in memory (an insightface ``.bin``), keyed ``<path>#<index>``."""

    aligned = True

    def __init__(self, path: str, images: list) -> None:
        self.path = path
        self.images = images

    def key(self, index: int) -> str:
        return f"{self.path}#{index}"

    def _index(self, key: str) -> int:
        return int(key.rpartition("#")[2])

    def exists(self, key: str) -> bool:
        return key.startswith(self.path + "#") and 0 <= self._index(key) < len(self.images)

    def read(self, key: str) -> np.ndarray:
        item = self.images[self._index(key)]
        if isinstance(item, np.ndarray):
            arr = item if item.shape[-1] == 3 else np.transpose(item, (1, 2, 0))
            if arr.ndim != 3 or arr.shape[-1] != 3:
                raise ImageError(key, f"unexpected array shape {item.shape} in .bin")
            return np.ascontiguousarray(arr.astype(np.uint8, copy=False))
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(item)) as img:
                return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ImageError(key, f"cannot decode the encoded image in .bin ({exc})") from None


@dataclass
class Protocol:
    """The pairs of one dataset: pair ``k`` compares samples ``keys[ia[k]]`` and ``keys[ib[k]]``.
    ``scores`` holds given comparison scores (or ``None``)."""

    name: str
    source: Path
    keys: np.ndarray  # (S,) object array of distinct sample keys
    ia: np.ndarray  # (P,) int64
    ib: np.ndarray  # (P,) int64
    mated: np.ndarray  # (P,) bool
    images: FileImages | BinImages
    scores: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_keys(
        cls, name: str, source: Path, a: list[str], b: list[str], mated, images, scores=None
    ) -> Protocol:
        keys = sorted(set(a) | set(b))
        position = {k: i for i, k in enumerate(keys)}
        ia = np.fromiter((position[k] for k in a), dtype=np.int64, count=len(a))
        ib = np.fromiter((position[k] for k in b), dtype=np.int64, count=len(b))
        return cls(name, source, _keys(keys), ia, ib, np.asarray(mated, dtype=bool), images, scores)

    def __len__(self) -> int:
        return len(self.mated)

    @property
    def a(self) -> np.ndarray:
        return self.keys[self.ia]

    @property
    def b(self) -> np.ndarray:
        return self.keys[self.ib]

    def subset(self, keep: np.ndarray) -> Protocol:
        """The pairs ``keep`` selects, with only the samples they still reference."""
        ia, ib = self.ia[keep], self.ib[keep]
        used, inverse = np.unique(np.concatenate([ia, ib]), return_inverse=True)
        return Protocol(
            self.name,
            self.source,
            self.keys[used],
            inverse[: len(ia)],
            inverse[len(ia) :],
            self.mated[keep],
            self.images,
            None if self.scores is None else self.scores[keep],
            self.notes,
        )


def _keys(values: list[str]) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def parse_mated(value: str, where: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InputFormatError(f"{where}: cannot read {value!r} as mated/non-mated (use 1/0, true/false, yes/no)")


# ---------------------------------------------------------------- pairs.txt (LFW View 2 style)


def read_pairs_txt(path: Path, image_root: Path | None = None, ext: str = ".jpg") -> Protocol:
    """LFW ``pairs.txt``: ``name i j`` (mated) and ``name1 i name2 j`` (non-mated) lines, images at
    ``<root>/<name>/<name>_<i:04d>.jpg``. A leading header line of one or two integers is skipped."""
    root = Path(image_root) if image_root else path.parent
    a, b, mated = [], [], []

    def image(name: str, number: str, line: int) -> str:
        try:
            idx = int(number)
        except ValueError:
            raise InputFormatError(f"{path}:{line}: image number {number!r} is not an integer") from None
        return os.path.normpath(os.path.abspath(root / name / f"{name}_{idx:04d}{ext}"))

    lines = _read_text(path).splitlines()
    for line_no, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if line_no == 1 and len(parts) <= 2 and all(p.isdigit() for p in parts):
            continue  # "10 300": folds and pairs per fold
        if len(parts) == 3:
            a.append(image(parts[0], parts[1], line_no))
            b.append(image(parts[0], parts[2], line_no))
            mated.append(True)
        elif len(parts) == 4:
            a.append(image(parts[0], parts[1], line_no))
            b.append(image(parts[2], parts[3], line_no))
            mated.append(False)
        else:
            raise InputFormatError(
                f"{path}:{line_no}: expected 'name i j' or 'name1 i name2 j', found {len(parts)} fields"
            )
    if not mated:
        raise InputFormatError(f"{path}: no pairs found")
    return Protocol.from_keys(path.stem, path, a, b, mated, FileImages())


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputFormatError(f"{path}: not a UTF-8 text file") from None


# ---------------------------------------------------------------- CSV files


def _open_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    text = _read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    reader.fieldnames = columns
    return columns, list(reader)


def _column(columns: list[str], names: tuple[str, ...]) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def read_pairs_csv(
    path: Path, *, score_column: str | None = None, image_root: Path | None = None, aligned: bool = False
) -> Protocol:
    """A CSV with ``path_a, path_b, mated`` (and optionally a score column). Relative paths are
    relative to ``image_root`` or else to the CSV's folder."""
    columns, rows = _open_csv(path)
    found = {role: _column(columns, names) for role, names in PAIR_COLUMNS.items()}
    missing = [PAIR_COLUMNS[r][0] for r, c in found.items() if c is None]
    if missing:
        raise InputFormatError(
            f"{path}: not a pairs CSV, missing columns {', '.join(missing)} (found {', '.join(columns) or 'none'})"
        )
    if score_column is not None and score_column not in columns:
        raise InputFormatError(f"{path}: no score column {score_column!r} (found {', '.join(columns)})")
    base = Path(image_root) if image_root else path.parent
    a, b, mated, scores = [], [], [], []
    for line, row in enumerate(rows, start=2):
        a.append(resolve_csv_path(row[found["a"]] or "", base))
        b.append(resolve_csv_path(row[found["b"]] or "", base))
        mated.append(parse_mated(row[found["mated"]] or "", f"{path}:{line}"))
        if score_column is not None:
            cell = (row[score_column] or "").strip()
            try:
                scores.append(float(cell) if cell else np.nan)
            except ValueError:
                raise InputFormatError(f"{path}:{line}: score {cell!r} is not a number") from None
    if not mated:
        raise InputFormatError(f"{path}: no pairs found")
    scores_array = np.array(scores, dtype=np.float64) if score_column is not None else None
    return Protocol.from_keys(path.stem, path, a, b, mated, FileImages(aligned), scores_array)


def read_identity_csv(
    path: Path, *, image_root: Path | None = None, group_column: str | None = None
) -> tuple[list[str], list[str], list[str] | None]:
    """``path, identity`` rows (plus an optional group column) -> keys, identities, groups."""
    columns, rows = _open_csv(path)
    path_col, id_col = _column(columns, ("path",)), _column(columns, ("identity", "id", "label", "subject"))
    if path_col is None or id_col is None:
        raise InputFormatError(
            f"{path}: an identity CSV needs columns path and identity (found {', '.join(columns)})"
        )
    if group_column is not None and group_column not in columns:
        raise InputFormatError(
            f"{path}: no column {group_column!r} for --nonmated-within (found {', '.join(columns)})"
        )
    base = Path(image_root) if image_root else path.parent
    keys = [resolve_csv_path(r[path_col] or "", base) for r in rows]
    ids = [(r[id_col] or "").strip() for r in rows]
    if any(not i for i in ids):
        line = 2 + next(i for i, v in enumerate(ids) if not v)
        raise InputFormatError(f"{path}:{line}: empty identity")
    groups = [(r[group_column] or "").strip() for r in rows] if group_column else None
    first: dict[str, int] = {}
    for k, key in enumerate(keys):
        if key in first and ids[first[key]] != ids[k]:
            raise InputFormatError(f"{path}: {key} is listed as both {ids[first[key]]!r} and {ids[k]!r}")
        first.setdefault(key, k)
    if len(first) < len(keys):  # the same image listed twice: keep it once
        rows_kept = sorted(first.values())
        keys, ids = [keys[k] for k in rows_kept], [ids[k] for k in rows_kept]
        groups = [groups[k] for k in rows_kept] if groups else None
    return keys, ids, groups


def read_identity_folder(folder: Path) -> tuple[list[str], list[str]]:
    """Images in ``folder/<identity>/...``: the first sub-folder names the identity."""
    from aikd_cli.images.discover import iter_inputs

    keys, ids = [], []
    for item in iter_inputs([folder]):
        if item.duplicate_of or item.problem:
            continue
        rel = Path(os.path.relpath(item.path, folder))
        if len(rel.parts) < 2:
            continue  # an image directly in the root has no identity folder
        keys.append(os.path.normpath(os.path.abspath(item.path)))
        ids.append(rel.parts[0])
    if not keys:
        raise InputFormatError(
            f"{folder}: no images in identity sub-folders (expected <folder>/<identity>/<image>)"
        )
    return keys, ids


def identity_pairs(
    keys: list[str],
    identities: list[str],
    *,
    groups: list[str] | None = None,
    max_nonmated: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """All mated pairs, and the non-mated pairs (only within a group when ``groups`` is given),
    subsampled uniformly with ``seed`` to ``max_nonmated``. Returns index arrays ``i < j``, the
    mated flags and notes saying what was sampled."""
    order = np.argsort(np.asarray(keys, dtype=object), kind="stable")
    _, ident = np.unique(np.asarray(identities, dtype=object)[order], return_inverse=True)
    grp = np.zeros(len(keys), dtype=np.int64)
    if groups is not None:
        _, grp = np.unique(np.asarray(groups, dtype=object)[order], return_inverse=True)
    notes: list[str] = []
    # mated: every pair inside each identity
    by_id = np.argsort(ident, kind="stable")
    bounds = np.flatnonzero(np.diff(ident[by_id])) + 1
    mi, mj = [], []
    for members in np.split(by_id, bounds):
        if len(members) > 1:
            r, c = np.triu_indices(len(members), 1)
            mi.append(members[r])
            mj.append(members[c])
    mi = np.concatenate(mi) if mi else np.zeros(0, np.int64)
    mj = np.concatenate(mj) if mj else np.zeros(0, np.int64)
    ni, nj, total = _nonmated_pairs(ident, grp, max_nonmated, np.random.default_rng(seed))
    if total > len(ni):
        notes.append(f"non-mated pairs: {len(ni):,} sampled (seed {seed}) of {total:,}")
    i = np.concatenate([mi, ni])
    j = np.concatenate([mj, nj])
    mated = np.concatenate([np.ones(len(mi), bool), np.zeros(len(ni), bool)])
    return order[i], order[j], mated, notes


def _nonmated_pairs(
    ident: np.ndarray, grp: np.ndarray, limit: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int]:
    """Non-mated index pairs within groups: enumerated when feasible, else sampled uniformly."""
    by_grp = np.argsort(grp, kind="stable")
    starts = np.concatenate(([0], np.flatnonzero(np.diff(grp[by_grp])) + 1))
    sizes = np.diff(np.append(starts, len(grp)))
    candidates = int((sizes * (sizes - 1) // 2).sum())
    if candidates <= ENUMERATE_LIMIT:
        parts_i, parts_j = [], []
        for start, size in zip(starts, sizes, strict=True):
            m = by_grp[start : start + size]
            r, c = np.triu_indices(size, 1)
            keep = ident[m[r]] != ident[m[c]]
            parts_i.append(m[r][keep])
            parts_j.append(m[c][keep])
        i, j = np.concatenate(parts_i), np.concatenate(parts_j)
        total = len(i)
        if limit is not None and total > limit:
            pick = np.sort(rng.choice(total, size=limit, replace=False))
            i, j = i[pick], j[pick]
        return i, j, total
    if limit is None:
        raise InputFormatError(
            f"{candidates:,} candidate pairs are too many to enumerate",
            hint="set --max-nonmated to sample non-mated pairs",
        )
    same_id = np.bincount(ident)
    total = candidates - int((same_id * (same_id - 1) // 2).sum())  # identities never span groups
    want = min(limit, total)
    weights = sizes * (sizes - 1) / 2 / candidates
    n = len(ident)
    codes = np.zeros(0, dtype=np.int64)
    while len(codes) < want:  # uniform over within-group pairs, then reject the mated ones
        draw = max(2 * (want - len(codes)), 1024)
        g = rng.choice(len(sizes), size=draw, p=weights)
        x = (rng.random(draw) * sizes[g]).astype(np.int64)
        y = (rng.random(draw) * (sizes[g] - 1)).astype(np.int64)
        y += y >= x  # a second, distinct member
        gi, gj = by_grp[starts[g] + x], by_grp[starts[g] + y]
        lo, hi = np.minimum(gi, gj), np.maximum(gi, gj)
        ok = ident[lo] != ident[hi]
        codes = np.unique(np.concatenate([codes, lo[ok] * n + hi[ok]]))
    codes = np.sort(rng.permutation(codes)[:want])
    return codes // n, codes % n, total


def read_identities(
    path: Path,
    *,
    image_root: Path | None = None,
    group_column: str | None = None,
    max_nonmated: int | None = None,
    seed: int = 0,
    aligned: bool = False,
) -> Protocol:
    """All-pairs protocol from an identity CSV or an ``<identity>/<image>`` folder."""
    if path.is_dir():
        if group_column:
            raise InputFormatError(f"{path}: --nonmated-within needs an identity CSV, not a folder")
        keys, ids = read_identity_folder(path)
        groups = None
    else:
        keys, ids, groups = read_identity_csv(path, image_root=image_root, group_column=group_column)
    if groups is not None:
        spans = Counter(i for i, _ in set(zip(ids, groups, strict=True)))
        split = [i for i, c in spans.items() if c > 1]
        if split:
            raise InputFormatError(
                f"{path}: identity {split[0]!r} appears in several --nonmated-within groups"
            )
    i, j, mated, notes = identity_pairs(keys, ids, groups=groups, max_nonmated=max_nonmated, seed=seed)
    name = path.name if path.is_dir() else path.stem
    return Protocol(name, path, _keys(keys), i, j, mated, FileImages(aligned), None, notes)


# ---------------------------------------------------------------- insightface .bin


class _BinUnpickler(pickle.Unpickler):
    """Rebuilds only what a validation ``.bin`` holds: lists/tuples of bytes, bools and uint8 arrays.

    Any other global (a function a malicious pickle would call) is refused before it is looked up.
    """

    ALLOWED = {
        ("_codecs", "encode"),  # how protocol-2 pickles from Python 3 store bytes
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_bin(path: Path, *, name: str | None = None) -> Protocol:
    """An insightface validation file: a pickled ``(encoded images, is_same list)``, images in
    pair order (2i, 2i+1), already aligned to 112x112."""
    try:
        with open(path, "rb") as f:
            obj = _BinUnpickler(f, encoding="bytes").load()
    except OSError as exc:
        raise InputFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except pickle.UnpicklingError as exc:
        raise InputFormatError(
            f"{path}: not a face-verification .bin ({exc}); only encoded images and is-same flags are accepted"
        ) from None
    except Exception as exc:  # truncated or garbage data
        raise InputFormatError(f"{path}: not a readable .bin pickle ({type(exc).__name__}: {exc})") from None
    if not (isinstance(obj, (tuple, list)) and len(obj) == 2):
        raise InputFormatError(
            f"{path}: expected a pickled (images, is_same) pair, found {type(obj).__name__}"
        )
    images, issame = obj
    images = list(images) if isinstance(images, (list, tuple)) else None
    if images is None or not all(isinstance(x, (bytes, bytearray, np.ndarray)) for x in images):
        raise InputFormatError(f"{path}: the first element must be a list of encoded images (bytes)")
    if isinstance(issame, np.ndarray):
        issame = issame.tolist()
    if not isinstance(issame, (list, tuple)) or not all(
        isinstance(v, (bool, int, np.bool_, np.integer)) for v in issame
    ):
        raise InputFormatError(f"{path}: the second element must be a list of is-same flags")
    if len(images) != 2 * len(issame):
        raise InputFormatError(
            f"{path}: {len(images)} images for {len(issame)} pairs (expected two per pair)"
        )
    if not issame:
        raise InputFormatError(f"{path}: no pairs found")
    source = BinImages(os.path.normpath(os.path.abspath(path)), images)
    keys = _keys([source.key(i) for i in range(len(images))])
    pairs = np.arange(len(issame), dtype=np.int64)
    return Protocol(
        name or path.stem, path, keys, 2 * pairs, 2 * pairs + 1, np.array([bool(v) for v in issame]), source
    )


# ---------------------------------------------------------------- dispatch and clean-up


def open_protocol(
    path: Path,
    *,
    name: str | None = None,
    identities: bool = False,
    score_column: str | None = None,
    image_root: Path | None = None,
    aligned: bool = False,
    group_column: str | None = None,
    max_nonmated: int | None = None,
    seed: int = 0,
) -> Protocol:
    """Read any supported protocol, choosing the reader from the file itself."""
    path = Path(path)
    if not path.exists():
        raise InputFormatError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if not (path.is_dir() or identities) and suffix == ".csv":
        columns, _ = _open_csv(path)
        identities = _column(columns, PAIR_COLUMNS["a"]) is None and _column(columns, ("identity",)) is not None
    if path.is_dir() or identities:
        protocol = read_identities(
            path,
            image_root=image_root,
            group_column=group_column,
            max_nonmated=max_nonmated,
            seed=seed,
            aligned=aligned,
        )
    elif suffix == ".bin":
        protocol = read_bin(path)
    elif suffix == ".csv":
        protocol = read_pairs_csv(path, score_column=score_column, image_root=image_root, aligned=aligned)
    elif suffix == ".txt":
        protocol = read_pairs_txt(path, image_root)
    else:
        raise InputFormatError(
            f"{path}: unknown protocol format",
            hint="use a pairs.txt, a pairs CSV (path_a, path_b, mated), an insightface .bin, or an identity CSV/folder",
        )
    if score_column is not None and protocol.scores is None:
        raise InputFormatError(f"{path}: --score-column needs a pairs CSV that holds the scores")
    if name:
        protocol.name = name
    return protocol


def drop_bad_pairs(protocol: Protocol) -> tuple[Protocol, Counter]:
    """Remove self-comparisons, repeated pairs (either order; the first is kept) and pairs listed
    with contradicting labels (all copies). Returns the clean protocol and counts by reason."""
    issues: Counter = Counter()
    n = len(protocol)
    if n == 0:
        return protocol, issues
    ia, ib = protocol.ia, protocol.ib
    self_pair = ia == ib
    code = np.minimum(ia, ib) * len(protocol.keys) + np.maximum(ia, ib)
    _, first, group, counts = np.unique(code, return_index=True, return_inverse=True, return_counts=True)
    labels_sum = np.bincount(group, weights=protocol.mated.astype(np.float64))
    conflicting = ((labels_sum > 0) & (labels_sum < counts))[group]
    is_first = np.zeros(n, bool)
    is_first[first] = True
    duplicate = ~is_first & ~conflicting
    issues["self-comparison (same sample twice)"] = int(self_pair.sum())
    issues["duplicate pair"] = int((duplicate & ~self_pair).sum())
    issues["pair listed as both mated and non-mated"] = int((conflicting & ~self_pair).sum())
    keep = ~self_pair & ~duplicate & ~conflicting
    return protocol.subset(keep), +issues
