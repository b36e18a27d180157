"""Precomputed embeddings and comparison scores from embeddings (numpy only)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from aikd_cli.errors import InputFormatError
from aikd_cli.utils.csvfiles import resolve_csv_paths


def read_embeddings(path: Path) -> dict[str, np.ndarray]:
    """Precomputed embeddings by sample key.

    * ``.safetensors``: one 1-D tensor per sample, named by its path; or one 2-D tensor
      ``embeddings`` with the paths as a JSON list in the metadata key ``paths``.
    * ``.npz``: arrays ``paths`` (strings) and ``embeddings`` (N, D).
    * ``.npy``: an (N, D) array, with the N paths one per line in ``<same name>.txt``.

    Relative paths are relative to the embedding file's folder.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(f"{path}: no such embedding file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                names = list(f.keys())
                if names == ["embeddings"] and "paths" in meta:
                    paths, matrix = json.loads(meta["paths"]), f.get_tensor("embeddings")
                else:
                    paths = names
                    matrix = (
                        np.stack([f.get_tensor(k).reshape(-1) for k in names]) if names else np.zeros((0, 0))
                    )
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                if "paths" not in data or "embeddings" not in data:
                    raise InputFormatError(
                        f"{path}: an .npz of embeddings needs arrays 'paths' and 'embeddings'"
                    )
                paths, matrix = data["paths"].astype(str).tolist(), data["embeddings"]
        elif suffix == ".npy":
            listing = path.with_suffix(".txt")
            if not listing.is_file():
                raise InputFormatError(
                    f"{path}: an .npy of embeddings needs its sample paths in {listing.name}"
                )
            matrix = np.load(path, allow_pickle=False)
            paths = [
                line.strip() for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()
            ]
        else:
            raise InputFormatError(f"{path}: embeddings must be .safetensors, .npz or .npy")
    except InputFormatError:
        raise
    except Exception as exc:
        raise InputFormatError(f"{path}: cannot read embeddings ({type(exc).__name__}: {exc})") from None
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or len(matrix) != len(paths):
        raise InputFormatError(
            f"{path}: {len(paths)} sample paths for an embedding array of shape {matrix.shape}"
        )
    return dict(zip(resolve_csv_paths(paths, path.parent), matrix, strict=True))


def cosine_scores(embeddings: np.ndarray, ia: np.ndarray, ib: np.ndarray, chunk: int = 1 << 18) -> np.ndarray:
    """Cosine similarity of pairs ``(ia[k], ib[k])`` of rows, in chunks (millions of pairs, any width)."""
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit = embeddings / np.where(norms > 0, norms, 1.0)
    out = np.empty(len(ia), dtype=np.float64)
    for start in range(0, len(ia), chunk):
        a, b = unit[ia[start : start + chunk]], unit[ib[start : start + chunk]]
        out[start : start + chunk] = np.einsum("ij,ij->i", a, b, dtype=np.float64)
    return out


def is_normalised(embeddings: np.ndarray) -> bool:
    """Whether stored embeddings were already L2-normalised (then their norm carries no quality)."""
    norms = np.linalg.norm(embeddings[np.isfinite(embeddings).all(axis=1)], axis=1)
    return (
        len(norms) == 0 or bool(np.allclose(norms, 1.0, atol=1e-3)) or math.isclose(float(norms.std()), 0.0)
    )
