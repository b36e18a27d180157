"""Folder walks (issue 12, items 6, 11, 15): links to folders are not followed unless asked (and
then each folder once, so loops end), an unreadable sub-folder is a row, and a mistyped top-level
input is a usage error for every command."""

from __future__ import annotations

import os

import pytest
from adversarial_helpers import cli, one_line_error, rows


@pytest.fixture()
def looped(tmp_path, crops):
    """``d/a/x.png`` with two links back up (``d/a/up1 -> ..``, ``d/a/up2 -> ..``: exponential when
    followed naively) and ``d/ext``, a link to a folder outside with one more image."""
    d = tmp_path / "d"
    (d / "a").mkdir(parents=True)
    (d / "a" / "x.png").write_bytes((crops / "c0.png").read_bytes())
    (d / "a" / "up1").symlink_to("..")
    (d / "a" / "up2").symlink_to("..")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "y.png").write_bytes((crops / "c1.png").read_bytes())
    (d / "ext").symlink_to(outside)
    return d


def test_folder_links_are_not_followed_by_default(looped, qmodel, tmp_path):
    out = tmp_path / "s.csv"
    result = cli("score", looped, "--aligned", "-m", qmodel, "-o", out, "-j", 0)
    assert result.exit_code == 0, result.output
    assert [os.path.relpath(tmp_path / r["path"], looped) for r in rows(out)] == [os.path.join("a", "x.png")]


def test_follow_links_walks_each_folder_once(looped, qmodel, tmp_path):
    out = tmp_path / "s.csv"
    result = cli("score", looped, "--aligned", "-m", qmodel, "-o", out, "--follow-links", "-j", 0)
    assert result.exit_code == 0, result.output
    found = rows(out)
    assert sorted(os.path.basename(r["path"]) for r in found) == ["x.png", "y.png"]
    assert all(r["status"] == "ok" for r in found)  # no "duplicate input" rows from the loops


def test_align_takes_follow_links_too(looped, tmp_path):
    out = tmp_path / "aligned"
    result = cli("align", looped, "-o", out, "--follow-links", "--landmarks", tmp_path / "none.csv")
    one_line_error(result, "none.csv")  # the walk ended; the missing landmark file is the one error
    assert cli("align", "--help").output.count("--follow-links") == 1


def test_an_unreadable_sub_folder_is_a_row(crops, qmodel, tmp_path, monkeypatch):
    """Item 11: a sub-folder that cannot be listed used to vanish from the results."""
    root = tmp_path / "in"
    (root / "locked").mkdir(parents=True)
    (root / "ok.png").write_bytes((crops / "c0.png").read_bytes())
    (root / "locked" / "hidden.png").write_bytes((crops / "c1.png").read_bytes())
    if os.geteuid() == 0:  # root reads a chmod-000 folder anyway: make listing it fail as it would
        real = os.scandir

        def scandir(path="."):
            if os.path.basename(str(path)) == "locked":
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(os, "scandir", scandir)
    else:
        (root / "locked").chmod(0)
    try:
        out = tmp_path / "s.csv"
        result = cli("score", root, "--aligned", "-m", qmodel, "-o", out, "-j", 0)
    finally:
        (root / "locked").chmod(0o755)
    assert result.exit_code == 0, result.output
    by_name = {os.path.basename(r["path"]): r for r in rows(out)}
    assert by_name["ok.png"]["status"] == "ok"
    assert by_name["locked"]["status"] == "unreadable" and "Permission denied" in by_name["locked"]["message"]


@pytest.mark.parametrize("command", ["score", "align", "report", "evaluate", "label", "distill", "export"])
def test_a_mistyped_input_is_a_usage_error(command, qmodel, tmp_path, monkeypatch):
    """Item 15: ``aikd score nonexist/`` exited 0 with one "unreadable" row."""
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nonexist"
    args = {
        "score": ["score", missing, "--aligned", "-m", qmodel, "-o", "s.csv"],
        "align": ["align", missing, "-o", "aligned"],
        "report": ["report", missing / "s.csv"],
        "evaluate": ["evaluate", "-p", missing / "pairs.csv", "--score-column", "s", "-q", missing / "q.csv"],
        "label": ["label", "-i", missing / "ids.csv", "--fr-model", qmodel, "-o", "labels.csv"],
        "distill": ["distill", missing, "--teacher", qmodel, "-o", "run"],
        "export": ["export", missing / "best.safetensors", "-o", "export"],
    }[command]
    one_line_error(cli(*args), "nonexist")
    assert list(tmp_path.iterdir()) == []  # nothing written, not even an empty output


@pytest.mark.parametrize("follow", [False, True])
def test_a_link_to_itself_gets_a_row_like_a_dangling_one(follow, crops, qmodel, tmp_path):
    """Issue 21: a symlink pointing to itself got no row (a dangling one got ``unreadable``): every
    file found gets a row."""
    root = tmp_path / "in"
    root.mkdir()
    (root / "ok.png").write_bytes((crops / "c0.png").read_bytes())
    (root / "loop.png").symlink_to("loop.png")
    (root / "gone.png").symlink_to("nowhere.png")
    out = tmp_path / "s.csv"
    result = cli("score", root, "--aligned", "-m", qmodel, "-o", out, "-j", 0, *(["--follow-links"] if follow else []))
    assert result.exit_code == 0, result.output
    by_name = {os.path.basename(r["path"]): r for r in rows(out)}
    assert sorted(by_name) == ["gone.png", "loop.png", "ok.png"]
    assert by_name["ok.png"]["status"] == "ok"
    assert by_name["gone.png"]["status"] == by_name["loop.png"]["status"] == "unreadable"
    assert "symbolic links" in by_name["loop.png"]["message"]
