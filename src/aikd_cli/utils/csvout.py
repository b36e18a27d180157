"""Crash-safe, resumable CSV output for long batch jobs.

Rows are appended to ``<out>.partial`` (the journal) as they are produced: flushed after every
batch, fsynced every few seconds, never re-read. A crash loses at most the batch in flight; a
SIGKILL can leave a torn last row, which the next ``--resume`` cuts off. ``close()`` publishes the
journal as ``<out>`` with one atomic rename, and nothing else ever replaces ``<out>``, so a
finished CSV is never replaced by a shorter one after a crash. Used as a context manager, the
writer publishes when its block ends normally or by Ctrl-C (``KeyboardInterrupt``: what is finished
is kept); any other exception leaves ``<out>`` as it was and the journal for ``--resume``.

With ``resume=True`` the journal first takes in the rows of an existing ``<out>`` (a byte copy,
done once: a journal that already starts with ``<out>`` is kept as it is), and the keys of all its
rows are reported as done. The keys are read column-wise with pyarrow, so reopening a million-row
journal takes seconds, not a re-parse and rewrite of every row.
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from aikd_cli.errors import InputFormatError
from aikd_cli.utils.atomic import atomic_open
from aikd_cli.utils.csvfiles import dict_rows, read_header
from aikd_cli.utils.numbers import plural

_CHUNK = 1 << 20


def _header(path: Path) -> tuple[list[str], str]:
    """Column names and delimiter of a CSV to resume from (one a person may have re-saved)."""
    try:
        return read_header(path, "CSV")
    except InputFormatError as exc:
        raise InputFormatError(f"cannot resume from {exc.message}", hint="write to a new file, or drop --resume "
                               "to overwrite") from None


def _check_columns(path: Path, columns: list[str]) -> bool:
    """Whether ``path`` has exactly ``columns``, comma-separated; an error when it lacks some (it
    cannot be resumed)."""
    found, delimiter = _header(path)
    missing = [c for c in columns if c not in found]
    if missing:
        raise InputFormatError(
            f"{path}: cannot resume: it has different columns (missing {', '.join(missing)})",
            hint="write to a new file, or drop --resume to overwrite",
        )
    return found == columns and delimiter == "," and not _has_bom(path)


def check_resumable(path: str | Path, columns: Iterable[str]) -> None:
    """Refuse, before any work, a ``--resume`` whose CSV or journal cannot be resumed (not a CSV,
    not UTF-8, other columns)."""
    path = Path(path)
    journal = path.with_name(path.name + ".partial")
    if path.is_file():
        _check_columns(path, list(columns))
    if journal.is_file():
        with open(journal, "rb") as f:
            whole_header = f.readline().endswith(b"\n")  # a SIGKILL may have torn it: then it is remade
        if whole_header:
            _check_columns(journal, list(columns))


def _has_bom(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(3) == b"\xef\xbb\xbf"


def _read_rows(path: Path, columns: list[str]) -> Iterator[dict[str, str]]:
    """Complete rows of a CSV, in ``columns`` order (short rows are skipped)."""
    _, rows = dict_rows(path)
    for _, row in rows:
        if any(row.get(c) is None for c in columns):
            continue  # short/torn row
        yield {c: row[c] for c in columns}


def _whole_records(path: Path) -> int:
    """How many leading bytes of a journal are whole records.

    A record ends at a newline outside quotes, i.e. after an even number of quote characters (the
    csv module quotes every field that holds a quote, newline or comma, and doubles inner quotes),
    so a row cut off by a crash is found even inside a quoted, multi-line message.
    """
    with open(path, "rb") as f:
        quotes = 0
        while chunk := f.read(_CHUNK):
            quotes += chunk.count(b'"')
        end, after = f.tell(), 0  # quotes in [end, size)
        while end > 0:
            start = max(0, end - _CHUNK)
            f.seek(start)
            block = f.read(end - start)
            cut = len(block)
            while (i := block.rfind(b"\n", 0, cut)) != -1:
                if (quotes - after - block.count(b'"', i + 1)) % 2 == 0:
                    return start + i + 1
                cut = i
            after += block.count(b'"')
            end = start
    return 0


def _starts_with(path: Path, prefix: Path) -> bool:
    if path.stat().st_size < prefix.stat().st_size:
        return False
    with open(path, "rb") as a, open(prefix, "rb") as b:
        while chunk := b.read(_CHUNK):
            if a.read(len(chunk)) != chunk:
                return False
    return True


class _Columns(dict):
    """An Arrow table's columns as Python lists, each converted on first use."""

    def __init__(self, table) -> None:
        super().__init__()
        self.table = table

    def __missing__(self, name: str) -> list[str]:
        if name not in self.table.column_names:
            raise KeyError(name)
        self[name] = values = self.table.column(name).to_pylist()
        return values


class _Row(Mapping):
    """One row of a :class:`_Columns`, read without building a dict (keys of a million rows)."""

    __slots__ = ("_columns", "_index")

    def __init__(self, columns: _Columns, index: int) -> None:
        self._columns, self._index = columns, index

    def __getitem__(self, name: str) -> str:
        return self._columns[name][self._index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns.table.column_names)

    def __len__(self) -> int:
        return self._columns.table.num_columns


