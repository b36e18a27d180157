"""Crash-safe, resumable CSV output for long batch jobs.

Rows are appended (and flushed) to ``<out>.partial`` as they are produced, so a crash or Ctrl-C
loses at most the batch in flight. ``close()`` writes the final file atomically (temp file +
``os.replace``): readers never see a half-written ``<out>``. With ``resume=True`` the rows already
in ``<out>`` and ``<out>.partial`` are kept and their keys reported as done.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from aikd_cli.errors import InputFormatError
from aikd_cli.utils.atomic import atomic_open


def _read_rows(path: Path, columns: list[str]) -> Iterator[dict[str, str]]:
    """Complete rows of a CSV (a torn last line of an interrupted append is dropped)."""
    if not path.exists():
        return
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is not None and list(reader.fieldnames) != columns:
        missing = [c for c in columns if c not in reader.fieldnames]
        if missing:
            raise InputFormatError(
                f"{path}: cannot resume: it has different columns (missing {', '.join(missing)})",
                hint="write to a new file, or drop --resume to overwrite",
            )
    for row in reader:
        if None in row or any(row.get(c) is None for c in columns):
            continue  # short/torn row
        yield {c: row[c] for c in columns}


class ResultsWriter:
    def __init__(
        self,
        path: str | Path,
        columns: Iterable[str],
        *,
        resume: bool = False,
        key: Callable[[dict[str, str]], str] = lambda row: row["path"],
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
            for source in (self.path, self.partial):
                for row in _read_rows(source, self.columns):
                    self.done.add(key(row))
                    self.kept += 1
            # fold the final file into the journal so close() has a single source
            if self.path.exists():
                rows = list(_read_rows(self.path, self.columns)) + list(_read_rows(self.partial, self.columns))
                self._rewrite_partial(rows)
            elif self.partial.exists():
                self._rewrite_partial(list(_read_rows(self.partial, self.columns)))
            else:  # nothing to resume from: start a fresh journal (with its header)
                self._rewrite_partial([])
        else:
            self._rewrite_partial([])
        self._handle = open(self.partial, "a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._handle, fieldnames=self.columns, extrasaction="ignore")
        self._last_sync = time.monotonic()
        self.written = 0

    def _rewrite_partial(self, rows: list[dict[str, str]]) -> None:
        with atomic_open(self.partial, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, rows: Iterable[dict]) -> None:
        for row in rows:
            self._writer.writerow(row)
            self.written += 1
        self._handle.flush()
        if time.monotonic() - self._last_sync > self.fsync_every:
            os.fsync(self._handle.fileno())
            self._last_sync = time.monotonic()

    def close(self) -> Path:
        """Publish everything written (and kept) as ``path``, atomically."""
        if self._handle.closed:
            return self.path
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        with atomic_open(self.path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(_read_rows(self.partial, self.columns))
        self.partial.unlink(missing_ok=True)
        return self.path

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
