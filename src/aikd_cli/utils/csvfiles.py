"""How every aikd command reads a CSV it is given: one encoding rule, one delimiter rule, one path rule.

Spreadsheet programs save "CSV" as UTF-8 with a byte-order mark, or separated by semicolons or
tabs (locales whose decimal mark is a comma). Every reader takes these the same way: UTF-8 with or
without a BOM (anything else is a one-line error that says so), the delimiter found in the header
line (comma unless the header has none and has semicolons or tabs), and ``path`` cells relative to
the CSV's own folder, resolved to absolute, normalised paths by :func:`resolve_csv_paths`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from aikd_cli.errors import InputFormatError

ENCODING = "utf-8-sig"  # UTF-8; a leading byte-order mark is skipped
_DELIMITERS = (",", ";", "\t")


def resolve_csv_paths(cells: Sequence[str], csv_dir: str | os.PathLike) -> list[str]:
    """Absolute, normalised paths of ``path`` cells; relative ones are relative to the CSV's folder
    ``csv_dir`` (which may itself be given relative to the working directory). ``~`` is expanded.
    Made absolute once per call, so a million cells cost one join each."""
    prefix = os.path.join(os.path.abspath(csv_dir), "")  # one trailing separator: a concatenation is the join
    norm, isabs = os.path.normpath, os.path.isabs

    def one(cell: str) -> str:
        if cell.startswith("~"):
            cell = os.path.expanduser(cell)
        return norm(cell if isabs(cell) else prefix + cell)

    return [one(cell) for cell in cells]


def resolve_csv_path(cell: str, csv_dir: str | os.PathLike) -> str:
    """One ``path`` cell, as :func:`resolve_csv_paths` resolves it."""
    return resolve_csv_paths([cell], csv_dir)[0]


def delimiter_of(header_line: str) -> str:
    """The delimiter of a CSV whose first line is ``header_line``."""
    if "," in header_line:
        return ","
    return next((d for d in _DELIMITERS if d in header_line), ",")


def open_csv(path: str | os.PathLike, what: str = "CSV") -> tuple[TextIO, str]:
    """An open text handle (UTF-8, BOM skipped, ``newline=""``) and the file's delimiter; a file
    that cannot be opened or is not UTF-8 text is a one-line error naming it."""
    try:
        handle = open(path, encoding=ENCODING, newline="")  # noqa: SIM115 (returned to the caller)
    except IsADirectoryError:
        raise InputFormatError(f"{path}: is a folder, not a {what}") from None
    except OSError as exc:
        raise InputFormatError(f"{path}: cannot open {what} ({exc.strerror or exc})") from None
    try:
        first = handle.readline()
        handle.seek(0)
    except UnicodeDecodeError:
        handle.close()
        raise not_utf8(path, what) from None
    return handle, delimiter_of(first)


def not_utf8(path: str | os.PathLike, what: str = "CSV") -> InputFormatError:
    return InputFormatError(f"{path}: not a UTF-8 text {what}", hint="save it as UTF-8 (with or without a BOM)")


def read_header(path: str | os.PathLike, what: str = "CSV") -> tuple[list[str], str]:
    """Column names (stripped) and delimiter of a CSV."""
    handle, delimiter = open_csv(path, what)
    with handle:
        try:
            return [name.strip() for name in next(csv.reader(handle, delimiter=delimiter), [])], delimiter
        except UnicodeDecodeError:
            raise not_utf8(path, what) from None
        except csv.Error as exc:
            raise InputFormatError(f"{path}:1: malformed {what} ({exc})") from None


def dict_rows(path: str | os.PathLike, what: str = "CSV") -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """The column names of a CSV and its rows as ``(line, {column: cell})`` (column names stripped);
    a decoding or quoting error while reading is a one-line error naming the line."""
    handle, delimiter = open_csv(path, what)
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        columns = [name.strip() for name in next(reader, [])]
    except (UnicodeDecodeError, csv.Error):
        handle.close()
        raise not_utf8(path, what) from None

    def rows() -> Iterator[tuple[int, dict]]:
        with handle:
            try:
                for cells in reader:
                    yield reader.line_num, dict(zip(columns, cells))
            except UnicodeDecodeError:
                raise not_utf8(path, what) from None
            except csv.Error as exc:
                raise InputFormatError(f"{path}:{reader.line_num}: malformed {what} ({exc})") from None

    return columns, rows()


def is_csv(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in (".csv", ".tsv")
