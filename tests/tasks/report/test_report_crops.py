"""``aikd score --save-crops`` keeps the aligned crops; ``aikd report`` shows them without decoding the
originals, and falls back to decoding whenever a crop is missing or was made for another row."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from factories import make_quality_net, save_ediffiqa_layout
from PIL import Image
from report_helpers import build_report, read_csv
from typer.testing import CliRunner

from aikd_cli.cli.app import app
from aikd_cli.faces.align import align_faces
from aikd_cli.faces.landmarks import LANDMARK_COLUMNS
from aikd_cli.images.decode import load_image
from aikd_cli.tasks.report.crops import KEY, crop_name
from aikd_cli.tasks.report.thumbnails import thumb_name


def shows(thumb: Path, csv_path: Path, rows: list[dict], index: int) -> bool:
    """The thumbnail is row ``index``'s face: near its crop (JPEG q90) and nearer than any other."""
    shown = np.asarray(Image.open(thumb).convert("RGB"), dtype=np.float64)
    error = {
        i: np.abs(shown - realigned(csv_path.parent, r)).mean()
        for i, r in enumerate(rows)
        if r["status"] == "ok"
    }
    return error[index] < 4.0 and min(error, key=error.get) == index


def realigned(csv_dir: Path, row: dict) -> np.ndarray:
    image = torch.from_numpy(load_image(csv_dir / row["path"]).copy()).permute(2, 0, 1)
    lm = torch.tensor([float(row[c]) for c in LANDMARK_COLUMNS], dtype=torch.float64).reshape(1, 5, 2)
    return align_faces(image, lm, 112)[0][0].permute(1, 2, 0).numpy()


@pytest.fixture(scope="module")
def scored(assets, retinaface_weights, tmp_path_factory):
    """`aikd score --faces all --save-crops crops` (a relative folder) on LFW photos and a group photo."""
    folder = tmp_path_factory.mktemp("crops")
    model = save_ediffiqa_layout(make_quality_net(), folder / "tiny.pth")
    photos = sorted((assets / "lfw" / "Ciro_Gomes").glob("*.jpg"))
    photos.append(assets / "faces" / "deepface__c02" / "deepface-img54.jpg")  # two faces
    out = folder / "scores.csv"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        result = CliRunner().invoke(
            app,
            ["score", *map(str, photos), "-o", str(out), "--model", str(model), "--detector",
             str(retinaface_weights), "-j", "0", "--faces", "all", "--save-crops", "crops"],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out, folder / "crops"


def test_every_face_row_has_its_crop_the_very_pixels_the_model_saw(scored):
    csv_path, crops = scored
    rows = [r for r in read_csv(csv_path) if r["face"]]
    faces = Counter(r["path"] for r in rows)
    assert max(faces.values()) >= 2  # the group photo
    meta = json.loads(csv_path.with_name(csv_path.name + ".meta.json").read_text())
    assert meta["options"]["save_crops"] == str(crops)  # recorded absolute
    for r in rows:
        several = faces[r["path"]] > 1
        name = crop_name(r["path"], int(r["face"]), several)
        assert name.endswith(f"_{r['face']}.png") == several
        with Image.open(crops / name) as im:
            tag = json.loads(im.info[KEY])
            pixels = np.asarray(im.convert("RGB"))
        assert (tag["path"], tag["face"]) == (r["path"], int(r["face"]))
        assert np.array_equal(pixels, realigned(csv_path.parent, r))
    assert not list(crops.rglob(".*.tmp"))


def test_report_takes_thumbnails_from_crops_and_decodes_nothing(scored, tmp_path, monkeypatch):
    csv_path, crops = scored
    monkeypatch.chdir(tmp_path)  # another working folder: the sidecar's absolute path still leads there
    rows = read_csv(csv_path)
    ok = [i for i, r in enumerate(rows) if r["status"] == "ok"]
    s = build_report(csv_path, tmp_path / "r.html", embed=False, workers=2, progress=False)
    assert (s.from_crops, s.decoded, s.pictured) == (len(ok), 0, len(ok))
    assert all(shows(s.files_dir / thumb_name(i), csv_path, rows, i) for i in ok)
    forced = build_report(csv_path, tmp_path / "o.html", crops=False, progress=False)
    assert forced.from_crops == 0 and forced.decoded == len({rows[i]["path"] for i in ok})


def test_a_crop_made_for_another_row_is_not_shown(scored, tmp_path):
    csv_path, crops = scored
    rows = read_csv(csv_path)
    ok = [i for i, r in enumerate(rows) if r["status"] == "ok"]
    faces = Counter(r["path"] for r in rows if r["face"])
    names = [crop_name(rows[i]["path"], int(rows[i]["face"]), faces[rows[i]["path"]] > 1) for i in ok]
    copy = tmp_path / "crops"
    shutil.copytree(crops, copy)
    shutil.copy(copy / names[1], copy / names[0])  # the file of face 0 now holds another face
    (copy / names[2]).unlink()  # and one crop is missing
    s = build_report(csv_path, tmp_path / "r.html", crops=copy, embed=False, progress=False)
    assert s.from_crops == len(ok) - 2 and s.decoded == 2 and s.pictured == len(ok)
    assert all(shows(s.files_dir / thumb_name(i), csv_path, rows, i) for i in ok[:3])  # the right faces
