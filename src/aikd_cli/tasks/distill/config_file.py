"""Run files of ``aikd distill``: a TOML (or YAML) file of options read into a
:class:`~aikd_cli.tasks.distill.config.DistillConfig`, and the resolved config written back as TOML
(``config.toml`` beside the checkpoints). Precedence: defaults < file < options typed."""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from aikd_cli.errors import InputFormatError, close_matches
from aikd_cli.options import flag_of
from aikd_cli.tasks.distill.config import FIELDS, MODEL_FIELDS, RECIPES, SECTIONS, DistillConfig, section_of


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Type-check one value from a file or the command line against the field's default type."""
    f = FIELDS[name]
    kind = f.type
    try:
        if "list" in kind:
            if isinstance(value, str):
                return [value]
            if isinstance(value, list | tuple) and all(isinstance(v, str | Path) for v in value):
                return [str(v) for v in value]
            raise TypeError
        if value is None:
            if "None" in kind:
                return None
            raise TypeError
        if kind.startswith("bool"):
            if isinstance(value, bool):
                return value
            raise TypeError
        if kind.startswith("int"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if kind.startswith("float"):
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise InputFormatError(f"{origin}: {name} = {value!r} is not a valid {kind}") from None


def _parse_toml(text: str, path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the tomli dependency (pyproject.toml) is the same parser
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputFormatError(f"{path}: not valid TOML ({exc})") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Flat ``{field: value}`` from a TOML (or, when PyYAML is installed, YAML) run file.

    Keys may sit at the top level or in the tables of :data:`SECTIONS`; unknown keys are errors
    with a suggestion, so a typo never silently falls back to a default.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFormatError(f"{path}: cannot read config ({exc.strerror or exc})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise InputFormatError(
                f"{path}: YAML configs need PyYAML", hint="pip install pyyaml, or use TOML"
            ) from None
        try:
            raw = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise InputFormatError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    else:
        raw = _parse_toml(text, path)
    if not isinstance(raw, dict):
        raise InputFormatError(f"{path}: expected a table of options")
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECTIONS and isinstance(value, dict):
            for sub, v in value.items():
                _check_key(sub, path, section=key)
                flat[sub] = _coerce(sub, v, str(path))
        else:
            _check_key(key, path)
            flat[key] = _coerce(key, value, str(path))
    base = path.parent
    for key in ("data", "val_data"):  # relative paths in a run file are relative to the file
        if key in flat:
            flat[key] = [_relative_to(base, p) for p in flat[key]]
    for key in ("landmarks", "labels", "output"):
        if flat.get(key):
            flat[key] = _relative_to(base, flat[key])
    for key in MODEL_FIELDS:  # a name stays a name
        if flat.get(key) and (base / flat[key]).exists():
            flat[key] = _relative_to(base, flat[key])
    return flat


def _relative_to(base: Path, value: str) -> str:
    p = Path(value).expanduser()
    return str(p) if p.is_absolute() or value.startswith("hf://") else os.path.normpath(base / p)


#: Where run files written before the shared detection and compute options (aikd 0.1) keep them.
EARLIER_TABLES = {*((k, "data") for k in ("detector", "det_size", "det_threshold", "landmarks")),
                  *((k, "run") for k in ("device", "batch_size", "workers"))}


def _check_key(key: str, path: Path, section: str | None = None) -> None:
    if key not in FIELDS:
        raise InputFormatError(f"{path}: unknown option {key!r}{close_matches(key, FIELDS)}")
    if section and section_of(FIELDS[key]) != section and (key, section) not in EARLIER_TABLES:
        raise InputFormatError(f"{path}: option {key!r} belongs in [{section_of(FIELDS[key])}], not [{section}]")


def resolve_config(
    config_file: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> DistillConfig:
    """Defaults, then the file, then ``overrides`` (options typed on the command line)."""
    values: dict[str, Any] = {}
    if config_file is not None:
        values.update(read_config_file(config_file))
    for key, value in (overrides or {}).items():
        if key not in FIELDS:
            raise InputFormatError(f"unknown option {key!r}{close_matches(key, FIELDS)}")
        values[key] = _coerce(key, value, flag_of(FIELDS[key]))
    recipe = values.get("recipe", "default")
    if recipe not in RECIPES:
        raise InputFormatError(
            f"--recipe must be one of {', '.join(RECIPES)}, not {recipe!r}{close_matches(recipe, RECIPES)}"
        )
    return DistillConfig(**{**RECIPES[recipe], **values})


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def to_toml(config: DistillConfig) -> str:
    """The resolved config as TOML, one table per section (``None`` values are left out), local
    paths relative to the run folder."""
    lines = ["# aikd distill run configuration (resolved); reuse with: aikd distill --config config.toml", ""]
    values = config.portable_dict()
    for section in SECTIONS:
        lines.append(f"[{section}]")
        for f in fields(config):
            value = values[f.name]
            if section_of(f) == section and value is not None:
                lines.append(f"{f.name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)
