"""Path cells: every Linux file name (bytes) is written as UTF-8 text and read back byte for byte."""

from __future__ import annotations

import os

import pytest

from aikd_cli.utils.csvfiles import cell_path, path_cell, resolve_csv_paths


@pytest.mark.parametrize("name", [b"caf\xe9.jpg", b"\xff\xfe.png", "Ünïcødé 顔.jpg".encode(), b"plain.jpg",
                                  b"a\\xe9.jpg", b"a\\x5c.jpg", b"\\x5cx80\xe9\\", b"a\\x41.jpg", b"back\\slash.jpg"])
def test_every_file_name_round_trips_through_a_path_cell(name):
    path = os.fsdecode(name)
    cell = path_cell(path)
    cell.encode("utf-8")  # valid text whatever the name
    assert os.fsencode(cell_path(cell)) == name
    assert os.fsencode(resolve_csv_paths([cell], "/data")[0]) == b"/data/" + name


def test_names_that_are_utf8_and_have_no_escape_are_written_as_they_are():
    assert path_cell("photos/Ünï 顔.jpg") == "photos/Ünï 顔.jpg"
    assert path_cell(os.fsdecode(b"caf\xe9.jpg")) == "caf\\xe9.jpg"
    assert cell_path("a\\x41.jpg") == "a\\x41.jpg"  # only the escapes path_cell writes are read as bytes
