"""``aikd evaluate`` end to end: the reference EDC example data, the real kit with the real
MobileFaceNet, a .bin protocol with misalignment, and bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from paths import SRC
from PIL import Image
from typer.testing import CliRunner

from aikd_cli.cli.app import app

#: pAUC of the reference implementation's example data (10,000 mated comparisons, starting error
#: 0.05, ``pauc - area under theoretical best`` as its example.py reports it, plus the raw pAUC).
#: Computed by this implementation and cross-checked below against a definition-level brute force.
EXAMPLE_PAUC = {
    # label: (raw @0.2, raw @0.3, minus best @0.2, minus best @0.3)
    "QA algorithm 1": (
        0.006959681644975037,
        0.009533376622886365,
        0.005709681644975036,
        0.008283376622886366,
    ),
    "QA algorithm 2": (0.00931871255332871, 0.013507642484379512, 0.008068712553328711, 0.012257642484379511),
    "QA algorithm 3": (0.007843257521635345, 0.010686675659768599, 0.006593257521635345, 0.0094366756597686),
    "QA algorithm 4": (0.009113856220159582, 0.01284249925527041, 0.00786385622015958, 0.011592499255270408),
    "QA algorithm 5": (
        0.007067757399670824,
        0.009610073556192669,
        0.005817757399670824,
        0.008360073556192667,
    ),
}


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["evaluate", *map(str, args)], catch_exceptions=False)
    return result.exit_code, result.output


def results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


def area(
    data: dict, method: str, limit: float, dataset: str | None = None, key: str = "pauc_normalised"
) -> float:
    rows = [r for r in data["results"] if r["method"] == method and r["limit"] == limit]
    rows = [r for r in rows if dataset is None or r["dataset"] == dataset]
    assert len(rows) == 1, rows
    return rows[0][key]


# ------------------------------------------------------------------ reference example data


def _brute_force_pauc(scores, quality_pairs, limit, start_error=0.05):
    """EDC by its definition (keep pairs at or above each quality level), integrated segment by segment."""
    t = np.quantile(scores, start_error)
    errors = scores < t
    levels = np.unique(quality_pairs)
    points = [(1 - (quality_pairs >= v).mean(), errors[quality_pairs >= v].mean()) for v in levels] + [
        (1.0, 0.0)
    ]
    total = 0.0
    for (d0, e0), (d1, _) in zip(points, points[1:], strict=False):
        if d1 >= limit:
            return total + e0 * (limit - d0)
        total += e0 * (d1 - d0)
    return total


@pytest.mark.slow
def test_reference_example_data_through_the_cli(assets, tmp_path):
    data = json.loads((assets / "edc" / "example_data.json").read_text())
    pairs = data["similarity_scores"]["scores_by_pair_ids"]
    assert data["similarity_scores"]["type"] == "mated"
    with open(tmp_path / "pairs.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path_a", "path_b", "mated", "score"])
        for pair_id, score in pairs.items():
            w.writerow([*pair_id.split("-"), 1, repr(score)])
    args = ["-p", f"{tmp_path / 'pairs.csv'}:example", "--score-column", "score", "--start-error", "0.05"]
    for k, (label, qualities) in enumerate(data["quality_scores_by_sample_id_per_algorithm"].items()):
        path = tmp_path / f"qa{k}.csv"
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "quality"])
            w.writerows((sample, repr(q)) for sample, q in qualities.items())
        args += ["-q", f"{path}:{label}"]
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "aikd_cli",
            "evaluate",
            *args,
            "-l",
            "0.2",
            "-l",
            "0.3",
            "-o",
            str(out),
            "--no-cache",
        ],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "QA algorithm 1" in proc.stdout
    got = results(out)
    assert got["datasets"][0]["start_error"] == pytest.approx(0.05)
    scores = np.array(list(pairs.values()))
    ids = [p.split("-") for p in pairs]
    for label, pinned in EXAMPLE_PAUC.items():
        q = data["quality_scores_by_sample_id_per_algorithm"][label]
        pair_q = np.minimum([q[a] for a, _ in ids], [q[b] for _, b in ids])
        for k, limit in enumerate((0.2, 0.3)):
            raw = area(got, label, limit, key="pauc")
            assert raw == pytest.approx(pinned[k], rel=1e-9)
            assert area(got, label, limit, key="pauc_minus_best") == pytest.approx(pinned[2 + k], rel=1e-9)
            assert raw == pytest.approx(_brute_force_pauc(scores, pair_q, limit), rel=1e-9)
            assert area(got, label, limit) == pytest.approx(pinned[k] / (0.05 * limit), rel=1e-9)
    assert 0.9 < area(got, "random (baseline)", 0.3) < 1.1
    for name in (
        "table.md",
        "table.csv",
        "results.csv",
        "config.json",
        "plots/edc_example.png",
        "plots/edc_example.svg",
    ):
        assert (out / name).stat().st_size > 0, name
    table = (out / "table.md").read_text()
    assert "| QA algorithm 1 | **0.6960** | **0.6356** |" in table  # best of each column in bold
    wide = list(csv.reader(io.StringIO((out / "table.csv").read_text())))
    assert wide[0] == ["method", "example @0.2", "example @0.3"] and wide[-1] == [
        "best",
        "QA algorithm 1",
        "QA algorithm 1",
    ]
    config = json.loads((out / "config.json").read_text())
    assert config["options"]["start_error"] == 0.05 and len(config["input_sha256"]) == 6


# ------------------------------------------------------------------ the kit, with the real MobileFaceNet


@pytest.fixture(scope="module")
def lfw_subset(assets, tmp_path_factory):
    """12 LFW people x 4 photos from faces/identities.csv, plus one missing file and one faceless image."""
    folder = tmp_path_factory.mktemp("kit")
    rows = [
        r
        for r in csv.DictReader(io.StringIO((assets / "faces" / "identities.csv").read_text()))
        if r["identity"].startswith("lfw__")
    ]
    by_id = defaultdict(list)
    for r in rows:
        by_id[r["identity"]].append(r["path"])
    people = sorted(i for i, paths in by_id.items() if len(paths) == 4)[:12]
    Image.new("RGB", (96, 96), (128, 128, 128)).save(folder / "blank.jpg")
    with open(folder / "ids.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "identity"])
        for person in people:
            w.writerows((p, person) for p in by_id[person])
        w.writerow([str(folder / "blank.jpg"), "nobody"])
        w.writerow([str(folder / "gone.jpg"), "nobody"])
    return folder


@pytest.mark.slow
def test_kit_informative_quality_beats_random(
    lfw_subset, assets, mobilefacenet_weights, retinaface_weights, tmp_path
):
    from aikd_cli.models.inference import open_face_model
    from aikd_cli.tasks.evaluate.model_outputs import ModelJob, model_fingerprint, run_models
    from aikd_cli.tasks.evaluate.protocols import FileImages, read_identity_csv

    faces = assets / "faces"
    cache = lfw_subset / "cache"
    keys, ids, _ = read_identity_csv(lfw_subset / "ids.csv", image_root=faces)
    # a first run detects the faces and fills the cache; its quality is constant, i.e. exactly random
    with open(lfw_subset / "constant.csv", "w", newline="") as f:
        csv.writer(f).writerows([["path", "quality"], *((k, 1.0) for k in keys)])
    common = [
        "--identities",
        lfw_subset / "ids.csv",
        "--image-root",
        faces,
        "-f",
        mobilefacenet_weights,
        "--detector",
        retinaface_weights,
        "--cache-dir",
        cache,
        "-j",
        "0",
        "--device",
        "cpu",
        "--start-error",
        "0.1",
    ]
    code, output = run_cli(*common, "-q", f"{lfw_subset / 'constant.csv'}:constant", "-o", tmp_path / "first")
    assert code == 0, output
    first = results(tmp_path / "first")
    summary = first["datasets"][0]
    assert summary["mated"] == 12 * 6 and summary["samples"] == 50
    assert summary["sample_issues"] == {"image file missing": 1, "no face detected": 1}
    excluded = summary["excluded_pairs"]  # the pair of the two bad samples counts under one of them
    assert set(excluded) == {"image file missing", "no face detected"} and sum(excluded.values()) == 48 + 48 + 1
    assert summary["pairs_used"] == 48 * 47 // 2 and summary["start_error"] == pytest.approx(0.1, abs=0.015)
    assert area(first, "constant", 0.3) == pytest.approx(1.0)
    assert "48 samples aligned from detected landmarks" in summary["notes"]

    # the informative quality: each sample's mean similarity to the rest of its own identity
    model = open_face_model(str(mobilefacenet_weights), device="cpu", expect="recognition")
    fr = ModelJob("fr", model, model_fingerprint(str(mobilefacenet_weights), model), "embedding")
    detector_id = __import__("aikd_cli.tasks.evaluate.model_runs", fromlist=["x"]).detector_fingerprint(
        str(retinaface_weights)
    )
    keys, ids = (
        keys[:48],
        ids[:48],
    )  # the kit's photos (failures are not cached: they are re-checked each run)
    ran = run_models(keys, FileImages(), [fr], detector=None, detector_id=detector_id, cache_root=cache)
    assert ran.cached == 48 and ran.detected == 0  # all served from the cache: no detector, no FR model run
    emb = ran.outputs["fr", 0.0]
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    ids = np.array(ids)
    with open(lfw_subset / "informative.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "quality"])
        for i, key in enumerate(keys):
            same = (ids == ids[i]) & (np.arange(len(keys)) != i)
            w.writerow([key, float((unit[same] @ unit[i]).mean())])

    out = tmp_path / "second"
    code, output = run_cli(
        *common,
        "-q",
        f"{lfw_subset / 'informative.csv'}:informative",
        "-q",
        f"{lfw_subset / 'constant.csv'}:constant",
        "-o",
        out,
        "--fmr",
        "1e-3",
    )
    assert code == 2 and "choose exactly one of --fmr, --start-error and --threshold" in output
    code, output = run_cli(*common, "-q", f"{lfw_subset / 'informative.csv'}:informative", "-o", out)
    assert code == 0, output
    second = results(out)
    assert "model outputs of 48 samples read from the cache" in second["datasets"][0]["notes"]
    informative, rand = area(second, "informative", 0.3), area(second, "random (baseline)", 0.3)
    assert informative < 0.6 < rand, (informative, rand)  # clearly better than random
    assert area(second, "FR embedding norm (baseline)", 0.3) > 0
    assert (out / "plots" / "edc_ids.png").stat().st_size > 10_000

    # a stricter FMR than the protocol can resolve is refused, not silently computed
    code, output = run_cli(
        *[c for c in common if c not in ("--start-error", "0.1")],
        "--fmr",
        "1e-4",
        "-q",
        lfw_subset / "informative.csv",
        "-o",
        tmp_path / "refused",
    )
    assert code == 2 and "FMR 0.0001 needs at least 10,000" in output and "Traceback" not in output


# ------------------------------------------------------------------ .bin protocol + misalignment


@pytest.fixture(scope="module")
def small_bin(assets, tmp_path_factory):
    """An insightface-style .bin of 16 pairs from the kit's LFW photos (centre crops, deep-funneled)."""
    folder = tmp_path_factory.mktemp("bin")
    rows = list(csv.DictReader(io.StringIO((assets / "lfw" / "identities.csv").read_text())))
    by_id = defaultdict(list)
    for r in rows:
        by_id[r["identity"]].append(r["path"])
    people = sorted(by_id)[:8]

    def crop(path: str) -> bytes:
        img = Image.open(assets / "lfw" / path).convert("RGB").crop((68, 68, 182, 182)).resize((112, 112))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=95)
        return buf.getvalue()

    images, issame = [], []
    for k, person in enumerate(people):
        images += [crop(by_id[person][0]), crop(by_id[person][1])]  # mated
        other = people[(k + 1) % len(people)]
        images += [crop(by_id[person][2]), crop(by_id[other][3])]  # non-mated
        issame += [True, False]
    path = folder / "mini.bin"
    path.write_bytes(pickle.dumps((images, issame), protocol=2))
    return path


