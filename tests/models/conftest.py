"""Fixtures of the model tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def config(tmp_path, monkeypatch):
    """A private per-user config folder (registrations, defaults); its models.json path."""
    folder = tmp_path / "config"
    monkeypatch.setenv("AIKD_CONFIG_DIR", str(folder))
    return folder / "models.json"
