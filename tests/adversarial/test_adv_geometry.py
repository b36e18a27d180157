"""Degenerate landmarks (issue 12, item 8): all zeros, collapsed points, 1e308 or 1e20 coordinates
gave ``LinAlgError``, ``cannot convert float NaN to integer``, or an "ok" score of a garbage crop.
Each such face is now a ``bad_landmarks`` row (score, align, evaluate) or a placeholder (report)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from adversarial_helpers import LFW_LANDMARKS, cli, one_line_error, rows, write_landmarks

DEGENERATE = {
    "zeros": [0.0] * 10,
    "collapsed": [120.0, 120.0] * 5,
    "huge": [1e308] * 10,
    "far-away": [1e20, 0.0, 1e20 + 50, 0.0, 1e20 + 25, 30.0, 1e20, 50.0, 1e20 + 50, 50.0],
}


@pytest.fixture()
def bad_landmarks(photos, tmp_path):
    """``photos/a.jpg`` with good landmarks; ``b.jpg`` and copies with each degenerate set."""
    faces = {photos / "a.jpg": LFW_LANDMARKS}
    for name, values in DEGENERATE.items():
        target = photos / f"{name}.jpg"
        target.write_bytes((photos / "b.jpg").read_bytes())
        faces[target] = values
    (photos / "b.jpg").unlink()
    return write_landmarks(tmp_path / "bad.csv", faces)


def test_score_gives_bad_landmarks_rows_and_goes_on(photos, bad_landmarks, qmodel, tmp_path):
    out = tmp_path / "s.csv"
    result = cli("score", photos, "--landmarks", bad_landmarks, "-m", qmodel, "-o", out, "-j", 0)
    assert result.exit_code == 0, result.output
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in rows(out)}
    assert by_name["a.jpg"]["status"] == "ok"
    for name in DEGENERATE:
        row = by_name[f"{name}.jpg"]
        assert row["status"] == "bad_landmarks" and row["quality"] == "" and row["message"], row


def test_align_gives_bad_landmarks_rows_and_no_crops(photos, bad_landmarks, tmp_path):
    out = tmp_path / "aligned"
    result = cli("align", photos, "-o", out, "--landmarks", bad_landmarks, "-j", 0)
    assert result.exit_code == 0, result.output
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in rows(out / "landmarks.csv")}
    assert by_name["a.jpg"]["status"] == "ok" and (out / "a.jpg.png").is_file()
    for name in DEGENERATE:
        assert by_name[f"{name}.jpg"]["status"] == "bad_landmarks" and not (out / f"{name}.jpg.png").exists()


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "1e9"])
def test_align_perturb_out_of_range_is_a_usage_error(value, photos, tmp_path):
    result = cli("align", photos, "-o", tmp_path / "aligned", "--perturb", value,
                 "--landmarks", tmp_path / "landmarks.csv")
    one_line_error(result, "--perturb must be a finite number")
    assert not (tmp_path / "aligned").exists()


def test_evaluate_excludes_faces_with_degenerate_landmarks(photos, bad_landmarks, qmodel, tmp_path):
    """The model-run path of evaluate: degenerate landmarks exclude the face, with the reason."""
    names = ["a.jpg", *(f"{n}.jpg" for n in DEGENERATE)]
    pairs = tmp_path / "pairs.csv"
    with open(pairs, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path_a", "path_b", "mated", "score"])
        writer.writerows([photos / a, photos / b, int(i % 2 == 0), 0.5] for i, (a, b) in
                         enumerate(zip(names, names[1:] + names[:1])))
        writer.writerow([photos / "a.jpg", photos / "a.jpg", 1, 0.9])  # dropped as a self-comparison
    out = tmp_path / "ev"
    result = cli("evaluate", "-p", pairs, "--score-column", "score", "-m", qmodel, "--landmarks", bad_landmarks,
                 "--threshold", 0.5, "--no-cache", "-o", out, "-j", 0)
    # every pair touches a degenerate face: nothing is left, and the error says why
    error = one_line_error(result, "no mated pairs left", quiet=False)
    assert "landmarks" in error


def test_report_shows_a_placeholder_for_landmarks_it_cannot_align(photos, tmp_path):
    from aikd_cli.tasks.score import SCORE_COLUMNS

    scores = tmp_path / "s.csv"
    with open(scores, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, SCORE_COLUMNS)
        writer.writeheader()
        for name, values in (("a.jpg", LFW_LANDMARKS), ("b.jpg", DEGENERATE["collapsed"]),
                             ("b.jpg", DEGENERATE["far-away"])):
            row = dict.fromkeys(SCORE_COLUMNS, "")
            row.update(path=str(photos / name), face="0", quality="0.5", status="ok")
            row.update({f"lm{i // 2}_{'xy'[i % 2]}": str(v) for i, v in enumerate(values)})
            writer.writerow(row)
    result = cli("report", scores, "-o", tmp_path / "r.html", "-j", 0)
    assert result.exit_code == 0, result.output
    assert "faces pictured │ 1 " in result.stdout.replace("┃", "│")
    assert np.isfinite(float(rows(scores)[0]["quality"]))
