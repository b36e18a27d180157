"""Every option is declared once, on its task's options dataclass: the command line's parameters,
their defaults and the Python API's defaults are the same by construction, for every command."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import click
import pytest
import typer
from paths import SRC

from aikd_cli.cli.app import app
from aikd_cli.options import default_of, flag_of, spec_of
from aikd_cli.tasks.align.options import AlignOptions
from aikd_cli.tasks.distill.config import DistillConfig
from aikd_cli.tasks.evaluate.options import EvaluateOptions
from aikd_cli.tasks.export.options import ExportOptions
from aikd_cli.tasks.label.options import LabelOptions
from aikd_cli.tasks.models import AddOptions, DefaultOptions, ModelsOptions, NameOptions
from aikd_cli.tasks.report.options import ReportOptions
from aikd_cli.tasks.score.options import ScoreOptions

COMMANDS = {
    ("score",): ScoreOptions, ("align",): AlignOptions, ("label",): LabelOptions, ("report",): ReportOptions,
    ("evaluate",): EvaluateOptions, ("export",): ExportOptions, ("distill",): DistillConfig,
    ("models",): ModelsOptions, ("models", "add"): AddOptions, ("models", "show"): NameOptions,
    ("models", "remove"): NameOptions, ("models", "default"): DefaultOptions,
}


def _command(path: tuple[str, ...]) -> click.Command:
    cmd = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]
    return cmd


def _cli_default(value):
    return tuple(value) if isinstance(value, list) else value


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p))
def test_every_field_is_a_parameter_with_the_api_default(path):
    cls = COMMANDS[path]
    params = {p.name: p for p in _command(path).params}
    fields = [f for f in dataclasses.fields(cls) if spec_of(f) is not None and spec_of(f).cli]
    assert fields, cls
    for f in fields:
        assert f.name in params, f"{cls.__name__}.{f.name} has no command-line parameter"
        param = params[f.name]
        if spec_of(f).argument:
            assert param.param_type_name == "argument"
            continue
        assert flag_of(f) in param.opts or flag_of(f) in param.secondary_opts
        if path == ("distill",):  # only typed options are passed on (they override --config)
            assert param.default is None
            continue
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            assert param.required, f.name
            continue
        api = default_of(f)
        if spec_of(f).parse is None and param.default is not None:
            assert _cli_default(param.default) == _cli_default(api), f"{path} {f.name}: {param.default!r} != {api!r}"
        else:  # parsed from text, or collected lists: not given means the field's default
            assert param.default in (None, [], ()), f.name


def test_no_command_line_parameter_without_a_field():
    """What a command takes beyond its options is named here (hidden deprecated spellings aside)."""
    extra = {("align",): {"relative"}, ("report",): {"no_crops"}, ("distill",): {"config_file", "resume"},
             ("models",): {"ctx"}}
    for path, cls in COMMANDS.items():
        names = {f.name for f in dataclasses.fields(cls)}
        for p in _command(path).params:
            if p.name in names or p.name in extra.get(path, ()) or p.hidden or p.name == "help":
                continue
            raise AssertionError(f"{' '.join(path)}: parameter {p.name} is declared outside {cls.__name__}")


def test_options_are_keyword_only():
    for cls in set(COMMANDS.values()):
        with pytest.raises(TypeError):
            cls("photos/")


@pytest.mark.parametrize("argv", [["score", "missing/"], ["align", "missing/", "-o", "x"],
                                  ["label", "-i", "missing.csv", "--fr-model", "x"],
                                  ["evaluate", "--identities", "missing.csv", "-q", "q.csv", "--fr-model", "x"],
                                  ["report", "missing.csv"], ["score", "x", "--det-threshold", "5"],
                                  ["distill", "x", "--teacher", "t", "--det-threshold", "5"]])
def test_mistakes_are_answered_before_torch_is_imported(tmp_path, argv):
    code = ("import sys\nfrom aikd_cli.cli.app import main\nsys.argv = ['aikd', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    print('torch' in sys.modules, e.code)\n")
    env = {"PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.stdout.strip().splitlines()[-1] == "False 2", (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error:") and "Traceback" not in proc.stderr