def _keys(path: Path, key: Callable[[Mapping[str, str]], str]) -> list[str]:
    """``key`` of every row of a CSV, read column-wise (raises ``pyarrow.ArrowInvalid`` on a
    malformed row)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns, _ = _header(path)
    table = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns}, strings_can_be_null=False
        ),
    )
    view = _Columns(table)
    return [key(_Row(view, i)) for i in range(table.num_rows)]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C after a journalled CSV was published: what was kept, for the one line the CLI prints."""

    def __init__(self, path: Path, rows: int) -> None:
        super().__init__(f"{plural(rows, 'row')} kept in {path}")
        self.path, self.rows = path, rows


class ResultsWriter:
    def __init__(
        self,
        path: str | Path,
        columns: Iterable[str],
        *,
        resume: bool = False,
        key: Callable[[Mapping[str, str]], str] = lambda row: row["path"],
        fsync_every: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.key = key
        self.fsync_every = fsync_every
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.done: set[str] = set()
        self.kept = 0
        if resume:
            self._take_in()
            keys = self._journal_keys()
            self.done, self.kept = set(keys), len(keys)
        else:
            self._rewrite([])
        # path cells come escaped (csvfiles.path_cell); a name quoted in a message must not crash the run
        self._handle = open(self.partial, "a", newline="", encoding="utf-8", errors="backslashreplace")
        self._writer = csv.DictWriter(self._handle, fieldnames=self.columns, extrasaction="ignore")
        self._last_sync = time.monotonic()
        self.written = 0
        self.published = False

    def _take_in(self) -> None:
        """Make the journal hold every row to keep: its own whole rows, then those of ``<out>``."""
        journal = self.partial.exists() and self._trim()  # False: no journal, or a torn header only
        in_order = journal and _check_columns(self.partial, self.columns)
        if not self.path.exists():
            if not in_order:
                self._rewrite(self._rows(self.partial) if journal else [])
            return
        finished_in_order = _check_columns(self.path, self.columns)
        if not journal and finished_in_order:
            self._copy_finished()
        elif not (in_order and finished_in_order and _starts_with(self.partial, self.path)):
            # (a journal that starts with <out> took it in at an earlier --resume: kept as it is)
            self._rewrite(self._rows(self.path, *([self.partial] if journal else [])))

    def _trim(self) -> bool:
        """Cut a torn last row off the journal; False when not even its header is whole."""
        whole = _whole_records(self.partial)
        if whole < self.partial.stat().st_size:
            os.truncate(self.partial, whole)
        return whole > 0

    def _copy_finished(self) -> None:
        with open(self.path, "rb") as src, atomic_open(self.partial, "wb") as dst:
            shutil.copyfileobj(src, dst, _CHUNK)
            src.seek(-1, os.SEEK_END)
            if src.read(1) != b"\n":
                dst.write(b"\r\n")  # a hand-made file without a final newline

    def _rows(self, *sources: Path) -> Iterator[dict[str, str]]:
        """The rows of ``sources`` in this writer's column order, less those whose key an earlier
        source already has (a key may have several rows, e.g. one per face)."""
        seen: set[str] = set()
        for source in sources:
            here: set[str] = set()
            for row in _read_rows(source, self.columns):
                k = self.key(row)
                if k not in seen:
                    here.add(k)
                    yield row
            seen |= here

    def _journal_keys(self) -> list[str]:
        import pyarrow as pa

        try:
            return _keys(self.partial, self.key)
        except pa.ArrowInvalid:  # a malformed row (e.g. in a hand-edited <out>): rewrite without it
            self._rewrite(self._rows(self.partial))
            return _keys(self.partial, self.key)

    def _rewrite(self, rows: Iterable[dict[str, str]]) -> None:
        with atomic_open(self.partial, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, rows: Iterable[dict]) -> None:
        try:
            for row in rows:
                self._writer.writerow(row)
                self.written += 1
            self._handle.flush()
            if time.monotonic() - self._last_sync > self.fsync_every:
                os.fsync(self._handle.fileno())
                self._last_sync = time.monotonic()
        except OSError as exc:  # e.g. the disk is full: say which file
            exc.filename = exc.filename or str(self.partial)
            raise

    def close(self) -> Path:
        """Publish everything written (and kept) as ``path``, atomically."""
        if self._handle.closed:
            return self.path
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as exc:
            exc.filename = exc.filename or str(self.partial)
            self.abandon()
            raise
        self._handle.close()
        os.replace(self.partial, self.path)
        self.published = True
        return self.path

    def abandon(self) -> None:
        """Stop writing without publishing: ``path`` stays as it was; the journal is kept for
        ``--resume``."""
        with contextlib.suppress(OSError):
            self._handle.close()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, kind, *_) -> None:
        if kind is None or issubclass(kind, KeyboardInterrupt):
            self.close()
            if kind is not None and not issubclass(kind, Interrupted):
                raise Interrupted(self.path, self.kept + self.written) from None
        else:
            self.abandon()
