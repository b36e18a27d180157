"""insightface validation ``.bin`` files: pickled ``(encoded images, is_same flags)``, read with a
restricted unpickler that refuses any code."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from aikd_cli.errors import InputFormatError
from aikd_cli.tasks.evaluate import tabular
from aikd_cli.tasks.evaluate.protocols.base import BinImages, Protocol, contiguous_folds


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
    flags = _flags(issame)
    if flags is None:
        raise InputFormatError(f"{path}: the second element must be a list of is-same flags")
    if len(images) != 2 * len(flags):
        raise InputFormatError(f"{path}: {len(images)} images for {len(flags)} pairs (expected two per pair)")
    if not len(flags):
        raise InputFormatError(f"{path}: no pairs found")
    source = BinImages(os.path.normpath(os.path.abspath(path)), images)
    keys = tabular.object_array([source.key(i) for i in range(len(images))])
    pairs = np.arange(len(flags), dtype=np.int32)
    folds = contiguous_folds(len(flags)) if len(flags) >= 10 else None
    return Protocol(name or path.stem, path, keys, 2 * pairs, 2 * pairs + 1, flags, source, folds=folds)


def _flags(issame) -> np.ndarray | None:
    """The is-same flags as a bool array (an array is checked by its dtype, not per pair), or
    ``None`` when they are not flags."""
    if isinstance(issame, np.ndarray):
        return issame.astype(bool) if issame.ndim == 1 and issame.dtype.kind in "bui" else None
    flag = (bool, int, np.bool_, np.integer)
    if isinstance(issame, (list, tuple)) and all(isinstance(v, flag) for v in issame):
        return np.array(issame, dtype=bool).reshape(-1)
    return None
