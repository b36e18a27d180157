"""Score CSVs of real photos for the report tests, made once per session with the real engine.

``kit_scores``: every photo of ../shared/assets/faces (the report the browser test looks at).
``lfw_scores``: 80 small LFW photos plus what goes wrong in real folders: a blank picture (no face), a
text file posing as a JPEG (unreadable), and two photos deleted after scoring (moved images).
Quality stand-in: the embedding norm of the kit's MobileFaceNet (deterministic, face-dependent).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scorecsv import embedding_norm, score_rows, write_score_csv

from aikd_cli.images.discover import IMAGE_EXTENSIONS

META = {
    "model": "mobilefacenet-norm (test stand-in)",
    "detector": "retinaface-mnet025",
    "version": "test",
    "created": "2025-01-01T00:00:00+00:00",
}


@pytest.fixture(scope="session")
def scorer(retinaface_weights, mobilefacenet_weights):
    from aikd_cli.faces.detector import FaceDetector
    from aikd_cli.models.inference import open_face_model
    from aikd_cli.models.loading import load_network

    detector = FaceDetector(load_network(retinaface_weights, expect="detection").net, max_size=320)
    model = open_face_model(str(mobilefacenet_weights), device="cpu", precision="fp32")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per-image work: extra threads only contend on a busy 2-core box

    def run(images, csv_path: Path):
        return score_rows(images, csv_path.parent, detector, embedding_norm(model))

    yield run
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def kit_scores(assets, scorer, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kit")
    images = sorted(p for p in (assets / "faces").rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    csv_path = folder / "scores.csv"
    return write_score_csv(csv_path, scorer(images, csv_path), META)


@pytest.fixture(scope="session")
def lfw_scores(assets, scorer, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lfw")
    people = sorted(p for p in (assets / "lfw").iterdir() if p.is_dir())[:20]
    images = []
    for person in people:  # copies, so that some can be "moved" after scoring
        (folder / "photos" / person.name).mkdir(parents=True)
        for photo in sorted(person.glob("*.jpg")):
            images.append(Path(shutil.copy(photo, folder / "photos" / person.name / photo.name)))
    odd = folder / "photos" / "odd"
    odd.mkdir()
    Image.fromarray(np.full((200, 160, 3), 128, np.uint8)).save(odd / "blank.png")
    (odd / "notes.jpg").write_text("not an image")
    images += [odd / "blank.png", odd / "notes.jpg"]
    csv_path = folder / "scores.csv"
    write_score_csv(csv_path, scorer(images, csv_path), META)
    images[0].unlink()
    images[5].unlink()
    return csv_path


@pytest.fixture(scope="session")
def kit_report(kit_scores, tmp_path_factory):
    """The kit's report (threshold: the 25th percentile of its qualities), built once."""
    from report_helpers import build_report, read_csv

    q = [float(r["quality"]) for r in read_csv(kit_scores) if r["status"] == "ok"]
    threshold = float(np.percentile(q, 25))
    return build_report(
        kit_scores,
        tmp_path_factory.mktemp("kit-report") / "kit.html",
        threshold=threshold,
        workers=0,
        progress=False,
    )
