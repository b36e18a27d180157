"""Turn the paths a user typed into an ordered, de-duplicated list of image files."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from aikd_cli.errors import AikdError

#: What counts as an image when a folder is walked (files named explicitly are read whatever they are).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pnm"}
)


@dataclass(frozen=True)
class InputItem:
    """One input. ``duplicate_of`` is set when the same file was already listed; ``problem`` when
    it is a folder that could not be read (its images are unknown, so the run records it)."""

    path: str
    duplicate_of: str | None = None
    problem: str | None = None


def _walk(folder: str, recursive: bool, follow_links: bool, visited: set[tuple[int, int]]) -> Iterator[InputItem]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        yield InputItem(folder, problem=f"cannot read folder ({exc.strerror or exc})")
        return
    subdirs = []
    for entry in entries:
        image = os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS
        try:
            if entry.is_dir(follow_symlinks=False) or (follow_links and entry.is_dir()):
                subdirs.append(entry.path)
            elif image and not entry.is_dir():
                yield InputItem(entry.path)
        except OSError:  # its kind cannot be read (a link to itself): an image by name still gets its row
            if image:
                yield InputItem(entry.path)
    if not recursive:
        return
    for sub in subdirs:
        try:
            st = os.stat(sub)
        except OSError as exc:
            yield InputItem(sub, problem=f"cannot read folder ({exc.strerror or exc})")
            continue
        if (st.st_dev, st.st_ino) in visited:  # a link back into a folder already walked
            continue
        visited.add((st.st_dev, st.st_ino))
        yield from _walk(sub, recursive, follow_links, visited)


def check_inputs(paths: Iterable[str | Path]) -> None:
    """Every input path exists (a missing one is almost always a typo): one line naming it."""
    for given in map(str, paths):
        if not os.path.lexists(given):
            raise AikdError(f"{given}: no such file or folder", hint="check the path (inputs are images or folders)")


def iter_inputs(
    paths: Iterable[str | Path], *, recursive: bool = True, follow_links: bool = False
) -> Iterator[InputItem]:
    """Yield image files from files and folders, in a stable order.

    Folders are walked (sorted, recursively unless told otherwise) for files with an image
    extension. Symbolic links to folders are not followed unless ``follow_links`` (then each
    folder is walked once, so link loops end). Files named explicitly are always yielded, whatever
    their extension. A path that does not exist is an error: it is almost always a typo. The same
    file reached twice is yielded again with ``duplicate_of`` set.
    """
    seen: dict[str, str] = {}
    for given in paths:
        given = str(given)
        check_inputs([given])
        if os.path.isdir(given):
            st = os.stat(given)
            candidates = _walk(given, recursive, follow_links, {(st.st_dev, st.st_ino)})
        else:
            candidates = iter([InputItem(given)])
        for item in candidates:
            if item.problem:
                yield item
                continue
            key = os.path.normcase(os.path.realpath(item.path))
            if key in seen:
                yield InputItem(item.path, duplicate_of=seen[key])
            else:
                seen[key] = item.path
                yield item
