"""Turn the paths a user typed into an ordered, de-duplicated list of image files."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from aikd_cli.images.decode import IMAGE_EXTENSIONS


@dataclass(frozen=True)
class InputItem:
    """One input file; ``duplicate_of`` is set when the same file was already listed."""

    path: str
    duplicate_of: str | None = None


def _walk(folder: str, recursive: bool) -> Iterator[str]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    subdirs = []
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=True):
                subdirs.append(entry.path)
            elif os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
                yield entry.path
        except OSError:
            continue
    if recursive:
        for sub in subdirs:
            yield from _walk(sub, recursive)


def iter_inputs(paths: Iterable[str | Path], *, recursive: bool = True) -> Iterator[InputItem]:
    """Yield image files from files and folders, in a stable order.

    Folders are walked (sorted, recursively unless told otherwise) for files with an image
    extension. Files named explicitly are always yielded, whatever their extension, as are paths
    that do not exist: the caller records why they cannot be read rather than losing them.
    The same file reached twice is yielded again with ``duplicate_of`` set.
    """
    seen: dict[str, str] = {}
    for given in paths:
        given = str(given)
        candidates = _walk(given, recursive) if os.path.isdir(given) else iter([given])
        for path in candidates:
            key = os.path.normcase(os.path.realpath(path))
            if key in seen:
                yield InputItem(path, duplicate_of=seen[key])
            else:
                seen[key] = path
                yield InputItem(path)
