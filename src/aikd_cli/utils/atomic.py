"""Files and folders that appear whole or not at all.

Long jobs get killed; readers (other tools, a browser, a resumed run) must never see half a CSV,
half a checkpoint or half an export. Everything aikd writes goes through these helpers: a temporary
name in the same folder, fsync, then an atomic rename. Unlike ``mkstemp``'s owner-only files, the
result gets ordinary permissions (0666 minus the umask), since outputs are meant to be shared.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", *, encoding: str | None = "utf-8",
                newline: str | None = None) -> Iterator[IO]:
    """``open(path, mode)`` whose result replaces ``path`` only when the block ends without error."""
    path = Path(path)
    binary = "b" in mode
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if binary else {"encoding": encoding, "newline": newline})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not exc.filename:  # e.g. a full disk: say which file
            exc.filename = str(path)
        raise


def atomic_write(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return Path(path)


def replace_dir(new: str | os.PathLike, target: str | os.PathLike) -> None:
    """Put the finished folder ``new`` at ``target``; an existing ``target`` is moved aside first
    and deleted only once the new one is in place."""
    new, target = Path(new), Path(target)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class StagedFiles:
    """Files written under a hidden folder inside ``folder``, then moved into place together.

    A run that crashes leaves ``folder``'s earlier files as they were (the staged ones stay behind,
    for a ``--resume`` to adopt, or for the next run to remove); :meth:`publish` renames each staged
    file over its final name (same file system: no copies). Only one run may use a folder at a time
    (see :mod:`aikd_cli.utils.outputs`), so whatever staging folder is found there is a leftover.
    """

    NAME = ".aikd-partial"

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.path = self.folder / self.NAME

    def leftover(self) -> bool:
        return self.path.is_dir()

    def start(self) -> Path:
        """A fresh, empty staging folder (a leftover is removed)."""
        self.discard()
        self.path.mkdir(parents=True)
        return self.path

    def publish(self, skip: frozenset[str] | set[str] = frozenset()) -> int:
        """Move every staged file into place (but those whose relative name is in ``skip``, which
        are dropped); returns how many were moved."""
        moved = 0
        for root, _, files in os.walk(self.path):
            for name in files:
                source = Path(root, name)
                relative = source.relative_to(self.path).as_posix()
                if relative in skip:
                    continue
                target = self.folder / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
                moved += 1
        self.discard()
        return moved

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
