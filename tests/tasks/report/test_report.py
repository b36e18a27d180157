"""``aikd report``: numbers, thumbnails, pages and bad input, checked against the CSV and the engine."""

from __future__ import annotations

import base64
import csv
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
import torch
from paths import SRC
from report_helpers import Page, build_report, decode_picture, read_csv
from scorecsv import write_score_csv

from aikd_cli.errors import AikdError, InputFormatError
from aikd_cli.faces.align import align_faces
from aikd_cli.faces.landmarks import LANDMARK_COLUMNS
from aikd_cli.images.decode import load_image
from aikd_cli.tasks.report.data import read_scores
from aikd_cli.tasks.report.histogram import bins_of
from aikd_cli.tasks.report.stats import face_order, group_stats
from aikd_cli.tasks.report.thumbnails import thumb_name
from aikd_cli.tasks.score import SCORE_COLUMNS


def build(csv_path: Path, out: Path, **kw):
    kw.setdefault("workers", 0)
    return build_report(csv_path, out, progress=False, **kw)


def qualities(rows) -> np.ndarray:
    return np.array([float(r["quality"]) for r in rows if r["status"] == "ok"])


def copy_csv(csv_path: Path, folder: Path, rows=None, meta: bool = True) -> Path:
    """The CSV (optionally with edited rows) in ``folder``, paths rewritten to stay valid."""
    rows = read_csv(csv_path) if rows is None else rows
    out = folder / "scores.csv"
    for r in rows:
        r["path"] = os.path.relpath(csv_path.parent / r["path"], folder)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=SCORE_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    sidecar = csv_path.with_name(csv_path.name + ".meta.json")
    if meta and sidecar.exists():
        shutil.copy(sidecar, out.with_name(out.name + ".meta.json"))
    return out


# ---- the kit report -----------------------------------------------------------------------------
def test_kit_report_counts_order_and_threshold_match_the_csv(kit_scores, kit_report):
    rows = read_csv(kit_scores)
    q = qualities(rows)
    threshold = float(np.percentile(q, 25))
    s = kit_report
    assert s.threshold == threshold
    assert (s.rows, s.faces, s.scored) == (len(rows), len(q), len(q))
    assert s.below == int((q < threshold).sum()) > 0
    page = Page(s.html)
    ids = page.face_ids()
    assert sorted(ids) == [i for i, r in enumerate(rows) if r["status"] == "ok"]
    shown = [float(rows[i]["quality"]) for i in ids]
    assert shown == sorted(shown)  # lowest quality first
    assert len(page.find("li", "below")) == s.below
    thumbs = page.find("img", "thumb")
    assert len(thumbs) == len(q)
    if s.embedded:
        assert all(t["src"].startswith("data:image/jpeg;base64,") for t in thumbs)
    assert all(t["alt"] and t["loading"] == "lazy" for t in thumbs)
    assert "mobilefacenet-norm (test stand-in)" in page.text  # from the sidecar
    assert len(page.find("script")) == 0
    # the threshold line is drawn where the bins split
    assert any("thr" in a.get("class", "") for t, a in page.tags if t == "line")


