"""Where a command may write, checked before any work and held by one run at a time.

Every command describes its outputs (:class:`Output`) and names what it reads; :func:`guard_outputs`
refuses, with one line, an output that would replace one of its inputs, that exists as the wrong
kind (a folder where a file is written, or the reverse, or a device, pipe or socket), whose parent
is a file, whose folder cannot be written, or that two options name -- before a model is loaded.
It then takes an advisory lock on each output (a hidden ``.NAME.lock`` file beside it, removed when
the run ends; ``flock`` through :mod:`filelock`, so the kernel releases it when the process dies),
so a second run on the same output stops at once and says which process holds it, instead of two
runs interleaving into one file. :func:`check_listed` refuses the same way an output that would
replace a file the command's input CSVs list (a manifest's images), once they are read.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from aikd_cli.errors import AikdError
from aikd_cli.images.discover import IMAGE_EXTENSIONS


@dataclass(frozen=True)
class Output:
    """One output of a command.

    ``folder``: a folder (else a file). ``whole``: the folder is replaced as a whole (so no input may
    lie inside it). ``mirror``: the folder receives files named after the inputs (crops), so it must
    not be an input folder itself. ``names``: files or sub-folders the command writes inside a
    folder output, each of which must not hold an input.
    """

    path: Path
    option: str = "--output"
    folder: bool = False
    whole: bool = False
    mirror: bool = False
    names: tuple[str, ...] = ()
    lock: bool = True  # False: part of another output, whose lock covers it


def _real(path: str | os.PathLike) -> str:
    return os.path.normcase(os.path.realpath(os.path.expanduser(str(path))))


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (both real, normalised paths)."""
    return path == folder or path.startswith(os.path.join(folder, ""))


def local_paths(*refs: str | os.PathLike | None) -> list[str]:
    """The references that name existing local files or folders (registry names, ``hf://``
    addresses and ``None`` are left out): the inputs an output is checked against."""
    found = []
    for ref in refs:
        if ref is None or str(ref).startswith("hf://") or str(ref) == "":
            continue
        if os.path.exists(os.path.expanduser(str(ref))):
            found.append(str(ref))
    return found


def _kind(out: Output) -> None:
    """The output, if it exists, is of the right kind, and its first existing ancestor is a folder."""
    path = Path(os.path.expanduser(out.path))
    if path.exists() or path.is_symlink():
        if out.folder and not path.is_dir():
            raise AikdError(f"{out.path}: {out.option} must be a folder, but this is a file",
                            hint=f"choose another {out.option}, or move the file away")
        if not out.folder and path.is_dir():
            raise AikdError(f"{out.path}: {out.option} must be a file, but this is a folder",
                            hint=f"name a file inside it, e.g. {path / 'out'}{_suffix(out)}")
        if path.exists() and not out.folder and not stat.S_ISREG(path.stat().st_mode):
            # written by a rename, which would replace the node itself (as root, even /dev/null)
            raise AikdError(f"{out.path}: {out.option} must be a regular file or a new path, but this is a "
                            f"{_node_kind(path.stat().st_mode)}", hint=f"name a file for {out.option}")
        return
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise AikdError(f"{out.path}: cannot create {out.option}: {parent} is a file, not a folder")


def _suffix(out: Output) -> str:
    return Path(out.path).suffix


