"""Third-party ONNX files (no aikd metadata) run by name, their contract taken from the registry."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hubcache import seed_hub_cache
from onnxgraphs import save_graph

from aikd_cli.errors import WeightsError
from aikd_cli.models import hub, registry
from aikd_cli.models.inference import open_face_model

pytest.importorskip("onnxruntime")


@pytest.fixture
def crops() -> torch.Tensor:
    return torch.randint(0, 256, (5, 3, 112, 112), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def _register_like(base: str, name: str, path, hf_cache, **changes) -> registry.WeightsSpec:
    """An entry like ``base`` whose Hub file is ``path`` (seeded in the offline cache)."""
    spec = dataclasses.replace(registry.get_spec(base), name=name, repo_id=f"test/{name}", filename=path.name,
                               revision="main", sha256=hub.sha256_of(path), size=path.stat().st_size, **changes)
    seed_hub_cache(hf_cache, spec.repo_id, {path.name: path})
    registry.unregister(name)
    return registry.register(spec)


@pytest.mark.parametrize("batch", ["n", 1])
def test_quality_only_onnx_runs_by_name(tmp_path, hf_cache, crops, batch):
    save_graph(tmp_path / "fiqa.onnx", "quality", batch=batch)
    spec = _register_like("ediffiqa-t", f"test-fiqa-onnx-{batch}", tmp_path / "fiqa.onnx", hf_cache)
    try:
        model = open_face_model(spec.name, device="cpu", expect="quality")
        out = model(crops)
        expected = ((crops.float() / 255 - 0.5) / 0.5).mean(dim=(1, 2, 3))  # RGB, (x/255 - 0.5)/0.5
        assert out.quality is not None and torch.allclose(out.quality, expected, atol=1e-5)
        assert out.embedding.shape == (5, 0)
        with pytest.raises(WeightsError, match="no embedding"):
            open_face_model(spec.name, device="cpu", expect="recognition")
    finally:
        registry.unregister(spec.name)


def test_fr_onnx_runs_by_name_and_is_refused_as_quality_model(tmp_path, hf_cache, crops):
    weight = save_graph(tmp_path / "fr.onnx", "embedding")
    spec = _register_like("arcface-r50-webface600k", "test-fr-onnx", tmp_path / "fr.onnx", hf_cache)
    try:
        model = open_face_model(spec.name, device="cpu", expect="recognition")
        out = model(crops)
        x = ((crops.float() / 255 - 0.5) / 0.5).mean(dim=(2, 3)).numpy()
        assert out.quality is None and np.allclose(out.embedding.numpy(), x @ weight, atol=1e-4)
        with pytest.raises(WeightsError, match="recognition model .* but a quality model is needed"):
            open_face_model(spec.name, device="cpu", expect="quality")
    finally:
        registry.unregister(spec.name)


def test_graph_that_breaks_its_contract_is_refused(tmp_path, hf_cache):
    save_graph(tmp_path / "fiqa.onnx", "quality")
    spec = _register_like("arcface-r50-webface600k", "test-broken-contract", tmp_path / "fiqa.onnx", hf_cache,
                          onnx=registry.OnnxContract(embedding=1))
    try:
        with pytest.raises(WeightsError, match="1 output.*none at index 1 for the embedding"):
            open_face_model(spec.name, device="cpu")
    finally:
        registry.unregister(spec.name)


def test_onnx_without_metadata_or_entry_is_refused(tmp_path):
    save_graph(tmp_path / "x.onnx", "quality")
    with pytest.raises(WeightsError, match="no aikd metadata.*registered ONNX model by name"):
        open_face_model(str(tmp_path / "x.onnx"), device="cpu")
