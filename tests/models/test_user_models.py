"""``aikd models add``: weights that are on no hub (CR-FIQA) and the user's own, by name, offline."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from typer.testing import CliRunner

from aikd_cli import user_config
from aikd_cli.cli.app import app
from aikd_cli.errors import WeightsError
from aikd_cli.models import adding, user_models
from aikd_cli.models.iresnet import iresnet
from aikd_cli.models.loading import load_network, resolve_weights

runner = CliRunner()


@pytest.fixture(scope="module")
def crfiqa_s(tmp_path_factory):
    """A CR-FIQA(S)-shaped checkpoint (iResNet-50 + qs, random but fixed) under the authors' file name."""
    torch.manual_seed(0)
    net = iresnet(50, quality_outputs=1).eval()
    path = tmp_path_factory.mktemp("crfiqa") / "32572backbone.pth"
    torch.save(net.state_dict(), path)
    return path, net


def test_config_folder_is_per_user_and_overridable(monkeypatch, tmp_path):
    monkeypatch.setenv("AIKD_CONFIG_DIR", str(tmp_path / "override"))
    assert user_models.config_file() == tmp_path / "override" / "models.json"
    monkeypatch.delenv("AIKD_CONFIG_DIR")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert user_config.config_dir() == tmp_path / "xdg" / "aikd"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_config.config_dir() == tmp_path / "home" / ".config" / "aikd"


@pytest.mark.parametrize("name", ["cr-fiqa", "cr-fiqa-l", "CR-FIQA"])
def test_crfiqa_before_add_says_where_and_how_in_one_line(config, name):
    with pytest.raises(WeightsError) as info:
        load_network(name, expect="quality")
    message = str(info.value)
    assert "https://drive.google.com/drive/folders/1siy_3eQSBuIV6U6_9wgGtbZG2GMgVLMy" in message
    assert "`aikd models add cr-fiqa-l PATH/TO/181952backbone.pth`" in message and "CC-BY-NC-4.0" in message
    assert info.value.hint is None and "\n" not in message


@pytest.mark.slow
def test_crfiqa_added_resolves_offline_and_a_tampered_file_is_refused(config, crfiqa_s, tmp_path):
    source, net = crfiqa_s
    path = tmp_path / source.name
    path.write_bytes(source.read_bytes())
    result = runner.invoke(app, ["models", "add", "cr-fiqa-s", str(path)])
    assert result.exit_code == 0, result.output
    assert "cr-fiqa-s" in result.stdout and str(path) in result.stdout
    assert "non-commercial" in result.stderr and str(config) in result.stderr
    record = json.loads(config.read_text())["models"]["cr-fiqa-s"]
    assert record["path"] == str(path) and record["arch"] == "iresnet50" and record["task"] == "quality"

    loaded = load_network("cr-fiqa-s", expect="quality")
    assert loaded.layout == "crfiqa" and loaded.config.preprocess.colour == "RGB"
    x = torch.rand(2, 3, 112, 112)
    with torch.no_grad():
        assert torch.allclose(loaded.net(x)[1], net(x)[1])

    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="changed since it was added"):
        resolve_weights("cr-fiqa-s")
    path.unlink()
    with pytest.raises(WeightsError, match="is gone"):
        resolve_weights("cr-fiqa-s")


def test_a_file_of_the_wrong_architecture_is_not_added(config, tmp_path):
    torch.save(iresnet(18, num_features=64, quality_outputs=1).state_dict(), tmp_path / "181952backbone.pth")
    with pytest.raises(WeightsError, match="holds a iresnet18 .* not cr-fiqa-l's iresnet100"):
        adding.add("cr-fiqa", tmp_path / "181952backbone.pth")
    assert not config.exists()


def test_an_entry_with_a_pinned_hash_takes_only_the_published_file(config, retinaface_weights):
    """The kit's RetinaFace blob is biubug6's original, not py-feat's re-upload the registry pins."""
    with pytest.raises(WeightsError, match="checksum mismatch"):
        adding.add("retinaface-mnet025", retinaface_weights)
    assert not config.exists()


def test_own_model_by_name(config, tiny_quality_checkpoint, tmp_path):
    entry, spec = adding.add("My-Teacher", tiny_quality_checkpoint)
    assert spec is None and entry.name == "my-teacher" and entry.task == "quality"
    loaded = load_network("my-teacher", expect="quality")
    assert loaded.layout == "ediffiqa" and loaded.config.embedding_size == 64
    table = runner.invoke(app, ["models"], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "my-teacher" in table.stdout and "registered" in table.stdout
    assert "my-teacher" not in runner.invoke(app, ["models", "--task", "detection"], env={"COLUMNS": "250"}).stdout
    result = runner.invoke(app, ["models", "remove", "my-teacher"])
    assert result.exit_code == 0 and tiny_quality_checkpoint.exists()
    with pytest.raises(WeightsError, match="not a file, an hf:// address or a registered model name"):
        resolve_weights("my-teacher")


@pytest.mark.parametrize("name", ["x.pth", "two words", "-dash", "hf://org/name", "a/b"])
def test_names_that_look_like_files_or_addresses_are_refused(config, tiny_quality_checkpoint, name):
    with pytest.raises(WeightsError, match="cannot be a model name"):
        adding.add(name, tiny_quality_checkpoint)


def test_unloadable_file_is_one_line_and_not_recorded(config, tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    result = runner.invoke(app, ["models", "add", "junk", str(tmp_path / "junk.pth")])
    assert result.exit_code == 2 and "junk.pth: not a readable PyTorch checkpoint" in result.stderr
    assert "Traceback" not in result.output and not config.exists()
    result = runner.invoke(app, ["models", "remove", "junk"])
    assert result.exit_code == 2 and "not a locally registered model" in result.stderr


def test_unknown_task_is_refused(config):
    result = runner.invoke(app, ["models", "--task", "foo"])
    assert result.exit_code == 2 and "--task must be one of quality, recognition, detection (got 'foo')" in result.stderr
