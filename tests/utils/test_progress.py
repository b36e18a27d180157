"""Progress: rates from the start of the work, an ETA, plain lines in a pipe, nothing cut at 80 columns."""

from __future__ import annotations

import io
import subprocess
import sys

from rich.console import Console

from aikd_cli.utils.progress import ProgressReporter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_counts_from_the_start_of_the_work_and_lines_in_a_pipe():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=200)
    clock = Clock()
    with ProgressReporter(console, "scoring", clock=clock, interval=10) as report:
        report(0, 40)  # the task starts its work
        clock.now += 4.0
        report(10, 40)  # within the interval: no new line
        clock.now += 8.0
        report(40, 40)
        report(40, 40)  # a task's closing report repeats the count: one line, not two
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "scoring: 0/40 (0%), 0.0 img/s"
    assert lines[-1] == "scoring: 40/40 (100%), 3.3 img/s"  # 40 images in 12 s, not 30 in 8 s
    assert len(lines) == 2


def test_reused_work_is_not_speed():
    """evaluate read 48 cached faces at once and showed 393,352 face/s: the rate counts work done."""
    clock = Clock()
    report = ProgressReporter(Console(file=io.StringIO()), "faces of lfw", unit="face", clock=clock)
    report(90, 100)  # 90 outputs read from the cache
    clock.now += 5
    report(100, 100)
    assert report.rate() == 2.0
    assert report.line() == "faces of lfw: 100/100 (100%), 2.0 face/s, 90 reused"


def test_eta_from_the_measured_rate():
    clock = Clock()
    report = ProgressReporter(Console(file=io.StringIO()), "aligning", clock=clock)
    report(0, 100)
    clock.now += 10
    report(25, 100)
    assert report.rate() == 2.5 and report.eta() == 30.0
    assert report.line() == "aligning: 25/100 (25%), 2.5 img/s, ETA 0m30s"


def test_piped_tables_are_not_cut_at_80_columns():
    result = subprocess.run([sys.executable, "-m", "aikd_cli", "models"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    assert "arcface-r50-webface600k" in result.stdout and "add by hand" in result.stdout
    shown = subprocess.run([sys.executable, "-m", "aikd_cli", "models", "show", "ediffiqa-l"], capture_output=True, text=True)
    assert "hf://LSIbabnikz/eDifFIQA_L@main" in shown.stdout and "…" not in shown.stdout


def test_each_stage_counts_in_its_own_unit():
    clock = Clock()
    console = Console(file=io.StringIO(), force_terminal=False)
    report = ProgressReporter(console, "distilling", unit="step", clock=clock)
    report(0, 10, "detecting landmarks", "img")
    clock.now += 5
    report(10, 10, "detecting landmarks", "img")
    assert report.line() == "detecting landmarks: 10/10 (100%), 2.0 img/s"
    report(0, 4, "distilling")
    clock.now += 2
    report(4, 4, "distilling")
    assert report.line() == "distilling: 4/4 (100%), 2.0 step/s"
