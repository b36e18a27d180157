"""`lightqnet` and `insightface-mfn` by name in score, label, evaluate and distill, offline, with no
extra flags: generated stand-ins registered under the registry names (the real files are not in the
kit; benchmarks/aikd_lfw.py runs the real ones)."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json

import numpy as np
import pytest
from distill_helpers import lfw_identities
from mxnet_files import tiny_model
from test_declared_models import nhwc_quality_graph
from typer.testing import CliRunner

from aikd_cli.cli.app import app
from aikd_cli.models import adding, registry

runner = CliRunner()


@pytest.fixture
def named(tmp_path, monkeypatch):
    """Stand-ins registered as `lightqnet` (an NHWC 96 px ONNX graph recording that it was converted
    from the published .pb) and `insightface-mfn` (a generated MXNet model, 128-d, whose sha256 the
    registry entry is made to pin)."""
    import onnx

    monkeypatch.setenv("AIKD_CONFIG_DIR", str(tmp_path / "config"))
    lq = tmp_path / "lightqnet-dm100.onnx"
    nhwc_quality_graph(lq)
    model = onnx.load(str(lq))
    meta = model.metadata_props.add()
    meta.key, meta.value = "converted_from", json.dumps({"file": "lightqnet-dm100.pb",
                                                         "sha256": registry.get_spec("lightqnet").sha256})
    onnx.save(model, str(lq))
    params = tiny_model(tmp_path / "mx", side=112, features=128)
    digest = hashlib.sha256(params.read_bytes()).hexdigest()
    spec = dataclasses.replace(registry.get_spec("insightface-mfn"), sha256=digest, size=params.stat().st_size)
    monkeypatch.setitem(registry._REGISTRY, "insightface-mfn", spec)
    adding.add("lightqnet", lq)
    adding.add("insightface-mfn", params)
    return tmp_path


def test_both_names_in_every_command(named, assets, retinaface_weights, mobilefacenet_weights):
    tmp = named
    ids = lfw_identities(assets, tmp / "ids.csv", people=3)
    det = ["--detector", str(retinaface_weights)]
    scores = tmp / "scores.csv"
    result = runner.invoke(app, ["score", *[r["path"] for r in csv.DictReader(open(ids))], "--model", "lightqnet",
                                 *det, "-o", str(scores), "-j", "0"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(scores)))
    assert len(rows) == 12 and all(r["status"] == "ok" for r in rows)
    assert len({r["quality"] for r in rows}) > 1
    labels = tmp / "labels.csv"
    result = runner.invoke(app, ["label", "-i", str(ids), "--fr-model", "insightface-mfn", "--landmarks", str(scores),
                                 "--scheme", "norm", *det, "-o", str(labels)])
    assert result.exit_code == 0, result.output
    assert sum(1 for r in csv.DictReader(open(labels)) if r["status"] == "ok") == 12
    result = runner.invoke(app, ["evaluate", "--identities", str(ids), "--fr-model", "insightface-mfn", "-m", "lightqnet",
                                 "--landmarks", str(scores), "--start-error", "0.2", *det, "-o", str(tmp / "ev")])
    assert result.exit_code == 0, result.output
    methods = {r["method"] for r in json.loads((tmp / "ev" / "results.json").read_text())["results"]}
    assert "lightqnet" in methods
    result = runner.invoke(app, ["distill", str(scores), "--teacher", "lightqnet", "--backbone", str(mobilefacenet_weights),
                                 *det, "-o", str(tmp / "run"), "--max-steps", "1", "-b", "8", "-j", "0", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert (tmp / "run" / "best.safetensors").exists()
    # the student's training targets are LightQNet's qualities of the aligned faces
    head = json.loads((tmp / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert np.isfinite(head.get("val_label_std", 0.0))
