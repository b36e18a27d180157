"""The journalled CSV writer: what a crash, a SIGKILL or a --resume may and may not do to the rows."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from paths import SRC

from aikd_cli.errors import InputFormatError
from aikd_cli.utils.csvout import ResultsWriter

COLUMNS = ["path", "face", "quality", "message"]


def _row(i: int, face: int = 0, message: str = "") -> dict[str, str]:
    return {"path": f"img{i}.jpg", "face": str(face), "quality": f"0.{i}", "message": message}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _journal(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def _killed(out: Path, rows: list[dict[str, str]], torn: str, *, resume: bool = False) -> None:
    """A real process journals ``rows``, writes the start of one more and dies by SIGKILL."""
    code = (
        "import os, signal, sys, json\n"
        "from aikd_cli.utils.csvout import ResultsWriter\n"
        "out, columns, rows, torn, resume = json.loads(sys.argv[1])\n"
        "w = ResultsWriter(out, columns, resume=resume)\n"
        "w.write(rows)\n"
        "w._handle.write(torn); w._handle.flush()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    import json

    env = {**os.environ, "PYTHONPATH": str(SRC)}
    args = json.dumps([str(out), COLUMNS, rows, torn, resume])
    proc = subprocess.run([sys.executable, "-c", code, args], env=env, timeout=60)
    assert proc.returncode == -signal.SIGKILL


def test_rows_are_published_as_written(tmp_path):
    out = tmp_path / "sub" / "out.csv"
    rows = [_row(i, message='multi\nline, "quoted"' if i == 1 else "") for i in range(3)]
    with ResultsWriter(out, COLUMNS) as w:
        w.write(rows[:2])
        w.write(rows[2:])
        assert _journal(out).exists() and not out.exists()
    assert _rows(out) == rows and not _journal(out).exists()


@pytest.mark.parametrize(
    "torn", ['img9.jpg,0,0.9,"a message cut\nafter its newline', "img9.jpg,0,0.", "img9.jpg,0,0.9,\r"]
)
def test_sigkill_keeps_every_journalled_row_and_drops_the_torn_one(tmp_path, torn):
    out = tmp_path / "out.csv"
    rows = [_row(0), _row(1, message='two\nlines, one "quote"'), _row(2)]
    _killed(out, rows, torn)
    assert not out.exists()
    w = ResultsWriter(out, COLUMNS, resume=True)
    assert w.kept == 3 and w.done == {"img0.jpg", "img1.jpg", "img2.jpg"}
    w.write([_row(3)])
    w.close()
    assert _rows(out) == [*rows, _row(3)]


def test_resume_of_a_finished_csv_never_shrinks_or_duplicates_it(tmp_path):
    out = tmp_path / "out.csv"
    first = [_row(0), _row(0, face=1), _row(1)]  # two faces of img0: two rows, one key
    with ResultsWriter(out, COLUMNS) as w:
        w.write(first)
    finished = out.read_bytes()
    _killed(out, [_row(2)], "img3.jpg,0", resume=True)  # a resumed run dies
    assert out.read_bytes() == finished  # the finished CSV is untouched
    w = ResultsWriter(out, COLUMNS, resume=True)  # ... and resumed again: <out> is not taken in twice
    assert w.kept == 4 and w.done == {"img0.jpg", "img1.jpg", "img2.jpg"}
    w.write([_row(3)])
    w.close()
    assert _rows(out) == [*first, _row(2), _row(3)]


def test_resume_after_an_interrupted_overwrite_keeps_each_key_once(tmp_path):
    """A finished CSV, then a run without --resume that dies: its journal re-scored some of the
    same images. Resuming keeps the finished rows and only the journal's rows of new keys."""
    out = tmp_path / "out.csv"
    with ResultsWriter(out, COLUMNS) as w:
        w.write([_row(0), _row(1)])
    _killed(out, [_row(1), _row(2), _row(2, face=1)], "")
    w = ResultsWriter(out, COLUMNS, resume=True)
    assert w.kept == 4
    w.close()
    assert _rows(out) == [_row(0), _row(1), _row(2), _row(2, face=1)]


def test_resume_reorders_columns_and_refuses_missing_ones(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("quality,message,path,face,extra\n0.5,,a.jpg,0,x\n0.7,,b.jpg,0,y")  # no final newline
    with ResultsWriter(out, COLUMNS, resume=True) as w:
        assert w.done == {"a.jpg", "b.jpg"}
        w.write([_row(3)])
    assert _rows(out) == [
        {"path": "a.jpg", "face": "0", "quality": "0.5", "message": ""},
        {"path": "b.jpg", "face": "0", "quality": "0.7", "message": ""},
        _row(3),
    ]
    out.write_text("path,quality\na.jpg,0.5\n")
    with pytest.raises(InputFormatError, match="missing face, message"):
        ResultsWriter(out, COLUMNS, resume=True)


def test_resume_of_a_finished_file_without_final_newline_keeps_its_last_row(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("path,face,quality,message\r\nimg0.jpg,0,0.0,\r\nimg1.jpg,0,0.1,")
    with ResultsWriter(out, COLUMNS, resume=True) as w:
        assert w.kept == 2
        w.write([_row(2)])
    assert _rows(out) == [_row(0), _row(1), _row(2)]


def test_without_resume_the_journal_starts_afresh(tmp_path):
    out = tmp_path / "out.csv"
    _killed(out, [_row(0)], "")
    with ResultsWriter(out, COLUMNS) as w:
        assert w.kept == 0 and not w.done
        w.write([_row(1)])
    assert _rows(out) == [_row(1)]
