"""Hostile cells and files (issue 12, items 9 and 18): a report of a CSV with an empty ``path`` cell
or a NUL byte in one raised a traceback; the decompression-bomb message differed from the
documented "image too large ... limit 120 MP" (and raising ``AIKD_MAX_PIXELS`` did not help)."""

from __future__ import annotations

import csv
import struct
import zlib

import pytest
from adversarial_helpers import cli, one_line_error, rows

from aikd_cli.tasks.score import SCORE_COLUMNS


def score_csv(path, cells: list[str]):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, SCORE_COLUMNS)
        writer.writeheader()
        for cell in cells:
            row = dict.fromkeys(SCORE_COLUMNS, "")
            row.update(path=cell, face="0", quality="0.5", status="ok")
            writer.writerow(row)
    return path


@pytest.mark.parametrize(("cell", "needle"), [("", "empty path cell"), ("a\x00b.jpg", "NUL byte")])
def test_report_names_the_line_of_an_impossible_path_cell(cell, needle, tmp_path):
    scores = score_csv(tmp_path / "s.csv", ["a.jpg", "b.jpg", cell])
    one_line_error(cli("report", scores, "-o", tmp_path / "r.html"), "s.csv:4:", needle)
    assert not (tmp_path / "r.html").exists()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels and holds almost no data (a bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("width", "height", "size"), [(15000, 10000, "15000x10000 = 150 MP"),
                                                       (20000, 20000, "400 MP")])
def test_a_decompression_bomb_gets_the_documented_message(width, height, size, qmodel, tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(width, height))
    out = tmp_path / "s.csv"
    assert cli("score", bomb, "--aligned", "-m", qmodel, "-o", out).exit_code == 0
    (row,) = rows(out)
    assert row["status"] == "unreadable"
    assert row["message"] == f"image too large ({size}, limit 120 MP; raise AIKD_MAX_PIXELS to allow it)"


def test_the_pixel_limit_is_aikds_on_both_sides_of_pils_own_guard(tmp_path, monkeypatch):
    """PIL refuses images past twice its ceiling before aikd's check runs: both follow
    ``AIKD_MAX_PIXELS``, and raising it lets the image through."""
    from aikd_cli.errors import ImageError
    from aikd_cli.images.decode import load_image

    big = tmp_path / "big.png"
    big.write_bytes(png_header(3000, 3000))  # 9 MP
    for limit, reason in ((5_000_000, "image too large (3000x3000 = 9 MP, limit 5 MP;"),
                          (4_000_000, "image too large (9 MP, limit 4 MP;")):
        monkeypatch.setenv("AIKD_MAX_PIXELS", str(limit))
        with pytest.raises(ImageError) as caught:
            load_image(big)
        assert caught.value.reason.startswith(reason), caught.value.reason
    monkeypatch.setenv("AIKD_MAX_PIXELS", str(10_000_000))
    with pytest.raises(ImageError) as caught:  # past the size check: it fails on the missing pixel data
        load_image(big)
    assert "too large" not in caught.value.reason


def test_a_nul_byte_in_an_image_path_is_a_row_not_a_crash():
    from aikd_cli.errors import ImageError
    from aikd_cli.images.decode import load_image

    with pytest.raises(ImageError, match="NUL byte"):
        load_image("photos/a\x00b.jpg")


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_face_with_non_finite_landmarks_gets_a_placeholder(value, photos, tmp_path):
    """Issue 21: one ``ok`` row whose landmarks are NaN refused the whole report, although the docs
    promise a placeholder for that face."""
    scores = score_csv(tmp_path / "s.csv", [str(photos / "a.jpg"), str(photos / "b.jpg")])
    table = rows(scores)
    for c in SCORE_COLUMNS:
        if c.startswith("lm"):
            table[0][c], table[1][c] = value, "120"
    with open(scores, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, SCORE_COLUMNS)
        writer.writeheader()
        writer.writerows(table)
    result = cli("report", scores, "-o", tmp_path / "r.html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "its landmarks cannot be aligned" in page and "nan%" not in page and "inf%" not in page