@pytest.fixture(scope="module")
def small_quality_model(tmp_path_factory):
    """A random MobileFaceNet + MLP quality model in the eDifFIQA layout: fast on a CPU."""
    import torch

    from aikd_cli.models.build import build_model
    from aikd_cli.models.config import ModelConfig

    torch.manual_seed(0)
    net = build_model(ModelConfig(arch="mobilefacenet", head="mlp", embedding_size=128, head_hidden=16))
    state = {
        k.replace("feature_extractor.", "base_model.").replace("quality_head.", "mlp."): v
        for k, v in net.state_dict().items()
    }
    path = tmp_path_factory.mktemp("qm") / "mfn_quality.pth"
    torch.save(state, path)
    return path


@pytest.mark.slow
def test_bin_protocol_with_misalignment(small_bin, mobilefacenet_weights, small_quality_model, tmp_path):
    args = [
        "-p",
        small_bin,
        "--fr-model",
        mobilefacenet_weights,
        "-m",
        small_quality_model,
        "--start-error",
        "0.25",
        "--perturb",
        "0,3",
        "--perturb",
        "8",
        "--no-cache",
        "-j",
        "0",
        "--device",
        "cpu",
    ]
    code, output = run_cli(*args, "-o", tmp_path / "a")
    assert code == 0, output
    a = results(tmp_path / "a")
    assert a["datasets"][0]["pairs_used"] == 16 and a["datasets"][0]["mated"] == 8
    rob = {(r["p"], r["limit"]): r for r in a["robustness"]}
    assert set(rob) == {(p, lim) for p in (0.0, 3.0, 8.0) for lim in (0.2, 0.3)}
    assert rob[0.0, 0.3]["spearman"] == pytest.approx(1.0)
    assert -1 <= rob[8.0, 0.3]["spearman"] < 1.0
    assert all(np.isfinite(r["pauc_normalised"]) for r in a["robustness"])
    # p = 0 of the robustness table is the quality model's own row of the main table
    assert rob[0.0, 0.3]["pauc"] == area(a, "mfn_quality", 0.3, key="pauc")
    assert {r["method"] for r in a["results"]} == {
        "mfn_quality",
        "random (baseline)",
        "FR embedding norm (baseline)",
    }
    assert (tmp_path / "a" / "misalignment.csv").exists() and (
        tmp_path / "a" / "plots" / "misalignment_mini.svg"
    ).exists()
    assert "## Misalignment" in (tmp_path / "a" / "table.md").read_text()


