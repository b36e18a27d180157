"""Column-wise reading of the CSV and Parquet inputs of ``aikd evaluate``, with pyarrow.

A pair list of IJB-C size has 15 million rows but names only ~500,000 images, so nothing here
works per row: columns are read by pyarrow's multi-threaded CSV reader (or from Parquet), and a
cell is resolved, parsed or checked once per *distinct* value; rows get int32 codes into those
values. Why pyarrow and not polars is said in docs/evaluate.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from aikd_cli.errors import InputFormatError
from aikd_cli.utils.csvfiles import read_header, resolve_csv_paths

PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


def header(path: Path) -> list[str]:
    """Column names (stripped) of a CSV (read as every aikd CSV reader reads it, see
    :mod:`aikd_cli.utils.csvfiles`) or Parquet file."""
    if not is_parquet(path):
        return read_header(path, "file")[0]
    try:
        import pyarrow.parquet as pq

        return [name.strip() for name in pq.read_schema(path).names]
    except OSError as exc:
        raise InputFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except Exception as exc:  # pyarrow: not a Parquet file
        raise InputFormatError(f"{path}: cannot read ({_first_line(exc)})") from None


def find_column(names: Sequence[str], aliases: Sequence[str]) -> str | None:
    """The first of ``aliases`` that ``names`` holds, compared case-insensitively."""
    lower = {name.lower(): name for name in names}
    return next((lower[a] for a in aliases if a in lower), None)


class Numbers(NamedTuple):
    """A numeric column: ``values`` (NaN where a cell is empty or not a number) and where each is."""

    values: np.ndarray
    empty: np.ndarray
    bad: np.ndarray


@dataclass
class Columns:
    """Some columns of one CSV or Parquet file, each an Arrow ``ChunkedArray``."""

    path: Path
    table: object  # pyarrow.Table whose columns carry the names asked for
    parquet: bool

    def __len__(self) -> int:
        return self.table.num_rows

    def where(self, row: int) -> str:
        """Where row ``row`` (0-based, after the header) is: ``file.csv:LINE`` as the csv module
        counts records, or ``file.parquet: row N``."""
        return f"{self.path}: row {row + 1}" if self.parquet else f"{self.path}:{row + 2}"

    def distinct(self, *names: str) -> tuple[list[str], list[np.ndarray]]:
        """The distinct cells of one or more columns as text (empty for a missing value), one list
        for all of them, and per column each row's int32 index into it."""
        import pyarrow as pa
        import pyarrow.compute as pc

        chunks, lengths = [], []
        for name in names:
            column = self.table.column(name)
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            if not pa.types.is_string(column.type):
                column = column.cast(pa.string())
            if column.null_count:
                column = pc.fill_null(column, "")
            chunks += column.chunks
            lengths.append(len(column))
        encoded = pc.dictionary_encode(pa.chunked_array(chunks, type=pa.string()))
        if encoded.num_chunks == 0:
            return [], [np.zeros(0, np.int32) for _ in names]
        values = encoded.chunk(0).dictionary.to_pylist()
        codes = np.concatenate([chunk.indices.to_numpy(zero_copy_only=False) for chunk in encoded.chunks])
        codes = codes.astype(np.int32, copy=False)
        return values, np.split(codes, np.cumsum(lengths)[:-1])

    def numbers(self, name: str) -> Numbers:
        """A numeric column. Text cells are read as Python's ``float(cell.strip())`` reads them
        (once per distinct cell): ``nan``, ``inf`` and ``1e-3`` are numbers, an empty cell is NaN."""
        import pyarrow as pa
        import pyarrow.compute as pc

        column = self.table.column(name)
        if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
            column = column.cast(pa.float64())
            empty = column.is_null().to_numpy(zero_copy_only=False)
            if column.null_count:
                column = pc.fill_null(column, np.nan)
            values = column.to_numpy(zero_copy_only=False)
            return Numbers(values, empty, np.zeros(len(values), bool))
        cells, (codes,) = self.distinct(name)
        parsed, empty, bad = (
            np.full(len(cells), np.nan),
            np.zeros(len(cells), bool),
            np.zeros(len(cells), bool),
        )
        for k, cell in enumerate(cells):
            text = cell.strip()
            empty[k] = not text
            try:
                parsed[k] = float(text) if text else np.nan
            except ValueError:
                bad[k] = True
        return Numbers(parsed[codes], empty[codes], bad[codes])

    def cell(self, name: str, row: int) -> str:
        value = self.table.column(name)[row].as_py()
        return "" if value is None else str(value)


def read_columns(path: Path, names: Sequence[str], numeric: Sequence[str] = ()) -> Columns:
    """Read the columns ``names`` (as :func:`header` spells them) of a CSV or Parquet file; those in
    ``numeric`` are parsed as numbers where pyarrow can (else kept as text, see ``Columns.numbers``),
    the others are text. Where a header repeats a name, the last such column is read, as
    ``csv.DictReader`` does."""
    try:
        if is_parquet(path):
            return Columns(path, _read_parquet(path, names), True)
        return Columns(path, _read_csv(path, names, numeric), False)
    except OSError as exc:
        raise InputFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except InputFormatError:
        raise
    except Exception as exc:  # pyarrow.ArrowInvalid: a malformed row, bad UTF-8, ...
        raise InputFormatError(
            f"{path}: cannot read as {'Parquet' if is_parquet(path) else 'CSV'} ({_first_line(exc)})"
        ) from None


def _read_parquet(path: Path, names: Sequence[str]):
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    stored = {name.strip(): name for name in schema.names}
    return pq.read_table(path, columns=[stored[n] for n in names]).rename_columns(list(names))


def _read_csv(path: Path, names: Sequence[str], numeric: Sequence[str]):
    from aikd_cli.utils.csvcolumns import read_csv_columns  # pyarrow: deferred past validation

    return read_csv_columns(path, names, numeric, "file")


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def sample_codes(
    base: str | Path, columns: Columns, names: Sequence[str]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distinct samples named in the path columns ``names`` (sorted keys, an object array)
    and, per column, each row's int32 index into them. Each distinct cell is resolved once."""
    cells, codes = columns.distinct(*names)
    keys, inverse = np.unique(object_array(resolve_csv_paths(cells, base)), return_inverse=True)
    inverse = inverse.astype(np.int32)
    return keys, [inverse[rows] for rows in codes]


def object_array(values: Sequence[str]) -> np.ndarray:
    """Strings as an object array (numpy's fixed-width ``<U`` arrays would pad every path)."""
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def first_row(mask: np.ndarray) -> int | None:
    rows = np.flatnonzero(mask)
    return int(rows[0]) if len(rows) else None


def parsed(columns: Columns, name: str, parse: Callable[[str], object]) -> tuple[list, np.ndarray]:
    """``parse`` of each distinct cell of a column, and each row's int32 index into the results.
    Where ``parse`` refuses a cell (``ValueError``), the error names the first row that holds it."""
    cells, (codes,) = columns.distinct(name)
    results, refused = [], {}
    for k, cell in enumerate(cells):
        try:
            results.append(parse(cell))
        except ValueError as exc:
            results.append(None)
            refused[k] = str(exc)
    if refused:
        row = first_row(np.isin(codes, list(refused)))
        raise InputFormatError(f"{columns.where(row)}: {refused[int(codes[row])]}")
    return results, codes
