"""Weights the user brought: ``aikd models add NAME FILE`` records a local file under a name.

Some weights are on no model hub (CR-FIQA is published on a Google Drive folder), and researchers
have their own teachers, students and FR models. A per-user JSON file maps names to files, with each
file's sha256 taken when it was added and checked on every use, so a name keeps meaning the same
bytes and resolves offline. The file lives in the per-user config folder (``AIKD_CONFIG_DIR``,
else ``$XDG_CONFIG_HOME/aikd``, ``~/.config/aikd``, ``~/Library/Application Support/aikd`` or
``%APPDATA%\\aikd``), never inside the package.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from aikd_cli.errors import WeightsError
from aikd_cli.models.config import ModelConfig

FILE_NAME = "models.json"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors", ".onnx", ".bin", ".ckpt")


@dataclass(frozen=True)
class LocalWeights:
    """One registered file: where it is, which bytes it must hold, and what it was checked to be."""

    name: str
    path: str
    sha256: str
    size: int
    task: str
    arch: str
    added: str


def config_dir() -> Path:
    """aikd's per-user config folder (``AIKD_CONFIG_DIR`` overrides the platform's default)."""
    if override := os.environ.get("AIKD_CONFIG_DIR"):
        return Path(override).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return base / "aikd"


def config_file() -> Path:
    return config_dir() / FILE_NAME


def registered() -> dict[str, LocalWeights]:
    """All registered files by name (an absent config file means none)."""
    path = config_file()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {name: LocalWeights(name=name, **entry) for name, entry in data.get("models", {}).items()}
    except (OSError, json.JSONDecodeError, TypeError, AttributeError) as exc:
        raise WeightsError(f"{path}: unreadable aikd model list ({exc})",
                           hint="fix or delete the file, then add the models again") from None


def lookup(name: str) -> LocalWeights | None:
    return registered().get(name.lower())


def verified_path(entry: LocalWeights) -> Path:
    """The registered file, refused if it is gone or no longer holds the bytes it was added with."""
    from aikd_cli.models.hub import sha256_of

    path = Path(entry.path)
    again = f"run `aikd models add {entry.name} FILE` again, or `aikd models remove {entry.name}`"
    if not path.is_file():
        raise WeightsError(f"{entry.name}: its registered file {path} is gone", hint=again)
    if path.stat().st_size != entry.size or sha256_of(path) != entry.sha256:
        raise WeightsError(f"{entry.name}: {path} changed since it was added (sha256 differs)", hint=again)
    return path


def check_name(name: str) -> str:
    """A name usable on the command line that cannot be mistaken for a file or an hf:// address."""
    key = name.lower()
    if not _NAME.match(key) or key.endswith(_WEIGHT_SUFFIXES):
        raise WeightsError(
            f"{name!r} cannot be a model name",
            hint="use letters, digits, '.', '-' and '_', starting with a letter or digit, and no weights suffix",
        )
    return key


def _write(entries: dict[str, LocalWeights]) -> Path:
    from aikd_cli.utils.atomic import atomic_write

    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"models": {n: {k: v for k, v in asdict(e).items() if k != "name"} for n, e in sorted(entries.items())}}
    return atomic_write(path, json.dumps(body, indent=2) + "\n")


def save(name: str, path: Path, sha256: str, task: str, arch: str) -> LocalWeights:
    """Record ``path`` (already checked) under ``name``, replacing an earlier record of that name."""
    entry = LocalWeights(
        name=name,
        path=str(path),
        sha256=sha256,
        size=path.stat().st_size,
        task=task,
        arch=arch,
        added=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    )
    _write({**registered(), name: entry})
    return entry


def _check_loads(path: Path, spec) -> ModelConfig:
    """What ``path`` is, established by loading it: strictly into its architecture (torch files)
    or by opening it and reading its record or the entry's contract (ONNX)."""
    if path.suffix == ".onnx":
        from aikd_cli.models.onnx_model import open_session, read_record

        config = read_record(open_session(path, "cpu"), path, spec).config
    else:
        from aikd_cli.models.loading import ResolvedWeights, load_network

        config = load_network(path, resolved=ResolvedWeights(path, spec, {})).config
    if spec is not None:
        from aikd_cli.models.loading import check_fits_spec

        check_fits_spec(config, spec, path)
    return config


def add(name: str, file: str | os.PathLike):
    """Register ``file`` as ``name`` once it has proved to be what the name promises.

    A registry name (``cr-fiqa-l``) takes only a file that loads strictly as that entry's
    architecture and, where the entry pins one, has its sha256; a new name takes any weights aikd
    can load. Returns the record and the registry entry (``None`` for a new name).
    """
    from aikd_cli.models.hub import sha256_of, verify_file
    from aikd_cli.models.registry import find_spec

    spec = find_spec(name)
    key = spec.name if spec is not None else check_name(name)
    path = Path(file).expanduser().resolve()
    if not path.is_file():
        raise WeightsError(f"{file}: no such file")
    if spec is not None and spec.sha256:
        verify_file(path, spec.sha256, f"{path} (as {spec.name})", spec.size)
    config = _check_loads(path, spec)
    digest = spec.sha256 if spec is not None and spec.sha256 else sha256_of(path)
    return save(key, path, digest, config.task, config.arch), spec


def remove(name: str) -> LocalWeights:
    entries = registered()
    entry = entries.pop(name.lower(), None)
    if entry is None:
        raise WeightsError(f"{name!r} is not a locally registered model", hint="`aikd models` lists them")
    _write(entries)
    return entry
