"""What the adversarial tests share (not fixtures): run ``aikd`` in-process, the one-line refusal
contract, and small file writers. A module of its own name, so ``import`` never has to pick
between the suite's several ``conftest`` modules."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from typer.testing import CliRunner

from aikd_cli.cli.app import app

runner = CliRunner()
PHOTO = Path("lfw") / "Jean_Charest" / "Jean_Charest_0001.jpg"
#: Landmarks of the kit's 250x250 deep-funneled LFW photos (eyes, nose, mouth corners), close enough
#: to align them (the tests here check what happens to files, not the quality values).
LFW_LANDMARKS = (96.0, 112.0, 153.0, 112.0, 125.0, 140.0, 101.0, 170.0, 149.0, 170.0)


def cli(*args: object):
    """Run ``aikd ARGS`` in this process (CPU, no decoding workers unless asked)."""
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *needles: str, code: int = 2, quiet: bool = True) -> str:
    """Assert the refusal contract and return the error line: exit ``code``, no traceback, one
    ``error:`` line, at most a ``hint:`` after it, and (``quiet``: refused before any work) nothing
    else on stderr."""
    text = result.output
    assert result.exit_code == code, (result.exit_code, text, result.exception)
    assert "Traceback" not in text, text
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [i for i, line in enumerate(lines) if line.startswith("error:")]
    assert len(errors) == 1, lines
    assert all(line.startswith("hint:") for line in lines[errors[0] + 1 :]) and len(lines) - errors[0] <= 2, lines
    if quiet:
        assert errors == [0], lines
    errors = [lines[errors[0]]]
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def write_landmarks(path: Path, faces: dict, relative_to: Path | None = None) -> Path:
    """A landmark CSV (``path, face, lm0_x..lm4_y``) for ``{image: 10 values}``."""
    columns = ["path", "face", *(f"lm{i}_{a}" for i in range(5) for a in "xy")]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for image, values in faces.items():
            cell = str(Path(image).relative_to(relative_to)) if relative_to else str(image)
            writer.writerow([cell, 0, *values])
    return path


def rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def can_mount() -> bool:
    """Whether this machine lets a test mount a tmpfs in a private mount namespace (``unshare -m``:
    the mount vanishes with the process, nothing outlives the test)."""
    import subprocess

    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0