def test_perturbation_depends_on_seed_stream_and_face_only():
    """Reproducible per face, whatever else is evaluated and in whatever order; levels scale one draw."""
    import torch

    from aikd_cli.faces.perturb import face_key, perturb_face

    lm = torch.tensor(
        [[38.3, 51.7], [73.5, 51.5], [56.0, 71.7], [41.5, 92.4], [70.7, 92.2]], dtype=torch.float64
    )

    def shift(p, seed=0, path="img1", unit="px", stream="misalign"):
        return perturb_face(lm, p, unit=unit, seed=seed, stream=stream, key=face_key(path))

    a = shift(3.0)
    assert torch.equal(a, shift(3.0))
    assert not torch.equal(a, shift(3.0, seed=1))
    assert not torch.equal(a, shift(3.0, path="img2"))
    assert not torch.equal(a, shift(3.0, stream="other"))
    assert (a - lm).abs().max() <= 3.0 and (a - lm).abs().max() > 0.5
    assert torch.allclose(shift(5.0) - lm, (a - lm) * 5 / 3)  # common random numbers across levels
    assert torch.equal(shift(0.0), lm)
    iod = shift(0.1, unit="iod")
    assert 0 < (iod - lm).abs().max() <= 0.1 * (lm[0] - lm[1]).norm()


