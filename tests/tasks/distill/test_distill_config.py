"""The run configuration: defaults < file < command line, round trips, clear errors."""

from __future__ import annotations

import pytest

from aikd_cli.errors import InputFormatError
from aikd_cli.tasks.distill.config import DistillConfig, differences
from aikd_cli.tasks.distill.config_file import read_config_file, resolve_config, to_toml


def test_paper_recipe_is_the_reference_and_options_still_override_it():
    c = resolve_config(None, {"recipe": "paper"})
    assert (c.optimizer, c.lr, c.lr_backbone, c.momentum, c.momentum_backbone) == (
        "sgd",
        0.05,
        0.05,
        0.9,
        0.1,
    )
    assert (c.weight_decay, c.backbone_tensors, c.grad_clip, c.quality_loss, c.beta) == (
        5e-4,
        100,
        5.0,
        "smoothl1",
        0.5,
    )
    assert (c.perturb, c.perturb_unit, c.batch_size, c.val_every, c.ema_decay) == (3.0, "px", 64, 0.1, 0.1)
    assert (c.head_scaling, c.quality_units, c.freeze_bn, c.schedule, c.val_fraction) == (
        False,
        "label",
        False,
        "constant",
        0.01,
    )
    assert resolve_config(None, {"recipe": "paper", "lr": 0.01}).lr == 0.01  # typed options win
    default = resolve_config(None, {})
    assert default == DistillConfig() and (default.optimizer, default.head_scaling, default.epochs) == (
        "adamw",
        True,
        0,
    )
    with pytest.raises(InputFormatError, match="--recipe must be one of default, paper"):
        resolve_config(None, {"recipe": "papr"})


def test_file_then_command_line_precedence_and_toml_round_trip(tmp_path):
    run = tmp_path / "run.toml"
    run.write_text('[data]\ndata = ["imgs"]\n[optim]\nlr = 0.01\n[run]\nepochs = 3\nseed = 7\n')
    out = str(tmp_path / "runs" / "a")
    config = resolve_config(run, {"seed": 9, "perturb": 0.05, "perturb_unit": "iod", "output": out})
    assert config.lr == 0.01 and config.epochs == 3  # from the file
    assert config.seed == 9 and config.perturb == 0.05 and config.perturb_unit == "iod"  # typed options win
    assert config.data == [str(tmp_path / "imgs")]  # relative to the run file
    saved = tmp_path / "runs" / "a" / "config.toml"  # where a run writes it
    saved.parent.mkdir(parents=True)
    saved.write_text(to_toml(config))
    assert resolve_config(saved) == config
    assert differences(config, resolve_config(saved, {"workers": 7, "device": "cpu"})) == []
    assert differences(config, resolve_config(saved, {"lr": 0.5})) == ["lr"]


def test_yaml_config(tmp_path):
    pytest.importorskip("yaml")
    run = tmp_path / "run.yaml"
    run.write_text("loss:\n  lambda_cos: 0.5\n  quality_loss: l1\nbatch_size: 8\n")
    config = resolve_config(run)
    assert (config.lambda_cos, config.quality_loss, config.batch_size) == (0.5, "l1", 8)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[optim]\nlearning_rate = 0.1\n", "unknown option 'learning_rate'"),
        ("[run]\nlr = 0.1\n", "belongs in [optim]"),
        ("[run]\nepochs = 'three'\n", "epochs = 'three' is not a valid int"),
        ("[run\n", "not valid TOML"),
    ],
)
def test_bad_config_files_name_the_problem(tmp_path, text, message):
    run = tmp_path / "run.toml"
    run.write_text(text)
    with pytest.raises(InputFormatError, match=message.replace("[", r"\[")):
        read_config_file(run)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "no training data"),
        ({"data": ["x"]}, "no teacher"),
        ({"data": ["x"], "teacher": "t", "backbone": "b", "labels": "l.csv"}, "--labels has no place"),
        ({"data": ["x"], "teacher": "t", "perturb_unit": "mm"}, "--perturb-unit must be one of px, iod"),
        ({"data": ["x"], "teacher": "t", "perturb": -1.0}, r"--perturb must be a finite number in \[0, 1000\]"),
        ({"data": ["x"], "teacher": "t", "student": "iresnet05"}, "did you mean"),
    ],
)
def test_invalid_runs_are_refused_before_anything_loads(overrides, message):
    with pytest.raises(InputFormatError, match=message):
        resolve_config(None, overrides).validate()


def test_run_files_read_on_python_3_10(tmp_path, monkeypatch):
    """Python 3.10 has no tomllib: the run file is read by tomli, which the package depends on there."""
    import builtins
    import sys

    real_import = builtins.__import__

    def without_tomllib(name, *args, **kwargs):
        if name == "tomllib":
            raise ModuleNotFoundError("No module named 'tomllib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "tomllib", raising=False)
    monkeypatch.setattr(builtins, "__import__", without_tomllib)
    run = tmp_path / "run.toml"
    run.write_text('[loss]\nlambda_cos = 2.5\n[run]\nepochs = 3\n')
    assert read_config_file(run) == {"lambda_cos": 2.5, "epochs": 3}


def test_tomli_is_declared_for_python_3_10():
    from pathlib import Path

    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("tomli") and "python_version < '3.11'" in d for d in project["dependencies"])


def test_written_run_files_name_no_local_folder_and_read_back_the_same(tmp_path):
    """config.toml (and the checkpoints' training record) hold paths relative to the run folder;
    reading the file back gives the absolute paths the run used."""
    (tmp_path / "faces").mkdir()
    (tmp_path / "teacher.pth").write_bytes(b"x")
    run = tmp_path / "runs" / "r1"
    config = DistillConfig(data=[str(tmp_path / "faces")], backbone=str(tmp_path / "teacher.pth"),
                           labels=str(tmp_path / "labels.csv"), output=str(run), detector="retinaface-mnet025")
    run.mkdir(parents=True)
    text = to_toml(config)
    assert str(tmp_path) not in text and 'backbone = "../../teacher.pth"' in text and 'output = "."' in text
    assert 'detector = "retinaface-mnet025"' in text  # a registry name stays a name
    (run / "config.toml").write_text(text)
    again = read_config_file(run / "config.toml")
    assert again["data"] == config.data and again["backbone"] == config.backbone
    assert again["labels"] == config.labels and again["output"] == config.output
    assert str(tmp_path) not in str(config.portable_dict())
