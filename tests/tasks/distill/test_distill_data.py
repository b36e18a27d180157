"""The distillation data path: fresh bounded noise, identical views on every path, bad inputs, sharding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aikd_cli.faces.align import align_faces, interocular_distance, template
from aikd_cli.faces.landmarks import quantise
from aikd_cli.faces.perturb import face_key
from aikd_cli.faces.pipeline import misaligned
from aikd_cli.images.decode import load_image
from aikd_cli.tasks.distill.data import (
    EpochSampler,
    FaceViews,
    batch_views,
    collate_views,
    draw_stream,
    split_validation,
)
from aikd_cli.tasks.distill.samples import (
    FaceRecord,
    attach_labels,
    collect_faces,
    read_labels,
    read_manifest,
)

LANDMARKS = np.array([[90.0, 110.0], [150.0, 108.0], [121.0, 140.0], [96.0, 170.0], [146.0, 168.0]])
FACE = FaceRecord("/data/photo.jpg", face=5)


def _noisy(landmarks, p: float, unit: str, seed: int, split: int, epoch: int, face: FaceRecord) -> np.ndarray:
    """The landmarks of one training draw, as the face pipeline moves and rounds them."""
    return misaligned(landmarks, p, unit=unit, seed=seed, stream=draw_stream(split, epoch),
                      key=face_key(face.path, face.face), height=10**6, width=10**6)[0]


def _photos(assets, n=3):
    lfw = sorted((assets / "lfw").glob("*/*.jpg"))[:n]
    faces = sorted((assets / "faces").glob("deepface__c0*/*.jpg"))[:n]
    return lfw + faces


def _centred_landmarks(path) -> np.ndarray:
    """Plausible landmarks for any photo: the template scaled to a third of the image, centred."""
    h, w = load_image(path).shape[:2]
    scale = min(h, w) / 3 / 112
    return (template(112).numpy() - 56) * scale * 2 + np.array([w / 2, h / 2])


@pytest.mark.parametrize(("p", "unit"), [(3.0, "px"), (0.05, "iod")])
def test_noise_is_fresh_per_draw_bounded_and_never_accumulates(p, unit):
    clean = LANDMARKS.copy()
    bound = p if unit == "px" else p * float(interocular_distance(torch.from_numpy(clean)))
    draws = []
    for epoch in range(60):
        offset = _noisy(clean, p, unit, 0, 0, epoch, FACE) - clean
        assert np.abs(offset).max() <= bound + 1e-4  # rounded to the CSV's 4 decimals
        draws.append(offset)
    assert np.array_equal(clean, LANDMARKS)  # the clean landmarks are never modified
    draws = np.stack(draws)
    assert all(not np.allclose(draws[i], draws[i + 1]) for i in range(len(draws) - 1))  # new noise each epoch
    assert np.abs(draws).max() > 0.9 * bound  # uses the whole range, not a shrinking one
    assert abs(draws.mean()) < 0.1 * bound  # centred
    # the same draw (seed, stream, epoch, index) is reproduced exactly; other faces/streams differ
    again = _noisy(clean, p, unit, 0, 0, 7, FACE) - clean
    assert np.array_equal(again, draws[7])
    other = _noisy(clean, p, unit, 0, 1, 7, FACE) - clean
    assert not np.allclose(other, draws[7])


def test_device_and_worker_warps_match_align_faces(assets):
    paths = _photos(assets)
    faces = [FaceRecord(str(p), landmarks=_centred_landmarks(p)) for p in paths]
    on_device = FaceViews(faces, perturb=3.0, seed=1)
    in_workers = FaceViews(faces, perturb=3.0, seed=1, warp_in_workers=True)
    keys = [(2, i) for i in range(len(faces))]
    batch = collate_views([on_device[k] for k in keys])
    assert batch["rois"].shape[0] == len(faces) and not batch["bad"]
    clean, noisy = batch_views(batch, torch.device("cpu"), 112)
    w_clean, w_noisy = batch_views(collate_views([in_workers[k] for k in keys]), torch.device("cpu"), 112)
    # warping batched regions zero-padded to a common size gives exactly the per-face crops
    assert torch.equal(clean, w_clean) and torch.equal(noisy, w_noisy)
    for i, face in enumerate(faces):
        image = torch.from_numpy(load_image(face.path)).permute(2, 0, 1)
        noisy_lm = _noisy(quantise(face.landmarks), 3.0, "px", 1, 0, 2, face)
        ref_clean, _ = align_faces(image, torch.from_numpy(quantise(face.landmarks))[None])
        ref_noisy, _ = align_faces(image, torch.from_numpy(noisy_lm)[None])
        # and exactly the crops every other command makes from the whole photo
        assert torch.equal(clean[i], ref_clean[0]) and torch.equal(noisy[i], ref_noisy[0])
    assert not torch.equal(clean, noisy)


def test_bad_inputs_become_reasons_not_exceptions(assets, tmp_path):
    good = _photos(assets, 1)[0]
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    faces = [
        FaceRecord(str(good), landmarks=_centred_landmarks(good), label=0.5),
        FaceRecord(str(tmp_path / "missing.jpg"), landmarks=LANDMARKS),
        FaceRecord(str(corrupt), landmarks=LANDMARKS),
        FaceRecord(str(good), face=1, landmarks=LANDMARKS + 5000.0),
    ]
    views = FaceViews(faces, perturb=3.0)
    batch = collate_views([views[(0, i)] for i in range(len(faces))])
    assert batch["index"].tolist() == [0] and batch["label"].tolist() == [0.5]
    assert [(i, status) for i, status, _ in batch["bad"]] == [
        (1, "unreadable"),
        (2, "unreadable"),
        (3, "bad_landmarks"),
    ]
    assert "no such file" in batch["bad"][0][2]
    empty = collate_views([views[(0, 1)]])
    clean, noisy = batch_views(empty, torch.device("cpu"), 112)
    assert clean.shape == (0, 3, 112, 112)


def test_sampler_shards_the_same_global_batches_and_resumes_mid_epoch():
    n, batch = 23, 4
    single = EpochSampler(n, seed=3)
    ranks = [EpochSampler(n, num_replicas=2, rank=r, seed=3) for r in range(2)]
    for epoch in (0, 1):
        single.set_position(epoch, 0)
        for s in ranks:
            s.set_position(epoch, 0)
        whole = [i for _, i in single]
        parts = [[i for _, i in s] for s in ranks]
        assert sorted(whole) == list(range(n))
        # step k of the 2-process job = step k of one process with a doubled batch
        for k in range(len(parts[0]) // batch):
            assert sorted(
                parts[0][k * batch : (k + 1) * batch] + parts[1][k * batch : (k + 1) * batch]
            ) == sorted(whole[2 * k * batch : 2 * (k + 1) * batch])
        assert all(key[0] == epoch for key in single)
    single.set_position(0, 0)
    epoch0 = list(single)
    single.set_position(1, 0)
    assert list(single) != epoch0  # reshuffled every epoch
    single.set_position(0, 8)
    assert list(single) == epoch0[8:] and len(single) == n - 8


def test_validation_split_is_seeded_and_keeps_images_together():
    faces = [FaceRecord(f"/img{i // 2}.jpg", face=i % 2) for i in range(40)]
    train, val = split_validation(faces, 0.1, seed=0)
    assert len(val) == 4 and len(train) == 36  # 2 of 20 images, both faces of each
    assert {f.path for f in train}.isdisjoint({f.path for f in val})
    assert split_validation(faces, 0.1, seed=0) == (train, val)
    assert split_validation(faces, 0.1, seed=1) != (train, val)
    assert split_validation(faces, 0.0, seed=0) == (faces, [])


def test_manifests_labels_and_folders(assets, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,face,lm0_x,lm0_y,lm1_x,lm1_y,lm2_x,lm2_y,lm3_x,lm3_y,lm4_x,lm4_y,quality,identity\n"
        "a.jpg,0,1,2,3,4,5,6,7,8,9,10,0.7,alice\n"
        "b.jpg,,,,,,,,,,,,,bob\n"
    )
    a, b = read_manifest(manifest)
    assert a.path == str(tmp_path / "a.jpg") and a.landmarks[4].tolist() == [9.0, 10.0] and a.label == 0.7
    assert b.landmarks is None and math.isnan(b.label) and b.identity == "bob"
    labels = tmp_path / "labels.csv"
    labels.write_text("path,quality\na.jpg,0.25\nb.jpg,\n")
    table = read_labels(labels)
    assert table == {(str(tmp_path / "a.jpg"), 0): 0.25}
    assert [f.label for f in attach_labels([a, b], table)][0] == 0.25
    folder = assets / "faces" / "facerec__biden"
    found, skips = collect_faces([folder, folder])
    assert len(found) == len(list(folder.glob("*.*"))) and len(skips) == len(found)
    assert {s.status for s in skips} == {"duplicate"}
