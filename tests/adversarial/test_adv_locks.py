"""One writer per output (issue 12, item 3): two runs on the same output used to both exit 0 and
leave a header-only CSV. A second run now stops at once, naming the process that holds the output;
a killed holder never blocks the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from adversarial_helpers import cli, one_line_error, rows

from aikd_cli.utils.outputs import lock_output, lock_path

HOLD = """
import sys, time
from aikd_cli.utils.outputs import lock_output
with lock_output(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture()
def holder(tmp_path):
    """Start another process that holds the lock of a path; yields (start, process)."""
    started = []

    def start(path: Path) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True, env=env)
        started.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_second_score_on_the_same_csv_stops_at_once_naming_the_holder(crops, qmodel, tmp_path, holder):
    out = tmp_path / "s.csv"
    proc = holder(out)
    result = cli("score", crops, "--aligned", "-m", qmodel, "-o", out, "-j", 0)
    one_line_error(result, f"in use by process {proc.pid}")
    assert not out.exists() and not Path(str(out) + ".partial").exists()


@pytest.mark.parametrize("command", ["align", "report", "evaluate", "export"])
def test_every_command_locks_its_output(command, crops, qmodel, tmp_path, holder):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("path_a,path_b,mated,score\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = holder(out)
    args = {
        "align": ["align", crops, "-o", out],
        "report": ["report", pairs, "-o", out],
        "evaluate": ["evaluate", "-p", pairs, "--score-column", "score", "-q", pairs, "-o", out],
        "export": ["export", qmodel, "-f", "safetensors", "-o", out],
    }[command]
    one_line_error(cli(*args), f"in use by process {proc.pid}")


def test_the_same_output_spelled_differently_is_the_same_lock(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "sub")
    assert lock_path(tmp_path / "sub" / "s.csv") == lock_path(tmp_path / "link" / ".." / "sub" / "s.csv")
    assert lock_path(tmp_path / "sub" / "s.csv") == lock_path(tmp_path / "link" / "s.csv")


def test_a_killed_holder_does_not_block_the_next_run(crops, qmodel, tmp_path, holder):
    out = tmp_path / "s.csv"
    proc = holder(out)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert lock_path(out).exists()  # left behind by the killed run...
    result = cli("score", crops, "--aligned", "-m", qmodel, "-o", out, "-j", 0)
    assert result.exit_code == 0, result.output  # ...but the kernel released its lock
    assert len(rows(out)) == 3
    assert not lock_path(out).exists()  # and a run that ends removes it


def test_two_real_runs_at_once_never_interleave(crops, qmodel, tmp_path):
    """The sweep's case: two ``aikd score`` processes on one CSV. One wins; the other is refused
    (or, if it starts after the first ended, succeeds): never two exits 0 and a header-only CSV."""
    out = tmp_path / "s.csv"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-m", "aikd_cli", "score", str(crops), "--aligned", "-m", str(qmodel), "-o", str(out),
           "-j", "0", "--device", "cpu"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 2]), results
    for code, stderr in results:
        if code == 2:
            assert "in use by process" in stderr and "Traceback" not in stderr
    assert len(rows(out)) == 3


def test_a_lock_is_released_on_error_and_never_taken_twice(tmp_path):
    path = tmp_path / "x.csv"
    with pytest.raises(RuntimeError), lock_output(path):
        raise RuntimeError("boom")
    with lock_output(path), pytest.raises(Exception, match=f"in use by process {os.getpid()}"), lock_output(path):
        pass  # the first lock_output succeeded: the error above released it
