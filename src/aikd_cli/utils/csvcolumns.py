"""Column-wise reading of a large CSV, for the commands that must not build a Python object per row
(``evaluate`` on IJB-C-sized protocols, ``report`` on million-row score files).

The rules are those of :mod:`aikd_cli.utils.csvfiles` (UTF-8 with or without a BOM, the delimiter
of the header line, names stripped); columns are picked by name, the last of a repeated name as
``csv.DictReader`` does; and a file pyarrow refuses gets one error naming the line, found by the
text reader (on the error path only).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.csv as pacsv

from aikd_cli.errors import InputFormatError
from aikd_cli.utils.csvfiles import not_utf8, open_csv, read_header


def read_csv_columns(path: str | os.PathLike, names: Sequence[str], numeric: Sequence[str] = (),
                     what: str = "CSV") -> pa.Table:
    """The columns ``names`` of a CSV as a table with those names. Columns in ``numeric`` are
    float64 with empty cells null where every cell is a number, else text like the others (the
    caller decides what a bad cell means); text cells are never null."""
    found, delimiter = read_header(path, what)
    position = {name: i for i, name in enumerate(found)}  # the last of repeated names
    absent = [n for n in names if n not in position]
    if absent:
        raise InputFormatError(f"{path}: no column {', '.join(map(repr, absent))} (columns: {', '.join(found)})")
    labels = [f"c{i}" for i in range(len(found))]  # read by position: names may repeat or need stripping
    wanted = {labels[position[n]]: n for n in names}

    def read(number_type: pa.DataType) -> pa.Table:
        types = {label: number_type if name in numeric else pa.string() for label, name in wanted.items()}
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=labels, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=types, include_columns=list(wanted), strings_can_be_null=False, null_values=[""]
            ),
        )

    try:
        try:
            table = read(pa.float64())
        except pa.ArrowInvalid as exc:
            if "Could not skip initial" in str(exc):  # a header without even a line break after it
                return pa.table({name: pa.array([], pa.string()) for name in names})
            if not numeric or "conversion error" not in str(exc):
                raise
            table = read(pa.string())  # a cell that is not a number: the caller decides
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise diagnose(path, exc, what) from None
    return table.rename_columns([wanted[label] for label in table.column_names])


def line_of(path: str | os.PathLike, row: int) -> int:
    """The physical line where data row ``row`` ends (quoted cells may span lines)."""
    handle, delimiter = open_csv(path)
    with handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader)
        for i, _ in enumerate(reader):
            if i == row:
                break
        return reader.line_num


def diagnose(path: str | os.PathLike, arrow_error: Exception, what: str = "CSV") -> InputFormatError:
    """The precise one-line error for a CSV the bulk reader refused (a full scan, error path only)."""
    handle, delimiter = open_csv(path, what)
    line = 1
    try:
        with handle:
            reader = csv.reader(handle, delimiter=delimiter)
            width = len(next(reader))
            for cells in reader:
                line = reader.line_num
                if len(cells) != width:
                    fewer = "fewer" if len(cells) < width else "more"
                    return InputFormatError(f"{path}:{line}: row has {fewer} cells than the header "
                                            f"({len(cells)}, not {width})")
    except UnicodeDecodeError:
        return not_utf8(path, what)
    except csv.Error as exc:
        return InputFormatError(f"{path}:{line + 1}: malformed {what} ({exc})")
    reason = (str(arrow_error).strip().splitlines() or [type(arrow_error).__name__])[0]
    return InputFormatError(f"{path}: malformed {what} ({reason[:200]})")
