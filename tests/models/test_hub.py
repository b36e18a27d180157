"""The real huggingface_hub download path, run offline against a seeded cache."""

from __future__ import annotations

import dataclasses

import pytest
from hubcache import seed_hub_cache

from aikd_cli.errors import WeightsError
from aikd_cli.models import hub, registry
from aikd_cli.models.loading import load_network, resolve_weights


def test_hub_uri_parsing():
    ref = hub.HubRef.parse("hf://org/name@abc123/sub/model.safetensors")
    assert (ref.repo_id, ref.revision, ref.filename) == ("org/name", "abc123", "sub/model.safetensors")
    assert hub.HubRef.parse("hf://org/name").filename is None
    with pytest.raises(WeightsError):
        hub.HubRef.parse("hf://justone")


def test_registered_detector_from_offline_cache(hf_cache, retinaface_weights):
    spec = registry.get_spec("retinaface-mnet025")
    seed_hub_cache(hf_cache, spec.repo_id, {spec.filename: retinaface_weights}, commit=spec.revision)
    # the kit's copy is biubug6's original blob, not py-feat's re-upload: the pinned sha256 must catch that
    with pytest.raises(WeightsError, match="checksum mismatch"):
        load_network("retinaface-mnet025")
    kit_sha = hub.sha256_of(retinaface_weights)
    registry.unregister("test-retinaface")
    registry.register(dataclasses.replace(spec, name="test-retinaface", sha256=kit_sha))
    try:
        loaded = load_network("test-retinaface", expect="detection")
        assert loaded.config.arch == "retinaface-mnet025"
        assert str(resolve_weights("test-retinaface").path).startswith(str(hf_cache))
    finally:
        registry.unregister("test-retinaface")


def test_uncached_weights_give_actionable_offline_error():
    with pytest.raises(WeightsError) as info:
        load_network("retinaface-r50")
    message = str(info.value)
    assert "leonelhs/facexlib/detection_Resnet50_Final.pth" in message
    assert "HF_HUB_OFFLINE" in message and "hf download" in message


def test_unpinned_file_name_is_found_by_listing_the_cached_repo(hf_cache, tiny_quality_checkpoint):
    seed_hub_cache(hf_cache, "someone/fiqa-tiny", {"README.md": b"# card", "weights/model.pth": tiny_quality_checkpoint})
    loaded = load_network("hf://someone/fiqa-tiny", expect="quality")
    assert loaded.layout == "ediffiqa" and loaded.config.arch == "iresnet18"


def test_two_candidate_files_are_refused_not_guessed(hf_cache, tiny_quality_checkpoint):
    seed_hub_cache(hf_cache, "someone/ambiguous", {"a.pth": tiny_quality_checkpoint, "b.pth": tiny_quality_checkpoint})
    with pytest.raises(WeightsError, match="several candidate weight files"):
        load_network("hf://someone/ambiguous")


# --- a tampered or wrong file is refused, for each kind of entry -----------------------------

def test_pinned_onnx_entry_refuses_a_tampered_file(hf_cache):
    spec = registry.get_spec("ediffiqa-t")
    seed_hub_cache(hf_cache, spec.repo_id, {spec.filename: b"\0" * spec.size}, commit=spec.revision)
    with pytest.raises(WeightsError, match="checksum mismatch"):
        resolve_weights("ediffiqa-t")
    seed_hub_cache(hf_cache, spec.repo_id, {spec.filename: b"\0" * 100}, commit=spec.revision)
    with pytest.raises(WeightsError, match="100 bytes, expected 7,272,678"):
        resolve_weights("ediffiqa-t")


def test_pinned_fr_entries_refuse_a_tampered_file(hf_cache, tiny_quality_checkpoint):
    for name in ("cosface-r100-glint360k", "arcface-r50-webface600k", "auraface-r100"):
        spec = registry.get_spec(name)
        seed_hub_cache(hf_cache, spec.repo_id, {spec.filename: tiny_quality_checkpoint}, commit=spec.revision)
        with pytest.raises(WeightsError, match="expected|checksum mismatch"):
            resolve_weights(name)


def test_unpinned_entry_refuses_a_file_of_another_architecture(hf_cache, tiny_quality_checkpoint):
    """eDifFIQA publishes no hash: a file that is not eDifFIQA(S)'s architecture is still refused."""
    spec = registry.get_spec("ediffiqa-s")
    seed_hub_cache(hf_cache, spec.repo_id, {"weights.pth": tiny_quality_checkpoint})
    with pytest.raises(WeightsError, match="holds a iresnet18 .*64-d.*not ediffiqa-s's iresnet18"):
        load_network("ediffiqa-s", expect="quality")
