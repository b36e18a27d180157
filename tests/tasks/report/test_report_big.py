"""Reports of big sets: statistics from every row, pictures only of the faces a person looks at, and
both independent of row order and worker count. Expected values are recomputed here from the CSV
with the csv module and numpy, not with the report's own code."""

from __future__ import annotations

import csv
import math
import os
import random
from pathlib import Path

import numpy as np
import pytest
from report_helpers import Page, read_csv
from test_report import build, copy_csv

from aikd_cli.errors import InputFormatError
from aikd_cli.faces.landmarks import LANDMARK_COLUMNS
from aikd_cli.tasks.report import plan
from aikd_cli.tasks.report.data import REPORT_COLUMNS, read_scores
from aikd_cli.tasks.report.options import ReportOptions
from aikd_cli.tasks.report.stats import PERCENTILES, face_order, group_stats
from aikd_cli.tasks.report.thumbnails import thumb_name
from aikd_cli.tasks.score import SCORE_COLUMNS
from aikd_cli.utils.numbers import fmt_quality


def ranked(rows: list[dict]) -> list[int]:
    """Indices of the scored faces, lowest quality first, ties by path then face."""
    scored = [
        i for i, r in enumerate(rows) if r["status"] == "ok" and math.isfinite(float(r["quality"] or "nan"))
    ]
    return sorted(scored, key=lambda i: (float(rows[i]["quality"]), rows[i]["path"], int(rows[i]["face"])))


def faces_of(rows: list[dict], indices) -> list[tuple[str, str]]:
    return [(rows[i]["path"], rows[i]["face"]) for i in indices]


def folder(path: str) -> str:
    return os.path.dirname(path) or "."


