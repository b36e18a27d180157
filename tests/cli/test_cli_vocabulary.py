"""One vocabulary across commands (issue 14): a flag means the same thing everywhere, the old
spellings still work for one release with one deprecation line, and help texts agree on format."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from aikd_cli.cli.app import app

COMMANDS = ["score", "align", "report", "label", "distill", "evaluate", "export"]


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def help_text(command: str) -> str:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return re.sub(r"[│╭╮╰╯─]", " ", result.output)


def flags(command: str) -> dict[str, set[str]]:
    """``--long`` -> its short forms, as ``--help`` shows them."""
    shown: dict[str, set[str]] = {}
    for line in help_text(command).splitlines():
        names = []
        for token in line.split():
            if token == "*":  # a required option
                continue
            if not re.fullmatch(r"--?[a-z][a-z0-9-]*(/--?[a-z][a-z0-9-]*)?", token):
                break
            names += token.split("/")[:1]
        longs = [n for n in names if n.startswith("--")]
        if longs:
            shown.setdefault(longs[0], set()).update(n for n in names if not n.startswith("--"))
    return shown


@pytest.fixture(scope="module")
def all_flags():
    return {c: flags(c) for c in COMMANDS}


def test_shared_flags_mean_one_thing(all_flags):
    """``-o`` is always --output; ``-m`` always the quality model; the FR model is --fr-model;
    misalignment is --perturb/--perturb-unit wherever a command perturbs."""
    for command, shown in all_flags.items():
        shorts = {s: long for long, ss in shown.items() for s in ss}
        assert shorts.get("-o") == "--output", (command, shorts)
        if "-m" in shorts:
            assert shorts["-m"] == "--model", (command, shorts)
        assert not {"--output-dir", "--quality-model", "--misalign", "--misalign-unit", "--relative"} & set(shown)
        if "--perturb" in shown:
            assert "--perturb-unit" in shown or command == "distill", command
    assert "--fr-model" in all_flags["label"] and "--fr-model" in all_flags["evaluate"]
    assert "--model" in all_flags["score"] and "--model" in all_flags["evaluate"]
    assert all_flags["evaluate"]["--pairs"] == {"-p"} and not all_flags["distill"].get("--perturb")


def test_defaults_are_shown_one_way():
    """Values as typer shows them, ``[default: 3.0]``, in distill (whose options are generated) too;
    no stray space before punctuation ("non-mated pairs .")."""
    for command in COMMANDS:
        text = help_text(command)
        assert not re.search(r"\(default: [\w.+-]+\)", text), command
        assert not re.search(r"\w \.(\s|$)", text), command
    assert "[default: 3.0]" in help_text("distill")
    assert "The default rule: --fmr 1e-3 when none of" in help_text("evaluate"), "the default threshold rule"


@pytest.fixture()
def pairs(tmp_path):
    rng = np.random.default_rng(0)
    rows = [(f"s{i}", f"s{i + 1}", 1, rng.normal(0.6, 0.1)) for i in range(0, 40, 2)]
    rows += [(f"s{i}", f"t{i}", 0, rng.normal(0.0, 0.1)) for i in range(1200)]
    with open(tmp_path / "pairs.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path_a", "path_b", "mated", "score"), *rows])
    with open(tmp_path / "q.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "quality"), *((s, rng.random()) for r in rows for s in r[:2])])
    return tmp_path


def test_an_old_spelling_works_with_one_deprecation_line(pairs):
    """``--output-dir`` still writes where it says, and says once that it is going."""
    common = ("evaluate", "-p", pairs / "pairs.csv", "--score-column", "score", "-q", pairs / "q.csv", "--no-cache")
    old = invoke(*common, "--output-dir", pairs / "old")
    new = invoke(*common, "-o", pairs / "new")
    assert old.exit_code == 0 and new.exit_code == 0, old.output
    warnings = [line for line in old.stderr.splitlines() if "deprecated" in line]
    assert warnings == ["warning: --output-dir is deprecated, use --output/-o (the old spelling goes in aikd 0.3)"]
    assert "deprecated" not in new.stderr
    assert (pairs / "old" / "results.json").read_text() == (pairs / "new" / "results.json").read_text() or (
        sorted(p.name for p in (pairs / "old").iterdir()) == sorted(p.name for p in (pairs / "new").iterdir())
    )


@pytest.mark.parametrize(
    "args, old",
    [
        (("label", "-i", "missing.csv", "-m", "x.pt", "-o", "l.csv"), "label -m"),
        (("evaluate", "-p", "missing.csv", "--score-column", "s", "-q", "q.csv", "--misalign", "3"), "--misalign"),
        (("align", "missing/", "--relative", "-o", "a"), "--relative"),
        (("distill", "missing/", "-p", "2", "-o", "r"), "distill -p"),
    ],
)
def test_each_old_spelling_is_accepted_and_named(args, old, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert "No such option" not in result.output, result.output
    assert any(line.startswith(f"warning: {old} is deprecated") for line in result.stderr.splitlines()), result.stderr
