"""RetinaFace on real photos: loads the public weights key for key, finds faces, places landmarks."""

from __future__ import annotations

import csv

import numpy as np
import torch

from aikd_cli.faces.detector import FaceDetector
from aikd_cli.images.decode import load_image
from aikd_cli.models.checkpoints import read_checkpoint
from aikd_cli.models.retinaface import RetinaFace, priors


def test_public_weights_load_strictly(retinaface_weights):
    state, _ = read_checkpoint(retinaface_weights)
    RetinaFace("mobilenet0.25").load_state_dict(state, strict=True)
    with torch.device("meta"):
        r50 = RetinaFace("resnet50")
    assert "body.layer4.2.conv3.weight" in r50.state_dict()  # biubug6 / facexlib names


def test_prior_layout():
    p = priors(RetinaFace("mobilenet0.25").cfg, 64, 96)
    assert p.shape == ((8 * 12 + 4 * 6 + 2 * 3) * 2, 4)
    assert torch.allclose(p[0], torch.tensor([4 / 96, 4 / 64, 16 / 96, 16 / 64]))


def test_landmarks_agree_with_dlib_five_points(assets, retinaface_weights, detector):
    """On the PASCAL photos with dlib-68 landmarks, every annotated face is found and our 5 points
    fall near the dlib-derived 5 points (mean error normalised by inter-ocular distance)."""
    det = FaceDetector(detector.model, max_size=1024)
    folder = assets / "landmarks" / "dlib"
    rows = list(csv.DictReader(open(folder / "five_point_from_dlib68.csv")))
    found: dict[str, list] = {}
    errors = []
    for row in rows:
        if row["image"] not in found:
            found[row["image"]] = det.detect([load_image(folder / row["image"])])[0]
        ref = np.array([float(row[f"lm{i}_{a}"]) for i in range(5) for a in "xy"]).reshape(5, 2)
        iod = np.linalg.norm(ref[0] - ref[1])
        best = min(found[row["image"]], key=lambda f: np.linalg.norm(f.landmarks.mean(0) - ref.mean(0)))
        assert np.linalg.norm(best.landmarks.mean(0) - ref.mean(0)) < iod, f"face missed in {row['image']}"
        errors.append(np.linalg.norm(best.landmarks - ref, axis=1).mean() / iod)
    assert len(errors) == len(rows) == 43
    assert np.mean(errors) < 0.15 and np.max(errors) < 0.3


def test_batch_of_different_sizes_matches_single_images(assets, detector):
    paths = [assets / "lfw" / "Jean_Charest" / "Jean_Charest_0001.jpg", *sorted((assets / "faces").glob("deepface__c01/*.jpg"))[:2]]
    images = [load_image(p) for p in paths]
    batched = detector.detect(images)
    for img, faces in zip(images, batched):
        single = detector.detect([img])[0]
        assert len(single) == len(faces) >= 1
        # padding the batch shifts nothing: same landmarks to within a pixel of rounding
        assert np.abs(single[0].landmarks - faces[0].landmarks).max() < 1.0


def test_no_face_on_a_blank_image(detector):
    assert detector.detect([np.full((200, 300, 3), 128, np.uint8)]) == [[]]
