"""CSV inputs (issue 12, items 7 and 18): relative CSV paths and relative ``path`` cells resolve
the same from any working directory, and every reader takes a UTF-8 BOM, semicolon or tab
separators alike, and refuses other encodings in one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from adversarial_helpers import LFW_LANDMARKS, cli, one_line_error, rows, write_landmarks


def resave(path: Path, *, bom: bool = False, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    """``path`` as a spreadsheet might save it: with a BOM, other separators, another encoding."""
    with open(path, newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else encoding) as f:
        csv.writer(f, delimiter=delimiter).writerows(table)
    return path


SPREADSHEETS = {"bom": {"bom": True}, "semicolon": {"delimiter": ";"}, "tab-bom": {"bom": True, "delimiter": "\t"}}


@pytest.fixture()
def moved_kit(tmp_path, photos):
    """``kit/photos`` and ``kit/lm.csv`` with cells relative to the CSV; work happens in ``work/``."""
    kit = tmp_path / "kit"
    kit.mkdir()
    photos.rename(kit / "photos")
    write_landmarks(kit / "lm.csv", {kit / "photos" / n: LFW_LANDMARKS for n in ("a.jpg", "b.jpg")}, relative_to=kit)
    (tmp_path / "work").mkdir()
    return kit


def test_relative_landmark_csv_with_relative_cells_from_another_folder(moved_kit, qmodel, tmp_path, monkeypatch):
    """Item 7: a CSV named by a relative path whose cells are relative to its own folder."""
    monkeypatch.chdir(tmp_path / "work")
    result = cli("score", "../kit/photos", "--landmarks", "../kit/lm.csv", "-m", qmodel, "-o", "s.csv", "-j", 0)
    assert result.exit_code == 0, result.output
    assert [r["status"] for r in rows(Path("s.csv"))] == ["ok", "ok"]


@pytest.mark.parametrize("style", SPREADSHEETS)
def test_a_resaved_landmark_csv_gives_the_same_scores(style, moved_kit, qmodel, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path / "work")
    assert cli("score", "../kit/photos", "--landmarks", "../kit/lm.csv", "-m", qmodel, "-o", "plain.csv",
               "-j", 0).exit_code == 0
    resave(moved_kit / "lm.csv", **SPREADSHEETS[style])
    result = cli("score", "../kit/photos", "--landmarks", "../kit/lm.csv", "-m", qmodel, "-o", "resaved.csv", "-j", 0)
    assert result.exit_code == 0, result.output
    assert [r["quality"] for r in rows(Path("resaved.csv"))] == [r["quality"] for r in rows(Path("plain.csv"))]


@pytest.fixture()
def identity_kit(tmp_path):
    """``x/identities.csv`` (relative cells), ``x/q.csv`` and ``x/emb.npz``: an all-pairs protocol
    that needs no images and no model (precomputed embeddings)."""
    x = tmp_path / "x"
    x.mkdir()
    rng = np.random.default_rng(1)
    paths = [f"p{i}/{j}.jpg" for i in range(6) for j in range(3)]
    centres = rng.normal(size=(6, 8))
    emb = np.stack([centres[int(p[1])] + 0.3 * rng.normal(size=8) for p in paths]).astype(np.float32)
    np.savez(x / "emb.npz", paths=np.array(paths), embeddings=emb)
    with open(x / "identities.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["path", "identity"], *([p, p.split("/")[0]] for p in paths)])
    with open(x / "q.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["path", "quality"], *([p, f"{rng.uniform():.3f}"] for p in paths)])
    (tmp_path / "work").mkdir()
    return x


def _evaluate_identities(tmp_path) -> dict:
    result = cli("evaluate", "--identities", "../x/identities.csv", "-q", "../x/q.csv", "--embeddings", "../x/emb.npz",
                 "--threshold", 0.5, "-o", "ev")
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / "work" / "ev" / "results.json").read_text())


def test_evaluate_identities_from_a_relative_csv_uses_every_pair(identity_kit, tmp_path, monkeypatch):
    """Item 7: ``evaluate --identities ../x/identities.csv`` excluded every pair."""
    monkeypatch.chdir(tmp_path / "work")
    data = _evaluate_identities(tmp_path)
    dataset = data["datasets"][0]
    assert dataset["pairs_used"] == dataset["pairs_read"] == 18 * 17 // 2


@pytest.mark.parametrize("style", SPREADSHEETS)
def test_evaluate_reads_resaved_csvs_alike(style, identity_kit, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path / "work")
    plain = _evaluate_identities(tmp_path)
    for name in ("identities.csv", "q.csv"):
        resave(identity_kit / name, **SPREADSHEETS[style])
    again = _evaluate_identities(tmp_path)
    assert again["datasets"] == plain["datasets"]


@pytest.mark.parametrize("style", SPREADSHEETS)
def test_report_and_resume_read_a_resaved_score_csv(style, crops, qmodel, tmp_path):
    scores = tmp_path / "s.csv"
    assert cli("score", crops / "c0.png", crops / "c1.png", "--aligned", "-m", qmodel, "-o", scores,
               "-j", 0).exit_code == 0
    resave(scores, **SPREADSHEETS[style])
    assert cli("report", scores, "-o", tmp_path / "r.html", "-j", 0).exit_code == 0
    result = cli("score", crops, "--aligned", "-m", qmodel, "-o", scores, "--resume", "-j", 0)
    assert result.exit_code == 0, result.output
    assert "2 rows kept" in result.stderr
    assert sorted(Path(r["path"]).name for r in rows(scores)) == ["c0.png", "c1.png", "c2.png"]


def test_every_csv_reader_refuses_another_encoding_in_one_line(crops, qmodel, tmp_path, eval_inputs, photos):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("path,quality,identité\nä.jpg,0.5,x\n".encode("latin-1"))
    pairs, quality = eval_inputs
    cases = [
        ("score", crops, "--aligned", "-m", qmodel, "-o", latin, "--resume"),
        ("score", photos, "--landmarks", latin, "-m", qmodel, "-o", tmp_path / "s.csv"),
        ("report", latin, "-o", tmp_path / "r.html"),
        ("evaluate", "-p", pairs, "--score-column", "score", "-q", latin, "--threshold", 0.5, "-o", tmp_path / "e"),
        ("evaluate", "--identities", latin, "--score-column", "score", "-q", quality, "-o", tmp_path / "e"),
    ]
    for args in cases:
        one_line_error(cli(*args), "latin.csv", "not a UTF-8 text")


def test_score_resume_over_random_bytes_is_refused_before_any_work(crops, qmodel, tmp_path, monkeypatch):
    """Item 10: ``score --resume`` over a random-bytes file raised UnicodeDecodeError."""
    from aikd_cli.tasks.score import scoring as score_mod

    garbage = tmp_path / "s.csv"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    before = garbage.read_bytes()
    monkeypatch.setattr(score_mod, "open_face_model", lambda *a, **k: pytest.fail("model loaded"))
    one_line_error(cli("score", crops, "--aligned", "-m", qmodel, "-o", garbage, "--resume"), "cannot resume")
    assert garbage.read_bytes() == before


def test_a_file_name_that_is_not_utf8_round_trips_through_every_command(photos, qmodel, tmp_path):
    """Issue 21: ``caf\\xe9.jpg`` (a Latin-1 byte in a Linux file name) raised UnicodeEncodeError in
    the CSV writer (exit 1). The name is written as ``caf\\xe9.jpg`` text, the CSV stays UTF-8, and
    ``--resume``, ``evaluate`` and ``report`` find the file again."""
    import os

    with open(os.path.join(os.fsencode(photos), b"caf\xe9.jpg"), "wb") as f:
        f.write((photos / "a.jpg").read_bytes())
    lm = tmp_path / "lm.csv"
    with open(lm, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "face", *(f"lm{i}_{a}" for i in range(5) for a in "xy")])
        writer.writerows([f"photos/{name}", 0, *LFW_LANDMARKS] for name in ("a.jpg", "b.jpg", "caf\\xe9.jpg"))
    out = tmp_path / "s.csv"
    result = cli("score", photos, "--landmarks", lm, "-m", qmodel, "-o", out, "-j", 0)
    assert result.exit_code == 0, result.output
    text = out.read_bytes().decode("utf-8")  # still UTF-8 text
    assert "photos/caf\\xe9.jpg," in text and [r["status"] for r in rows(out)] == ["ok"] * 3
    again = cli("score", photos, "--landmarks", lm, "-m", qmodel, "-o", out, "-j", 0, "--resume")
    assert again.exit_code == 0 and "3 rows kept" in again.stderr and out.read_bytes().decode("utf-8") == text
    # evaluate: a pairs list naming the file as the score CSV does
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("path_a,path_b,mated,score\nphotos/a.jpg,photos/caf\\xe9.jpg,1,0.8\n"
                     "photos/b.jpg,photos/caf\\xe9.jpg,0,0.1\nphotos/a.jpg,photos/b.jpg,0,0.2\n", encoding="utf-8")
    result = cli("evaluate", "-p", pairs, "--score-column", "score", "-q", out, "--threshold", 0.5, "-o", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    (dataset,) = json.loads((tmp_path / "ev" / "results.json").read_text())["datasets"]
    assert dataset["pairs_used"] == 3 and not dataset["sample_issues"]
    # report: the thumbnail is cut from the file itself
    result = cli("report", out, "-o", tmp_path / "r.html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count('<img class="thumb"') == 3 and "caf\\xe9.jpg" in page and "unavailable" not in page
