"""What every protocol reader returns: a :class:`Protocol` (samples, int32 pair indices, labels)
and where its images come from; plus the clean-up of bad pairs."""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aikd_cli.errors import ImageError
from aikd_cli.tasks.evaluate.tabular import object_array


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
    ``scores`` holds given comparison scores (or ``None``). Pairs are int32 indices: ten million
    pairs take 80 MB, not ten million Python objects."""

    name: str
    source: Path
    keys: np.ndarray  # (S,) object array of distinct sample keys
    ia: np.ndarray  # (P,) int32
    ib: np.ndarray  # (P,) int32
    mated: np.ndarray  # (P,) bool
    images: FileImages | BinImages
    scores: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    folds: np.ndarray | None = None  # (P,) fold of each pair: verification protocols (LFW pairs.txt, .bin)

    @classmethod
    def from_keys(
        cls, name: str, source: Path, a: Sequence[str], b: Sequence[str], mated, images, scores=None
    ) -> Protocol:
        """From the two sample keys of each pair (a small, hand-made protocol)."""
        keys, inverse = np.unique(object_array([*a, *b]), return_inverse=True)
        inverse = inverse.astype(np.int32)
        return cls(
            name,
            source,
            keys,
            inverse[: len(a)],
            inverse[len(a) :],
            np.asarray(mated, dtype=bool),
            images,
            scores,
        )

    def __len__(self) -> int:
        return len(self.mated)

    @property
    def a(self) -> np.ndarray:
        return self.keys[self.ia]

    @property
    def b(self) -> np.ndarray:
        return self.keys[self.ib]

    def subset(self, keep: np.ndarray) -> Protocol:
        """The pairs ``keep`` selects, with only the samples they still reference (in their order)."""
        ia, ib = self.ia[keep], self.ib[keep]
        used = np.zeros(len(self.keys), bool)
        used[ia] = True
        used[ib] = True
        new_index = (np.cumsum(used) - 1).astype(np.int32)
        return Protocol(
            self.name,
            self.source,
            self.keys[used],
            new_index[ia],
            new_index[ib],
            self.mated[keep],
            self.images,
            None if self.scores is None else self.scores[keep],
            self.notes,
            None if self.folds is None else self.folds[keep],
        )


def contiguous_folds(pairs: int, folds: int = 10) -> np.ndarray:
    """The fold of each pair when a verification protocol lists its folds one after another (LFW's
    pairs.txt, insightface's .bin read by its ``KFold(10, shuffle=False)``)."""
    out = np.empty(pairs, dtype=np.int16)
    for k, part in enumerate(np.array_split(np.arange(pairs), folds)):
        out[part] = k
    return out


def drop_bad_pairs(protocol: Protocol) -> tuple[Protocol, Counter]:
    """Remove self-comparisons, repeated pairs (either order; the first is kept) and pairs listed
    with contradicting labels (all copies). Returns the clean protocol and counts by reason."""
    issues: Counter = Counter()
    n = len(protocol)
    if n == 0:
        return protocol, issues
    ia, ib = protocol.ia, protocol.ib
    self_pair = ia == ib
    code = np.minimum(ia, ib).astype(np.int64) * len(protocol.keys)  # unordered pair -> one int64
    code += np.maximum(ia, ib)
    duplicate, conflicting = np.zeros(n, bool), np.zeros(n, bool)
    rows = _repeated(code)  # only pairs listed more than once can be duplicates or conflicts
    _, first, group, counts = np.unique(
        code[rows], return_index=True, return_inverse=True, return_counts=True
    )
    labels_sum = np.bincount(group, weights=protocol.mated[rows].astype(np.float64))
    conflicting[rows] = ((labels_sum > 0) & (labels_sum < counts))[group]
    duplicate[rows] = True
    duplicate[rows[first]] = False
    duplicate &= ~conflicting
    issues["self-comparison (same sample twice)"] = int(self_pair.sum())
    issues["duplicate pair"] = int((duplicate & ~self_pair).sum())
    issues["pair listed as both mated and non-mated"] = int((conflicting & ~self_pair).sum())
    keep = ~self_pair & ~duplicate & ~conflicting
    return protocol.subset(keep), +issues


def _repeated(codes: np.ndarray) -> np.ndarray:
    """The rows (ascending) whose code appears more than once.

    Each code is packed with its row number into one int64 and the lot sorted with numpy's SIMD
    sort: equal codes end up adjacent, in row order. That is ten times faster than the stable
    argsort inside ``np.unique(..., return_index=True)`` on ten million codes.
    """
    n = len(codes)
    shift = max(n - 1, 1).bit_length()
    if n and int(codes.max()) < 1 << (62 - shift):
        packed = np.sort((codes << shift) | np.arange(n))
        ranked, rows = packed >> shift, packed & ((1 << shift) - 1)
    else:  # no room beside the code for the row number
        rows = np.argsort(codes)
        ranked = codes[rows]
    same = ranked[1:] == ranked[:-1]
    repeated = np.zeros(n, bool)
    repeated[1:] |= same
    repeated[:-1] |= same
    return np.sort(rows[repeated])
