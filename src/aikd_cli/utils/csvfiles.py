r"""How every aikd command reads a CSV it is given: one encoding rule, one delimiter rule, one path rule.

Spreadsheet programs save "CSV" as UTF-8 with a byte-order mark, or separated by semicolons or
tabs (locales whose decimal mark is a comma). Every reader takes these the same way: UTF-8 with or
without a BOM (anything else is a one-line error that says so), the delimiter found in the header
line (comma unless the header has none and has semicolons or tabs), and ``path`` cells relative to
the CSV's own folder, resolved to absolute, normalised paths by :func:`resolve_csv_paths`.

File names need not be UTF-8 (Linux names are bytes): such a name is written with each byte that is
not UTF-8 as the text ``\xHH`` (:func:`path_cell`), so the CSV stays UTF-8 and the name comes back
byte for byte when the cell is read (:func:`cell_path`).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from aikd_cli.errors import InputFormatError

ENCODING = "utf-8-sig"  # UTF-8; a leading byte-order mark is skipped
_DELIMITERS = (",", ";", "\t")


#: ``\xHH`` for a byte 0x80-0xff of a name that is not UTF-8, and ``\x5c`` for a backslash.
_ESCAPED = re.compile(r"\\x(5c|[89a-f][0-9a-f])")
_UNDECODED = re.compile("[\udc80-\udcff]")  # the bytes os.fsdecode could not decode (surrogate escapes)


def path_cell(path: str) -> str:
    r"""A path as CSV text: each byte of the name that is not UTF-8 (a surrogate escape) as
    ``\xHH``, and a backslash that would read as such an escape as ``\x5c``, so that
    ``cell_path(path_cell(p)) == p`` for every name."""
    if "\\" in path:
        path = re.sub(r"\\(?=x(5c|[89a-f][0-9a-f]))", r"\\x5c", path)
    return _UNDECODED.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", path)


def cell_path(cell: str) -> str:
    """The path a CSV cell written by :func:`path_cell` names (other cells are taken as they are)."""
    if "\\x" not in cell:
        return cell
    return _ESCAPED.sub(lambda m: "\\" if m.group(1) == "5c" else chr(0xDC00 + int(m.group(1), 16)), cell)


def resolve_csv_paths(cells: Sequence[str], csv_dir: str | os.PathLike) -> list[str]:
    r"""Absolute, normalised paths of ``path`` cells; relative ones are relative to the CSV's folder
    ``csv_dir`` (which may itself be given relative to the working directory). ``~`` is expanded,
    ``\xHH`` escapes of :func:`path_cell` are undone. Made absolute once per call, so a million
    cells cost one join each."""
    prefix = os.path.join(os.path.abspath(csv_dir), "")  # one trailing separator: a concatenation is the join
    norm, isabs = os.path.normpath, os.path.isabs

    def one(cell: str) -> str:
        cell = cell_path(cell)
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
