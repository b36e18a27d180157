"""Shared fixtures. The Hub is never contacted: HF_HUB_OFFLINE=1 and a private, empty HF cache
are set before huggingface_hub can be imported, and tests seed that cache themselves."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="aikd-test-hf-")
os.environ.pop("HF_HUB_CACHE", None)
os.environ["AIKD_CACHE_DIR"] = tempfile.mkdtemp(prefix="aikd-test-cache-")  # evaluate's model-output cache
os.environ["AIKD_CONFIG_DIR"] = tempfile.mkdtemp(prefix="aikd-test-config-")  # never the real home
os.environ.setdefault("AIKD_TEST", "1")

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

from factories import make_quality_net, save_ediffiqa_layout  # noqa: E402

ASSETS = Path(os.environ.get("AIKD_ASSETS", Path(__file__).resolve().parents[1].parent / "shared" / "assets"))


def _need(path: Path) -> Path:
    """The kit file, or a skip -- but in CI (``CI=true``) a missing kit fails the run instead of
    quietly skipping every test that needs it."""
    if not path.exists():
        message = f"test kit not found at {path} (set AIKD_ASSETS to ../shared/assets)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def assets() -> Path:
    return _need(ASSETS)


@pytest.fixture(scope="session")
def retinaface_weights(assets) -> Path:
    return _need(assets / "models" / "retinaface" / "mobilenet0.25_Final.pth")


@pytest.fixture(scope="session")
def mobilefacenet_weights(assets) -> Path:
    return _need(assets / "models" / "fr" / "mobilefacenet_foamliu.pt")


@pytest.fixture()
def hf_cache(tmp_path, monkeypatch) -> Path:
    """A fresh, private HF cache for this test (seed it with hubcache.seed_hub_cache): what one test
    seeds under a registered name never leaks into another."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def detector(retinaface_weights):
    from aikd_cli.faces.detector import FaceDetector
    from aikd_cli.models.loading import load_network

    return FaceDetector(load_network(retinaface_weights, expect="detection").net)


@pytest.fixture()
def tiny_quality_checkpoint(tmp_path) -> Path:
    """An eDifFIQA-layout checkpoint (iResNet-18, 64-d embedding, small head), random but fixed."""
    return save_ediffiqa_layout(make_quality_net(), tmp_path / "ediffiqa_tiny.pth")
