"""The adversarial sweep of issue 12, kept so it can be re-run: bad inputs, hostile data and faults
on every command. Each test states the case it covers; ``one_line_error`` is the contract every
refusal meets (exit code, one ``error:`` line naming the problem, an optional hint, no traceback).

The runs are kept cheap: pre-aligned crops (``--aligned``) or landmark CSVs instead of the detector,
and a small random MobileFaceNet quality model saved as an aikd safetensors file.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PIL import Image
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


@pytest.fixture(scope="session")
def qmodel(tmp_path_factory) -> Path:
    """A small random quality model (MobileFaceNet + MLP head) as an aikd safetensors file."""
    from factories import save_tiny_quality_model

    return save_tiny_quality_model(tmp_path_factory.mktemp("qmodel") / "tiny.safetensors")


@pytest.fixture()
def crops(tmp_path, assets) -> Path:
    """A folder of three 112x112 face crops (for ``--aligned`` runs)."""
    folder = tmp_path / "crops"
    folder.mkdir()
    face = Image.open(assets / PHOTO).crop((69, 69, 181, 181))
    for i in range(3):
        face.save(folder / f"c{i}.png")
    return folder


@pytest.fixture()
def photos(tmp_path, assets) -> Path:
    """Two LFW photos in a folder, and a landmark CSV for them beside it (``landmarks.csv``)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        shutil.copy(assets / PHOTO, folder / name)
    write_landmarks(tmp_path / "landmarks.csv", {folder / "a.jpg": LFW_LANDMARKS, folder / "b.jpg": LFW_LANDMARKS})
    return folder


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


@pytest.fixture()
def eval_inputs(tmp_path) -> tuple[Path, Path]:
    """A pairs CSV with comparison scores (no images needed) and a quality CSV for its 40 samples:
    ``evaluate -p PAIRS --score-column score -q QUALITY --threshold T`` runs in a second."""
    import numpy as np

    rng = np.random.default_rng(0)
    names = [f"s{i:02d}.jpg" for i in range(40)]
    pairs = tmp_path / "pairs.csv"
    with open(pairs, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path_a", "path_b", "mated", "score"])
        for i in range(0, 40, 2):
            writer.writerow([names[i], names[i + 1], 1, f"{rng.uniform(0.3, 0.9):.4f}"])
        for i in range(40):
            writer.writerow([names[i], names[(i + 7) % 40], 0, f"{rng.uniform(-0.2, 0.4):.4f}"])
    quality = tmp_path / "quality.csv"
    with open(quality, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "quality"])
        writer.writerows([name, f"{rng.uniform():.4f}"] for name in names)
    return pairs, quality


def can_mount() -> bool:
    """Whether this machine lets a test mount a tmpfs in a private mount namespace (``unshare -m``:
    the mount vanishes with the process, nothing outlives the test)."""
    import subprocess

    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0