@pytest.mark.slow
def test_landmark_columns_and_landmarks_file_replace_detection(
    assets, detector, mobilefacenet_weights, tmp_path
):
    from aikd_cli.images.decode import load_image
    from aikd_cli.tasks.evaluate import DatasetInput, EvaluateOptions, QualityInput, evaluate

    names = [
        "Aaron_Peirsol/Aaron_Peirsol_0001.jpg",
        "Aaron_Peirsol/Aaron_Peirsol_0002.jpg",
        "Abdullah_Gul/Abdullah_Gul_0001.jpg",
        "Abdullah_Gul/Abdullah_Gul_0002.jpg",
    ]
    paths = [assets / "lfw" / n for n in names]
    found = detector.detect([np.array(load_image(p)) for p in paths])
    lm_cols = [f"lm{i}_{a}" for i in range(5) for a in "xy"]
    with open(tmp_path / "q.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "face", "quality", *lm_cols])
        for k, (p, faces) in enumerate(zip(paths, found, strict=True)):
            w.writerow([p, 0, k, *max(faces, key=lambda x: x.area).landmarks.reshape(-1).tolist()])
    with open(tmp_path / "pairs.csv", "w", newline="") as f:
        csv.writer(f).writerows(
            [
                ("path_a", "path_b", "mated"),
                (paths[0], paths[1], 1),
                (paths[2], paths[3], 1),
                (paths[0], paths[2], 0),
                (paths[1], paths[3], 0),
            ]
        )

    def run(quality: Path, **extra):
        options = EvaluateOptions(
            datasets=[DatasetInput(tmp_path / "pairs.csv")],
            quality=[QualityInput(quality)],
            fr_model=str(mobilefacenet_weights),
            threshold=0.3,
            device="cpu",
            **extra,
        )
        return evaluate(options).datasets[0]

    with_columns = run(tmp_path / "q.csv", detector="no-such-detector.pth")  # detection would fail loudly
    assert not any("detected" in note for note in with_columns.notes)
    with open(tmp_path / "plain.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "quality"), *((p, k) for k, p in enumerate(paths))])
    with_file = run(tmp_path / "plain.csv", detector="no-such-detector.pth", landmarks=tmp_path / "q.csv")
    detected = run(
        tmp_path / "plain.csv", detector=str(assets / "models" / "retinaface" / "mobilenet0.25_Final.pth")
    )
    assert "4 samples aligned from detected landmarks" in detected.notes
    # the same landmarks give the same crops, embeddings and so the same embedding-norm curve
    norm = [
        next(m for m in d.methods if "norm" in m.label).curve for d in (with_columns, with_file, detected)
    ]
    assert np.allclose(norm[0].error, norm[2].error) and np.allclose(norm[1].error, norm[2].error)
    assert len(norm[0].error) == 3  # two mated pairs: a real curve, not an empty one


# ------------------------------------------------------------------ bad input


def test_bad_pairs_are_counted_and_reported(tmp_path):
    rng = np.random.default_rng(0)
    rows = [(f"s{i}", f"s{i + 1}", 1, rng.normal(0.6, 0.1)) for i in range(0, 40, 2)]
    rows += [(f"s{i}", f"t{i}", 0, rng.normal(0.0, 0.1)) for i in range(1200)]
    rows += [
        ("s1", "s0", 1, 0.5),
        ("s0", "s0", 1, 0.9),
        ("s2", "nq", 1, 0.5),
        ("s4", "nan", 1, 0.5),
        ("s6", "s8", 1, ""),
    ]
    with open(tmp_path / "pairs.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path_a", "path_b", "mated", "score"), *rows])
    samples = {a for a, *_ in rows} | {b for _, b, *_ in rows}
    with open(tmp_path / "q.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "quality"])
        w.writerows((s, "nan" if s == "nan" else rng.random()) for s in sorted(samples - {"nq"}))
    code, output = run_cli(
        "-p",
        tmp_path / "pairs.csv",
        "--score-column",
        "score",
        "-q",
        tmp_path / "q.csv",
        "-o",
        tmp_path / "out",
        "--no-cache",
    )
    assert code == 0, output
    d = results(tmp_path / "out")["datasets"][0]
    assert d["excluded_pairs"] == {
        "duplicate pair": 1,
        "self-comparison (same sample twice)": 1,
        "no quality score in q": 1,
        "quality is NaN/inf in q": 1,
        "comparison score missing or NaN": 1,
    }
    assert d["pairs_used"] == 1220 and d["mated"] == 20 and d["nonmated"] == 1200
    assert "excluded 1 pair: duplicate pair" in output

    code, output = run_cli(
        "-p",
        tmp_path / "pairs.csv",
        "--score-column",
        "score",
        "-q",
        tmp_path / "q.csv",
        "--fmr",
        "1e-4",
        "-o",
        tmp_path / "x",
        "--no-cache",
    )
    assert code == 2 and "1,200 non-mated pairs left, but FMR 0.0001 needs at least 10,000" in output
    nonmated_only = tmp_path / "nm.csv"
    nonmated_only.write_text("path_a,path_b,mated,score\ns0,t0,0,0.1\n")
    code, output = run_cli(
        "-p",
        nonmated_only,
        "--score-column",
        "score",
        "-q",
        tmp_path / "q.csv",
        "--threshold",
        "0.5",
        "-o",
        tmp_path / "x",
        "--no-cache",
    )
    assert code == 2 and "no mated pairs left to evaluate" in output
    code, output = run_cli(
        "-p", tmp_path / "q.csv", "-q", tmp_path / "q.csv", "--score-column", "score", "-o", tmp_path / "x"
    )
    assert code == 2 and "not a pairs CSV" in output
    code, output = run_cli(
        "-p", tmp_path / "pairs.csv", "-q", tmp_path / "q.csv", "--perturb", "3", "-o", tmp_path / "x"
    )
    assert code == 2 and "--perturb re-scores the images, so it needs a quality model (--model)" in output
    code, output = run_cli("-p", tmp_path / "pairs.csv", "-q", tmp_path / "q.csv", "-o", tmp_path / "x")
    assert code == 2 and "no comparison scores" in output
    common = ["-p", tmp_path / "pairs.csv", "--score-column", "score", "-q", tmp_path / "q.csv", "--no-cache"]
    code, output = run_cli(*common, "-l", "0.1,0.25", "-l", "0.5", "-o", tmp_path / "limits")
    assert code == 0 and results(tmp_path / "limits")["limits"] == [0.1, 0.25, 0.5]
    code, output = run_cli(*common, "-l", "0.1,x", "-o", tmp_path / "x")
    assert code == 2 and "--limit: 'x' is not a number" in output


def test_crfiqa_protocol_and_multiple_datasets(tmp_path):
    rng = np.random.default_rng(1)
    paths = []
    for name in ("one", "two"):
        rows, quality = [], {}
        for i in range(3000):
            mated = i < 600
            q = rng.random()
            a, b = f"{name}a{i}", f"{name}b{i}"
            quality[a], quality[b] = q, 1.0
            score = rng.normal(0.25 + 0.5 * q, 0.1) if mated else rng.normal(0, 0.1)
            rows.append((a, b, int(mated), score))
        with open(tmp_path / f"{name}.csv", "w", newline="") as f:
            csv.writer(f).writerows([("path_a", "path_b", "mated", "score"), *rows])
        with open(tmp_path / f"q_{name}.csv", "w", newline="") as f:
            csv.writer(f).writerows([("path", "quality"), *quality.items()])
        paths.append(name)
    args = ["--score-column", "score", "--no-cache", "--fmr", "1e-3"]
    for name in paths:
        args += ["-p", tmp_path / f"{name}.csv", "-q", f"{tmp_path / f'q_{name}.csv'}:good"]
    code, output = run_cli(*args, "--protocol", "crfiqa", "-o", tmp_path / "cr")
    assert code == 0, output
    cr = results(tmp_path / "cr")
    assert area(cr, "good", 0.3, "one") < 0.7 and 0.7 < area(cr, "random (baseline)", 0.3, "one") < 1.3
    assert cr["table"]["columns"] == [
        "one @0.2",
        "one @0.3",
        "two @0.2",
        "two @0.3",
        "mean @0.2",
        "mean @0.3",
    ]
    good = cr["table"]["values"][cr["table"]["methods"].index("good")]
    assert good[-1] == pytest.approx((good[1] + good[3]) / 2) and cr["table"]["best"]["mean @0.3"] == ["good"]
    code, output = run_cli(*args, "-o", tmp_path / "edc")
    assert code == 0
    edc_result = results(tmp_path / "edc")
    assert area(edc_result, "good", 0.3, "two") < 0.7  # both protocols agree that it helps
    code, output = run_cli(
        *[a for a in args if a not in ("--fmr", "1e-3")],
        "--start-error",
        "0.1",
        "--protocol",
        "crfiqa",
        "-o",
        tmp_path / "x",
    )
    assert code == 2 and "re-fixes the threshold at each rate" in output