def test_thumbnail_is_the_crop_the_model_saw(kit_scores, kit_report):
    rows = read_csv(kit_scores)
    s = kit_report
    page = Page(s.html)
    src_of = {int(a["id"][1:]): None for a in page.find("li", "face")}
    ordered = page.face_ids()
    for index, img in zip(ordered, page.find("img", "thumb"), strict=True):
        src_of[index] = img["src"]
    ok = [i for i, r in enumerate(rows) if r["status"] == "ok"]
    for index in (ok[0], ok[len(ok) // 2], ok[-1]):
        row = rows[index]
        image = torch.from_numpy(load_image(kit_scores.parent / row["path"]).copy()).permute(2, 0, 1)
        lm = torch.tensor([float(row[c]) for c in LANDMARK_COLUMNS], dtype=torch.float64).reshape(1, 5, 2)
        expected = align_faces(image, lm, 112)[0][0].permute(1, 2, 0).numpy().astype(np.float64)
        shown = decode_picture(src_of[index], s.html).astype(np.float64)
        assert shown.shape == (112, 112, 3)
        assert np.abs(shown - expected).mean() < 3.0  # JPEG (q90, 4:4:4) of the very same crop
        other = decode_picture(src_of[ok[1] if index != ok[1] else ok[2]], s.html).astype(np.float64)
        assert np.abs(other - expected).mean() > 10.0  # and not just any face


def test_histogram_bins_put_the_threshold_on_an_edge_and_count_everything():
    rng = np.random.default_rng(0)
    values = np.sort(rng.normal(0.5, 0.15, 1000))
    for threshold in (None, 0.4321, float(values[0]) - 0.2, float(values[-1]) + 0.1):
        bins = bins_of(values, 40, threshold)
        assert sum(b.count for b in bins) == len(values)
        for b in bins[:-1]:
            assert b.count == int(((values >= b.lo) & (values < b.hi)).sum())
        if threshold is not None:
            assert (
                min(abs(b.lo - threshold) for b in bins + [bins[-1]]) < 1e-9
                or abs(bins[-1].hi - threshold) < 1e-9
            )
            assert bins[0].lo <= threshold <= bins[-1].hi
        assert bins[0].lo <= values[0] and bins[-1].hi >= values[-1]


# ---- what goes wrong in real folders --------------------------------------------------------------
def test_failures_and_moved_images_are_shown_not_fatal(lfw_scores, tmp_path):
    rows = read_csv(lfw_scores)
    s = build(lfw_scores, tmp_path / "r.html")
    assert s.failures == {"no_face": 1, "unreadable": 1}
    assert s.missing_images == 2
    moved = [
        i for i, r in enumerate(rows) if r["status"] == "ok" and not (lfw_scores.parent / r["path"]).exists()
    ]
    assert moved
    page = Page(s.html)
    placeholders = page.find("span", "ph")
    assert len(placeholders) == len(moved)
    assert all("no such file" in p["aria-label"] for p in placeholders)
    assert len(page.find("img", "thumb")) == s.faces - len(moved)
    failures = page.text[page.text.index("Failures") :]
    for name in ("blank.png", "notes.jpg", "no face detected"):
        assert name in failures
    assert any(
        "blank.png" in a.get("alt", "") for a in page.find("img", "mini")
    )  # the no-face photo is shown


def test_nan_scores_are_listed_last_and_left_out_of_the_statistics(lfw_scores, tmp_path):
    rows = read_csv(lfw_scores)
    ok = [i for i, r in enumerate(rows) if r["status"] == "ok"]
    for i, value in zip(ok[2:5], ("nan", "", "inf"), strict=True):
        rows[i]["quality"] = value
    csv_path = copy_csv(lfw_scores, tmp_path, rows)
    finite = np.array([float(rows[i]["quality"]) for i in ok if i not in ok[2:5]])
    threshold = float(np.median(finite))
    s = build(csv_path, tmp_path / "r.html", threshold=threshold)
    assert s.scored == len(ok) - 3 and s.faces == len(ok)
    assert s.below == int((finite < threshold).sum())
    page = Page(s.html)
    assert sorted(page.face_ids()[-3:]) == ok[2:5]
    assert page.text.count("no score") == 3
    assert "3 detected faces have no valid quality" in page.text


def test_markup_in_file_names_and_messages_is_escaped(assets, scorer, tmp_path):
    # the path cell reads <img src=x onerror=alert(2)>/<script>alert(1)</script>&"'.jpg
    evil = "<script>alert(1)</script>&\"'.jpg"
    evil_dir = tmp_path / "<img src=x onerror=alert(2)>" / "<script>alert(1)<"
    evil_dir.mkdir(parents=True)
    name = "script>&\"'.jpg"
    photo = sorted((assets / "lfw").glob("*/*.jpg"))[0]
    shutil.copy(photo, evil_dir / name)
    shutil.copy(photo, evil_dir / "plain.jpg")
    (tmp_path / "other").mkdir()
    shutil.copy(photo, tmp_path / "other" / "x.jpg")
    csv_path = tmp_path / "scores.csv"
    rows = scorer([evil_dir / name, evil_dir / "plain.jpg", tmp_path / "other" / "x.jpg"], csv_path)
    rows.append(
        {c: "" for c in SCORE_COLUMNS}
        | {"path": "<b>bold</b>.jpg", "status": "error", "message": "<iframe src=javascript:alert(3)>"}
    )
    meta = {"model": "<script>alert(4)</script>", "detector": "d", "version": "v", "created": "c"}
    write_score_csv(csv_path, rows, meta)
    s = build(csv_path, tmp_path / "r.html", per_page=1, threshold=1.0)
    pages = [s.html, *sorted(s.files_dir.glob("*.html"))]
    assert len(pages) == s.pages
    for html_file in pages:
        page = Page(html_file)
        tags = {t for t, _ in page.tags}
        assert not tags & {"script", "iframe", "b", "object", "embed"}, html_file
        assert not [k for _, a in page.tags for k in a if k.startswith("on")]
        for img in page.find("img"):
            assert img["src"].startswith(("data:", "thumbs/", "previews/", s.files_dir.name + "/"))
    text = "".join(Page(p).text for p in pages)
    assert evil in text  # shown, as text
    assert "<iframe src=javascript:alert(3)>" in text and "<script>alert(4)</script>" in text
    # the original-photo link is percent-encoded and still leads to the file
    links = [(p, a["href"]) for p in pages for a in Page(p).find("a") if evil in unquote(a.get("href", ""))]
    assert links and all((p.parent / unquote(h)).exists() for p, h in links)


# ---- pages, folders, workers ----------------------------------------------------------------------
def test_paged_report_links_every_face_once_and_all_files_exist(lfw_scores, tmp_path):
    rows = read_csv(lfw_scores)
    s = build(lfw_scores, tmp_path / "r.html", per_page=25, workers=1, threshold=20.0)  # 82 images: a pool
    assert not s.embedded and s.pages == math.ceil(s.faces / 25) > 2
    pages = [s.html] + [s.files_dir / f"page-{p:04d}.html" for p in range(2, s.pages + 1)]
    seen = []
    anchors = {}
    for html_file in pages:
        page = Page(html_file)
        ids = page.face_ids()
        assert 0 < len(ids) <= 25
        seen += ids
        anchors[html_file.resolve()] = {a["id"] for _, a in page.tags if "id" in a}
    assert sorted(seen) == [i for i, r in enumerate(rows) if r["status"] == "ok"]
    assert not (s.files_dir / f"page-{s.pages + 1:04d}.html").exists()
    for html_file in pages:
        page = Page(html_file)
        for img in page.find("img"):
            assert (html_file.parent / unquote(img["src"])).is_file(), img["src"]
        for a in page.find("a"):
            target, _, anchor = a["href"].partition("#")
            if not target.endswith(".html"):
                continue
            path = (html_file.parent / unquote(target)).resolve()
            assert path in anchors, a["href"]
            assert not anchor or anchor in anchors[path], a["href"]
    # parallel workers write the very bytes an in-process, embedded build shows
    embedded = build(lfw_scores, tmp_path / "e.html", embed=True)
    page = Page(embedded.html)
    first = page.face_ids()[0]
    data = base64.b64decode(page.find("img", "thumb")[0]["src"].split(",", 1)[1])
    assert (s.files_dir / thumb_name(first)).read_bytes() == data


def test_groups_are_sub_folders_named_relative_to_their_common_parent(lfw_scores):
    table = read_scores(lfw_scores)
    groups = {g.name: g for g in group_stats(table, face_order(table), threshold=20.0)}
    people = {p.name for p in (lfw_scores.parent / "photos").iterdir()}
    assert set(groups) == people
    rows = read_csv(lfw_scores)
    for name, g in groups.items():
        mine = [r for r in rows if f"/{name}/" in "/" + r["path"]]
        q = qualities(mine)
        assert g.rows == len(mine) and g.quality.count == len(q)
        if len(q):
            assert g.quality.median == pytest.approx(float(np.median(q)))
            assert g.quality.below == int((q < 20.0).sum())
    medians = [g.quality.median for g in groups.values() if g.quality.count]
    assert medians == sorted(medians)


def test_rebuild_replaces_its_own_folder_but_never_a_foreign_one(lfw_scores, tmp_path):
    s = build(lfw_scores, tmp_path / "r.html", per_page=10)
    assert (s.files_dir / f"page-{s.pages:04d}.html").exists()
    again = build(lfw_scores, tmp_path / "r.html", per_page=40)
    assert again.pages < s.pages and not (s.files_dir / f"page-{s.pages:04d}.html").exists()
    single = build(lfw_scores, tmp_path / "r.html", per_page=1000)  # now embedded: no folder left behind
    assert single.embedded and single.files_dir is None and not s.files_dir.exists()
    foreign = tmp_path / "mine_files"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(AikdError, match="not made by aikd report"):
        build(lfw_scores, tmp_path / "mine.html", per_page=10)
    assert (foreign / "thesis.tex").read_text() == "precious"
    assert not list(tmp_path.glob(".*partial*"))


def test_missing_or_broken_sidecar_still_builds(lfw_scores, tmp_path):
    csv_path = copy_csv(lfw_scores, tmp_path, meta=False)
    s = build(csv_path, tmp_path / "a.html")
    assert any("model and detector unknown" in n for n in s.notes)
    assert "unknown" in Page(s.html).text
    csv_path.with_name(csv_path.name + ".meta.json").write_text("{not json")
    s = build(csv_path, tmp_path / "b.html")
    assert any("unreadable" in n for n in s.notes)


# ---- bad input ------------------------------------------------------------------------------------
def run_cli(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "aikd_cli", *args], capture_output=True, text=True, env=env, cwd=cwd
    )


def test_csv_from_another_tool_names_the_missing_columns(tmp_path):
    csv_path = tmp_path / "other.csv"
    csv_path.write_text("path,quality,face\na.jpg,0.5,0\n")
    with pytest.raises(InputFormatError, match="missing columns: det_score, box_x1") as info:
        read_scores(csv_path)
    assert "lm4_y" in str(info.value) and "status" in str(info.value)
    result = run_cli("report", str(csv_path))
    assert result.returncode == 2
    assert "missing columns" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty file"),
        (
            ",".join(SCORE_COLUMNS) + "\na.jpg,0,abc" + "," * (len(SCORE_COLUMNS) - 3) + "\n",
            ":2: column quality",
        ),
        (",".join(SCORE_COLUMNS) + "\na.jpg,0,0.5\n", "fewer cells"),
    ],
)
def test_malformed_csvs_are_one_line_errors(tmp_path, content, message):
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text(content)
    with pytest.raises(InputFormatError, match=message):
        read_scores(csv_path)


def test_bad_options_are_refused(lfw_scores, tmp_path):
    with pytest.raises(AikdError, match="per-page"):
        build(lfw_scores, tmp_path / "r.html", per_page=0)
    with pytest.raises(AikdError, match="finite"):
        build(lfw_scores, tmp_path / "r.html", threshold=float("nan"))
    with pytest.raises(AikdError, match="would overwrite the input"):
        build(lfw_scores, lfw_scores)


def test_cli_writes_the_report_and_prints_where(lfw_scores, tmp_path):
    result = run_cli(
        "report",
        str(lfw_scores),
        "-o",
        str(tmp_path / "out" / "q.html"),
        "-t",
        "20",
        "--per-page",
        "30",
        "-j",
        "0",
        "--title",
        "LFW sample",
    )
    assert result.returncode == 0, result.stderr
    assert str(tmp_path / "out" / "q.html") in result.stdout.replace("\n", "")
    page = Page(tmp_path / "out" / "q.html")
    assert "LFW sample" in page.text and len(page.face_ids()) == 30
    assert "could not be read now" in result.stderr  # the moved images are reported
    meta = json.loads(lfw_scores.with_name(lfw_scores.name + ".meta.json").read_text())
    assert meta["model"] in page.text
