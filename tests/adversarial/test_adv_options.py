"""Numeric and device options (issue 12, items 10 and 13): every one is range-checked before any
work, in one line naming the option: ``--size 100000`` tried to allocate 80 GB, ``--device bogus``
raised a RuntimeError, ``evaluate --threshold nan`` wrote NaN into results.json."""

from __future__ import annotations

import pytest
from adversarial_helpers import cli, one_line_error

SCORE = ("score", "{crops}", "--aligned", "-m", "{qmodel}", "-o", "{tmp}/out.csv")
ALIGN = ("align", "{crops}", "-o", "{tmp}/out")
EVALUATE = ("evaluate", "-p", "{pairs}", "--score-column", "score", "-q", "{quality}", "-o", "{tmp}/out")
REPORT = ("report", "{pairs}", "-o", "{tmp}/out.html")
EXPORT = ("export", "{qmodel}", "-f", "safetensors", "-o", "{tmp}/out")
LABEL = ("label", "-i", "{quality}", "--fr-model", "{qmodel}", "-o", "{tmp}/out.csv")

CASES = [
    (SCORE, ["--det-threshold", "nan"], "--det-threshold must be a finite number in [0, 1] (got nan)"),
    (SCORE, ["--det-threshold", "2"], "--det-threshold"),
    (SCORE, ["--det-size", "100000"], "--det-size"),
    (SCORE, ["--batch-size", "0"], "--batch-size"),
    (SCORE, ["--batch-size", "1000000000"], "--batch-size"),
    (SCORE, ["--workers", "-1"], "--workers"),
    (SCORE, ["--workers", "100000"], "--workers"),
    (SCORE, ["--perturb", "inf", "--perturb-samples", "2"], "--perturb must be a finite number"),
    (SCORE, ["--perturb-samples", "1000"], "--perturb-samples"),
    (SCORE, ["--perturb-unit", "furlong"], "--perturb-unit"),
    (SCORE, ["--precision", "fp8"], "--precision"),
    (SCORE, ["--device", "bogus"], "unknown device 'bogus'"),
    (SCORE, ["--device", "xla"], "unknown device 'xla'"),
    (ALIGN, ["--size", "100000"], "--size must be an integer in [16, 1,024] (got 100000)"),
    (ALIGN, ["--size", "8"], "--size"),
    (ALIGN, ["--device", "bogus"], "unknown device 'bogus'"),
    (ALIGN, ["--perturb", "inf"], "--perturb"),
    (EVALUATE, ["--threshold", "nan"], "--threshold must be a finite number"),
    (EVALUATE, ["--threshold", "inf"], "--threshold must be a finite number"),
    (EVALUATE, ["--fmr", "nan"], "--fmr must be a finite number"),
    (EVALUATE, ["--start-error", "2"], "--start-error must be between 0 and 1"),
    (EVALUATE, ["--limit", "nan"], "--limit must be a finite number"),
    (EVALUATE, ["--perturb", "0,inf", "-m", "{qmodel}"], "--perturb must be a finite number"),
    (EVALUATE, ["--max-nonmated", "-5"], "--max-nonmated"),
    (EVALUATE, ["--device", "bogus"], "unknown device 'bogus'"),
    (EVALUATE, ["--batch-size", "0"], "--batch-size"),
    (REPORT, ["--quality-threshold", "nan"], "--quality-threshold must be a finite number"),
    (REPORT, ["--quality-threshold", "-inf"], "--quality-threshold must be a finite number"),
    (REPORT, ["--per-page", "0"], "--per-page"),
    (REPORT, ["--show", "0"], "--show"),
    (REPORT, ["--workers", "-1"], "--workers"),
    (LABEL, ["--batch-size", "0"], "--batch-size"),
    (LABEL, ["--det-threshold", "nan"], "--det-threshold"),
    (LABEL, ["--max-impostors", "0"], "--max-impostors"),
    (LABEL, ["--device", "bogus"], "unknown device 'bogus'"),
    (EXPORT, ["--opset", "999"], "--opset"),
    (EXPORT, ["--opset", "5"], "--opset"),
]


@pytest.mark.parametrize(("base", "extra", "needle"), CASES, ids=[f"{b[0]} {' '.join(e)}" for b, e, _ in CASES])
def test_out_of_range_options_are_refused_before_any_work(base, extra, needle, crops, qmodel, eval_inputs, tmp_path,
                                                          monkeypatch):
    from aikd_cli.models import inference
    from aikd_cli.tasks.score import scoring as score

    for module in (inference, score):
        monkeypatch.setattr(module, "open_face_model", lambda *a, **k: pytest.fail("a model was loaded"))
    pairs, quality = eval_inputs
    fill = {"crops": crops, "qmodel": qmodel, "tmp": tmp_path, "pairs": pairs, "quality": quality}
    args = [str(a).format(**fill) for a in (*base, *extra)]
    one_line_error(cli(*args), needle)
    assert not list(tmp_path.glob("out*")) and not list(tmp_path.glob(".out*"))


DISTILL = ("distill", "{crops}", "--teacher", "{qmodel}", "-o", "{tmp}/out")


@pytest.mark.parametrize("base", [SCORE, ALIGN, EVALUATE, REPORT, LABEL, DISTILL], ids=lambda b: b[0])
@pytest.mark.parametrize("value", ["abc", "0", "-5", "1e9"])
def test_a_bad_max_pixels_setting_is_one_line_before_any_work(base, value, crops, qmodel, eval_inputs, tmp_path,
                                                              monkeypatch):
    """Issue 21: ``AIKD_MAX_PIXELS=abc`` exited 0 with every image an ``error`` row."""
    from aikd_cli.models import inference
    from aikd_cli.tasks.score import scoring as score

    for module in (inference, score):
        monkeypatch.setattr(module, "open_face_model", lambda *a, **k: pytest.fail("a model was loaded"))
    monkeypatch.setenv("AIKD_MAX_PIXELS", value)
    pairs, quality = eval_inputs
    fill = {"crops": crops, "qmodel": qmodel, "tmp": tmp_path, "pairs": pairs, "quality": quality}
    one_line_error(cli(*[str(a).format(**fill) for a in base]), "AIKD_MAX_PIXELS", repr(value))
    assert not list(tmp_path.glob("out*")) and not list(tmp_path.glob(".out*"))
