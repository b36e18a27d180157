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
from adversarial_helpers import LFW_LANDMARKS, PHOTO, write_landmarks
from PIL import Image


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
