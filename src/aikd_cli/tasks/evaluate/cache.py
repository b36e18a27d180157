"""On-disk cache of per-sample model outputs, so a second evaluation (other quality files, other
limits) does not run the face-recognition model again.

One folder per (model weights, run settings, variant); inside, ``.npz`` shards of ``keys`` (sha1
of the sample's path, size, mtime and landmarks) and ``values`` (one float32 row per sample).
Shards are written atomically as batches finish, so an interrupted run keeps what it computed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
from pathlib import Path

import numpy as np

from aikd_cli.utils.atomic import atomic_write

#: Bump when the meaning of cached values changes.
CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``$AIKD_CACHE_DIR``, else ``$XDG_CACHE_HOME/aikd``, else ``~/.cache/aikd``; plus ``/outputs``."""
    root = os.environ.get("AIKD_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "aikd"
    )
    return Path(root) / "outputs"


def digest(*parts: object) -> str:
    return hashlib.sha1("|".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def file_identity(path: str | Path) -> str:
    """Cheap identity of a file's content: resolved path, size and modification time."""
    st = os.stat(path)
    return f"{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}"


class OutputCache:
    """Rows of float32 values by sample key, for one model and variant."""

    def __init__(self, folder: Path, description: dict, flush_every: int = 4096) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        info = self.folder / "info.json"
        if not info.exists():
            atomic_write(
                info, json.dumps({**description, "cache_version": CACHE_VERSION}, indent=1).encode()
            )
        self.flush_every = flush_every
        self.rows: dict[str, np.ndarray] = {}
        for shard in sorted(self.folder.glob("shard-*.npz")):
            try:
                with np.load(shard, allow_pickle=False) as data:
                    for key, row in zip(data["keys"].tolist(), data["values"], strict=True):
                        self.rows[key] = row
            except (OSError, ValueError, KeyError):
                shard.unlink(missing_ok=True)  # a damaged shard is recomputed, never trusted
        self._pending: dict[str, np.ndarray] = {}

    @classmethod
    def open(cls, root: Path, *parts: object, description: dict | None = None) -> OutputCache:
        return cls(
            Path(root) / digest(CACHE_VERSION, *parts)[:20], description or {"parts": [str(p) for p in parts]}
        )

    def get(self, key: str) -> np.ndarray | None:
        return self.rows.get(key)

    def put(self, key: str, values: np.ndarray) -> None:
        row = np.asarray(values, dtype=np.float32).reshape(-1)
        self.rows[key] = row
        self._pending[key] = row
        if len(self._pending) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        keys = np.array(list(self._pending), dtype="U40")
        values = np.stack(list(self._pending.values()))
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, keys=keys, values=values)
        os.replace(tmp, self.folder / f"shard-{uuid.uuid4().hex}.npz")
        self._pending.clear()