def _node_kind(mode: int) -> str:
    for test, name in ((stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISFIFO, "named pipe"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


def _writable(out: Output) -> None:
    """The folder the output is written into (the output itself for an existing folder that is
    filled in place) accepts new files."""
    path = Path(os.path.expanduser(out.path)).absolute()
    target = path if out.folder and not out.whole and path.is_dir() else path.parent
    while not target.exists() and target != target.parent:
        target = target.parent
    if not os.access(target, os.W_OK | os.X_OK):
        raise AikdError(f"{out.path}: cannot write {out.option}: {target} is not writable",
                        hint="choose a folder you can write to")


def _collision(out: Output, inputs: Sequence[str]) -> str | None:
    """The input ``out`` would replace, if any."""
    target = _real(out.path)
    for given in inputs:
        source = _real(given)
        is_dir = os.path.isdir(source)
        if not out.folder:
            if target == source or _same_file(target, source):
                return given
            if is_dir and _inside(target, source) and os.path.isfile(target) and _is_image(target):
                return target  # an image the walk of that folder reads
            continue
        if out.whole and _inside(source, target):
            return given
        if out.mirror and is_dir and target == source:
            return given
        if out.mirror and is_dir and _inside(target, source):
            raise AikdError(f"{out.path}: {out.option} is inside the input folder {given}: its crops would be "
                            "inputs of the next run over that folder",
                            hint=f"write the crops to a folder outside the inputs with {out.option}")
        for name in out.names:
            if _inside(source, os.path.join(target, name)):
                return given
    return None


def _same_file(a: str, b: str) -> bool:
    """Two names of one file (a hard link), where both exist."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _is_image(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def _replaced(out: Output) -> Iterator[tuple[int, int]]:
    """``(device, inode)`` of every existing file that writing ``out`` may replace."""
    path = os.path.expanduser(str(out.path))
    for root in [path] if not out.folder or out.whole else [os.path.join(path, name) for name in out.names]:
        if os.path.isfile(root):
            yield _identity(root)
        elif os.path.isdir(root) and not os.path.islink(root):
            for folder, _, files in os.walk(root):
                for name in files:
                    with contextlib.suppress(OSError):
                        yield _identity(os.path.join(folder, name))


def _identity(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def check_listed(outputs: Sequence[Output], listed: Iterable[str]) -> None:
    """Refuse outputs that would replace a listed file (an image named in an input CSV). Files are
    compared by identity, so a million listed images cost one ``stat`` each, and none when no
    output exists yet."""
    listed = list(listed)
    victims = {key: out for out in outputs for key in _replaced(out)} if listed else {}
    if not victims:
        return
    for path in listed:
        with contextlib.suppress(OSError, ValueError):
            out = victims.get(_identity(path))
            if out is not None:
                raise AikdError(f"{out.path}: {out.option} would overwrite the input {path}",
                                hint=f"choose another {out.option}; aikd never replaces its inputs")


def check_outputs(outputs: Sequence[Output], inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse outputs that cannot or must not be written (see the module docstring)."""
    inputs = [str(p) for p in inputs]
    seen: dict[str, Output] = {}
    for out in outputs:
        _kind(out)
        victim = _collision(out, inputs)
        if victim is not None:
            raise AikdError(f"{out.path}: {out.option} would overwrite the input {victim}",
                            hint=f"choose another {out.option}; aikd never replaces its inputs")
        real = _real(out.path)
        if real in seen:
            raise AikdError(f"{out.path}: {out.option} and {seen[real].option} name the same path",
                            hint="give each output its own path")
        seen[real] = out
        _writable(out)


def check_mirror(folder: str | os.PathLike, option: str, pairs: Iterable[tuple[str, str]],
                 inputs: Iterable[str]) -> None:
    """Refuse a mirrored output (``(source, file name under folder)`` pairs, ``.png`` crops that may
    get a ``_<face>`` suffix) when a file it writes would be one of the ``inputs``."""
    taken: dict[str, str] = {}
    for given in inputs:
        real = _real(given)
        if real.endswith(".png"):
            stem = real[: -len(".png")]
            taken[stem] = given
            if (m := re.fullmatch(r"(.*)_\d+", stem)) is not None:
                taken.setdefault(m.group(1), given)
    if not taken:
        return
    base = _real(folder)
    for source, name in pairs:
        stem = os.path.normcase(os.path.normpath(os.path.join(base, name)))[: -len(".png")]
        if stem in taken:
            raise AikdError(f"{folder}: {option} would overwrite the input {taken[stem]} with the crop of {source}",
                            hint=f"write the crops to a folder outside the inputs with {option}")


def check_crop_targets(folder: str | os.PathLike, option: str, crops: Iterable[tuple[str, str]],
                       is_own: Callable[[str], bool], *, plain: bool = True, numbered: bool = False) -> None:
    """Refuse, before any work, a crop that would replace a file the command did not write.

    ``crops`` are ``(source, NAME.png)`` under ``folder``; the file written is ``NAME.png`` with
    ``plain`` and, with ``numbered``, ``NAME_<k>.png`` for any face ``k``; ``is_own(name)`` says
    whether an existing file (its name under ``folder``) is one the command wrote.
    """
    listings: dict[str, dict[str, list[str]]] = {}
    for source, name in crops:
        sub, file = os.path.split(name)
        if sub not in listings:
            listings[sub] = _crop_names(Path(folder) / sub, plain, numbered)
        for found in listings[sub].get(file[: -len(".png")], ()):
            taken = os.path.join(sub, found)
            if not is_own(taken):
                raise AikdError(f"{Path(folder) / taken}: {option} would overwrite this file, which aikd did not "
                                f"write, with the crop of {source}",
                                hint=f"choose another {option}, or move the file away")


def _crop_names(folder: Path, plain: bool, numbered: bool) -> dict[str, list[str]]:
    """Names of ``folder`` under the ``NAME`` of the crop they are (``NAME.png``, ``NAME_<k>.png``)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return {}
    found: dict[str, list[str]] = {}
    for name in names:
        for wanted, pattern in ((plain, r"(.+)\.png"), (numbered, r"(.+)_\d+\.png")):
            if wanted and (m := re.fullmatch(pattern, name)) is not None:
                found.setdefault(m.group(1), []).append(name)
    return found


def png_tagged(path: str | os.PathLike, key: str) -> bool:
    """Whether ``path`` is a PNG carrying the text chunk ``key`` (how aikd marks the crops it writes)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return key in img.info
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of an output: ``.NAME.lock`` beside it (a folder output is replaced or
    filled in place; the lock outlives both)."""
    real = Path(os.path.realpath(os.path.expanduser(str(path))))
    return real.parent / f".{real.name}.lock"


@contextlib.contextmanager
def lock_output(path: str | os.PathLike, option: str = "--output") -> Iterator[None]:
    """Hold the advisory lock of one output for the block; another holder is an error at once.
    Folders made for the lock file are removed again if the run leaves them empty."""
    from filelock import FileLock, Timeout

    lock_file = lock_path(path)
    made = _missing_parents(lock_file)
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_file), timeout=0)
        lock.acquire()
    except Timeout:
        raise AikdError(f"{path}: {option} is in use by process {_holder(lock_file)} (another aikd run writes it)",
                        hint="wait for that run to finish, or choose another output") from None
    except OSError as exc:
        _remove_empty(made)
        raise AikdError(f"{path}: cannot write {option} ({exc.strerror or exc})") from None
    try:
        with contextlib.suppress(OSError):
            lock_file.write_text(f"{os.getpid()}\n", encoding="ascii")
        yield
    finally:
        with contextlib.suppress(OSError):  # removed while held: a waiter on the old file retries
            lock_file.unlink()
        lock.release()
        _remove_empty(made)


def _missing_parents(path: Path) -> list[Path]:
    """The folders above ``path`` that do not exist yet, deepest first."""
    missing = []
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _holder(lock_file: Path) -> str:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = lock_file.read_text(encoding="ascii").strip()
        if text.isdigit():
            return text
    return "(unknown)"


@contextlib.contextmanager
def guard_outputs(outputs: Sequence[Output], inputs: Iterable[str | os.PathLike] = ()) -> Iterator[None]:
    """:func:`check_outputs`, then hold every output's lock until the block ends."""
    check_outputs(outputs, inputs)
    with contextlib.ExitStack() as stack:
        for out in outputs:
            if out.lock:
                stack.enter_context(lock_output(out.path, out.option))
        yield
