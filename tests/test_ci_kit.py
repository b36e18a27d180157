"""In CI a missing test kit is a failure, not a wall of skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def _run(ci: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AIKD_ASSETS": "/nonexistent/assets", "CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HERE / "faces" / "test_detector.py"), "-k", "dlib"],
        capture_output=True, text=True, env=env, cwd=HERE.parent,
    )


def test_missing_kit_fails_in_ci_and_skips_elsewhere():
    ci = _run("true")
    assert ci.returncode != 0 and "test kit not found" in ci.stdout
    local = _run("")
    assert local.returncode == 0 and "skipped" in local.stdout