# ---- what a sampled report shows --------------------------------------------------------------
def test_sampled_report_shows_lowest_highest_threshold_deciles_and_worst_folders(lfw_scores, tmp_path):
    rows = read_csv(lfw_scores)
    order = ranked(rows)
    q = np.array([float(rows[i]["quality"]) for i in order])
    threshold = float(np.median(q))
    below = int((q < threshold).sum())
    s = build(lfw_scores, tmp_path / "r.html", grid=False, threshold=threshold, show=6, sample=3, folders=4)
    assert not s.grid and s.pages == 1 and (s.scored, s.below) == (len(q), below)
    page = Page(s.html)
    assert page.cards["lowest"] == order[:6]
    assert page.cards["highest"] == order[::-1][:6]
    assert page.cards["threshold"] == order[below - 3 : below + 3]
    assert [float(rows[i]["quality"]) < threshold for i in page.cards["threshold"]] == [True] * 3 + [
        False
    ] * 3
    for d in range(10):  # each decile: its lowest and highest face and one between, in rank order
        band = order[d * len(q) // 10 : (d + 1) * len(q) // 10]
        shown = page.cards[f"decile-{d + 1}"]
        assert shown[0] == band[0] and shown[-1] == band[-1] and len(shown) == 3
        assert [band.index(i) for i in shown] == sorted(band.index(i) for i in shown)
    medians = {}
    for f in {folder(rows[i]["path"]) for i in order}:
        medians[f] = float(
            np.median([float(rows[i]["quality"]) for i in order if folder(rows[i]["path"]) == f])
        )
    worst = sorted(medians, key=lambda f: (medians[f], f))[:4]
    for number, name in enumerate(worst, start=1):
        mine = [i for i in order if folder(rows[i]["path"]) == name]
        shown = page.cards[f"folder-{number}"]
        assert shown[0] == mine[0] and shown[-1] == mine[-1] and len(shown) == min(3, len(mine))
    pictured = {i for ids in page.cards.values() for i in ids}
    assert len(pictured) <= s.pictured < s.faces  # a sample (plus each folder's lowest face), not all
    assert page.find("li", "face") and not [
        a for a in page.find("li", "face") if "id" in a
    ]  # no duplicate ids


def test_big_set_statistics_come_from_all_rows_and_few_images_are_decoded(lfw_scores, tmp_path):
    """20,000 rows over the LFW photos: exact statistics, a bounded number of decodes."""
    base = read_csv(lfw_scores)
    rng = np.random.default_rng(1)
    rows = []
    for i in range(20_000):
        r = dict(base[i % len(base)])
        if r["status"] == "ok":
            r["quality"] = f"{rng.normal(20, 3):.6f}"
        r["face"] = r["face"] and str(i // len(base))  # distinct (path, face): a photo with many faces
        rows.append(r)
    csv_path = copy_csv(lfw_scores, tmp_path, rows)
    rows = read_csv(csv_path)
    q = np.array([float(r["quality"]) for r in rows if r["status"] == "ok"])
    s = build(csv_path, tmp_path / "big.html", threshold=20.0, workers=2)
    assert not s.grid and (s.rows, s.scored, s.below) == (20_000, len(q), int((q < 20.0).sum()))
    text = Page(s.html).text
    assert fmt_quality(np.percentile(q, 1)) in text and fmt_quality(np.percentile(q, 99)) in text
    layout = ReportOptions(scores=csv_path)
    budget = 3 * layout.show + 10 * layout.sample + layout.folders * layout.sample + 200 + layout.show
    assert s.pictured <= budget and s.decoded <= budget
    assert s.decoded <= len({r["path"] for r in rows})


def test_grid_up_to_the_limit_samples_beyond_and_options_force_either(lfw_scores, tmp_path, monkeypatch):
    assert build(lfw_scores, tmp_path / "a.html").grid
    monkeypatch.setattr(plan, "GRID_LIMIT", 10)
    assert not build(lfw_scores, tmp_path / "b.html").grid
    assert build(lfw_scores, tmp_path / "c.html", grid=True).grid
    with pytest.raises(Exception, match=r"--show must be an integer in \[1, "):
        build(lfw_scores, tmp_path / "d.html", show=0)


# ---- invariance ---------------------------------------------------------------------------------
def _shown(csv_path: Path, html: Path) -> dict[str, list[tuple[str, str]]]:
    rows = read_csv(csv_path)
    return {where: faces_of(rows, ids) for where, ids in Page(html).cards.items()}


def _thumbs(csv_path: Path, summary) -> dict[tuple[str, str], bytes]:
    rows = read_csv(csv_path)
    out = {}
    for ids in Page(summary.html).cards.values():
        for i in ids:
            file = summary.files_dir / thumb_name(i)
            if file.exists():
                out[(rows[i]["path"], rows[i]["face"])] = file.read_bytes()
    return out


def _between(html: Path, start: str, stop: str) -> str:
    text = Page(html).text
    return text[text.index(start) : text.index(stop)]


def test_statistics_and_selected_faces_do_not_depend_on_row_order_or_workers(lfw_scores, tmp_path):
    rows = read_csv(lfw_scores)
    for r in rows:  # whole numbers: many ties, so the order must come from the paths, not the rows
        r["quality"] = r["quality"] and str(round(float(r["quality"])))
    shuffled = [dict(r) for r in rows]  # copy_csv rewrites the rows' paths: separate dicts
    random.Random(3).shuffle(shuffled)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = copy_csv(lfw_scores, tmp_path / "a", rows)
    second = copy_csv(lfw_scores, tmp_path / "b", shuffled)
    options = dict(grid=False, threshold=20.0, show=7, sample=4, folders=5, embed=False)
    a = build(first, tmp_path / "a" / "r.html", workers=0, **options)
    b = build(second, tmp_path / "b" / "r.html", workers=2, **options)
    assert (a.scored, a.below, a.pictured, a.decoded) == (b.scored, b.below, b.pictured, b.decoded)
    assert _shown(first, a.html) == _shown(second, b.html)
    thumbs = _thumbs(first, a)
    assert len(thumbs) > 20 and thumbs == _thumbs(second, b)  # the same faces, the same bytes
    for start, stop in (("Rows per status", "report made at"), ("Quality distribution", "Lowest quality")):
        assert _between(a.html, start, stop) == _between(b.html, start, stop)
    assert _between(a.html, "Statistics per sub-folder", "Made with") == _between(
        b.html, "Statistics per sub-folder", "Made with"
    )


# ---- several faces per photo ---------------------------------------------------------------------
def test_face_index_is_shown_where_a_photo_has_several_faces(kit_scores, kit_report):
    rows = read_csv(kit_scores)
    per_photo = {}
    for r in rows:
        if r["face"]:
            per_photo[r["path"]] = per_photo.get(r["path"], 0) + 1
    several = {i for i, r in enumerate(rows) if r["status"] == "ok" and per_photo.get(r["path"], 0) > 1}
    assert several  # the kit has group photos
    page = Page(kit_report.html)
    labels = page.find("span", "fi")
    assert len(labels) == len(several)
    html = kit_report.html.read_text(encoding="utf-8")
    for i in several:
        card = html[html.index(f'data-row="{i}"') :]
        card = card[: card.index("</summary>")]
        assert f"face {rows[i]['face']} of {per_photo[rows[i]['path']]}" in card


# ---- reading ----------------------------------------------------------------------------------------
def test_column_reader_agrees_with_the_csv_module(lfw_scores):
    rows = read_csv(lfw_scores)
    table = read_scores(lfw_scores)
    got = table.rows(range(len(rows)))
    for r, g in zip(rows, got, strict=True):
        assert (g.path, g.status, g.message) == (r["path"], r["status"], r["message"])
        assert g.face == (int(r["face"]) if r["face"] else None)
        q = float(r["quality"]) if r["quality"] else math.nan
        assert g.quality == q or (math.isnan(g.quality) and not math.isfinite(q))
        lm = tuple(float(r[c]) for c in LANDMARK_COLUMNS) if r["lm0_x"] else None
        assert g.landmarks == lm
        assert g.source == os.path.normpath(lfw_scores.parent / r["path"])


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def test_byte_order_mark_quoted_newlines_and_extra_columns_are_read(lfw_scores, tmp_path):
    rows = read_csv(lfw_scores)[:5]
    rows[1]["message"] = 'a message\nover two lines, with "quotes"'
    rows[2]["quality"] = " 1.5 "
    out = tmp_path / "scores.csv"
    with open(out, "w", newline="", encoding="utf-8-sig") as f:
        # an extra column, and none of the columns the report does not read (an older aikd's CSV)
        writer = csv.DictWriter(f, fieldnames=["extra", *REPORT_COLUMNS], extrasaction="ignore")
        writer.writeheader()
        writer.writerows({"extra": "x"} | r for r in rows)
    table = read_scores(out)
    got = table.rows(range(5))
    assert got[1].message == rows[1]["message"] and got[2].quality == 1.5
    assert [g.path for g in got] == [r["path"] for r in rows]


def _line(*cells: str, message: str = "") -> str:
    """A CSV line: these cells first, then empty cells up to the last (message) cell."""
    return ",".join([*cells, *[""] * (len(SCORE_COLUMNS) - len(cells) - 1), message])


@pytest.mark.parametrize(
    "lines, message",
    [
        (
            [_line("a.jpg", "0", "0.5"), _line("b.jpg", "0", "x", message='"two\nlines"')],
            ":4: column quality: 'x' is not",
        ),
        ([_line("a.jpg", "1.5", "0.5")], ":2: column face: '1.5' is not an integer"),
        ([_line("a.jpg", "0", "0.5") + ","], ":2: row has more cells"),
        (
            [_line("a.jpg", "0", "0.5", "0.9", "1", "2", "3", "4", "5")],
            ":2: landmark cells must be all empty or all numbers",
        ),
    ],
)
def test_bad_cells_name_the_line_and_column(tmp_path, lines, message):
    path = _write(tmp_path / "bad.csv", ",".join(SCORE_COLUMNS) + "\n" + "\n".join(lines) + "\n")
    with pytest.raises(InputFormatError, match=message):
        read_scores(path)


def test_non_utf8_rows_are_one_line_errors(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(
        (",".join(SCORE_COLUMNS) + "\n").encode() + "caf\xe9.jpg".encode("latin-1") + b"," * 19 + b"\n"
    )
    with pytest.raises(InputFormatError, match="not a UTF-8 text CSV"):
        read_scores(path)


def test_folder_statistics_are_numpys_exactly(lfw_scores):
    rows = read_csv(lfw_scores)
    table = read_scores(lfw_scores)
    groups = group_stats(table, face_order(table), threshold=18.0)
    assert len(groups) == len({folder(r["path"]) for r in rows})
    for g in groups:
        mine = [r for r in rows if folder(r["path"]).endswith("/" + g.name)]
        q = np.array([float(r["quality"]) for r in mine if r["status"] == "ok"])
        assert (g.rows, g.failures, g.quality.count) == (len(mine), len(mine) - len(q), len(q))
        if len(q):
            assert g.quality.percentiles == dict(zip(PERCENTILES, np.percentile(q, PERCENTILES).tolist()))
            assert (g.quality.min, g.quality.max, g.quality.below) == (
                q.min(),
                q.max(),
                int((q < 18.0).sum()),
            )
            assert g.quality.mean == pytest.approx(q.mean(), rel=1e-12)
            assert g.quality.std == pytest.approx(q.std(), rel=1e-9)
