"""Weights the user brought, by name: the records ``aikd models add`` writes (:mod:`.adding` checks and
converts the files), the defaults ``aikd models default`` sets, and the entries they are run by.

Some weights are on no model hub (CR-FIQA is published on a Google Drive folder), and researchers
have their own teachers, students and FR models. A per-user JSON file maps names to files, with each
file's sha256 taken when it was added and checked on every use, so a name keeps meaning the same
bytes and resolves offline. The file lives in the per-user config folder (``AIKD_CONFIG_DIR``,
else ``$XDG_CONFIG_HOME/aikd``, ``~/.config/aikd``, ``~/Library/Application Support/aikd`` or
``%APPDATA%\\aikd``), never inside the package.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from aikd_cli.errors import WeightsError
from aikd_cli.models.declared import InputDeclaration
from aikd_cli.user_config import config_file

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors", ".onnx", ".bin", ".ckpt", ".params", ".pb")


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
    declared: dict | None = None  # the InputDeclaration given at `add` (files that carry no spec)
    source: str | None = None  # the file a converted model was made from

    @property
    def declaration(self) -> InputDeclaration | None:
        return InputDeclaration.from_dict(self.declared) if self.declared else None


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


def _write(entries: dict[str, LocalWeights], defaults: dict[str, str] | None = None) -> Path:
    """The registrations (and the defaults, kept as they are unless given)."""
    from aikd_cli.user_config import read
    from aikd_cli.utils.atomic import atomic_write

    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    if defaults is None:
        registered()  # refuse to rewrite a file that cannot be read
        defaults = read().get("defaults", {})
    body = {"models": {n: {k: v for k, v in asdict(e).items() if k != "name" and v is not None}
                       for n, e in sorted(entries.items())}}
    if defaults:
        body["defaults"] = dict(sorted(defaults.items()))
    return atomic_write(path, json.dumps(body, indent=2) + "\n")


DEFAULT_TASKS = ("quality", "recognition", "detection")


def defaults() -> dict[str, str]:
    """The user's defaults by task (``aikd models default``)."""
    from aikd_cli.user_config import read

    registered()
    return dict(read().get("defaults", {}))


def set_default(task: str, name: str | None) -> str | None:
    """Make ``name`` (a registry name or one registered with ``aikd models add``) the default model
    for ``task``; ``None`` goes back to the built-in default. Returns the name set."""
    from aikd_cli.models.registry import check_task_name, find_spec

    if check_task_name(task) is None or task not in DEFAULT_TASKS:
        raise WeightsError(f"unknown task {task!r}", hint=f"use one of {', '.join(DEFAULT_TASKS)}")
    current = defaults()
    if name is None:
        current.pop(task, None)
        _write(registered(), current)
        return None
    spec, local = find_spec(name), lookup(name)
    if spec is None and local is None:
        raise WeightsError(f"{name!r} is neither a registry name nor a model registered with `aikd models add`",
                           hint=f"register the file first: aikd models add NAME FILE, then aikd models default {task} NAME")
    have = local.task if local is not None else spec.task
    roles = spec.roles if spec is not None else (have, "recognition") if have == "quality" else (have,)
    if task not in roles:
        raise WeightsError(f"{name} is a {have} model, not a {task} model")
    current[task] = spec.name if spec is not None else local.name
    _write(registered(), current)
    return current[task]


def save(name: str, path: Path, sha256: str, task: str, arch: str, *,
         declared: InputDeclaration | None = None, source: Path | None = None) -> LocalWeights:
    """Record ``path`` (already checked) under ``name``, replacing an earlier record of that name."""
    entry = LocalWeights(
        name=name,
        path=str(path),
        sha256=sha256,
        size=path.stat().st_size,
        task=task,
        arch=arch,
        added=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        declared=declared.to_dict() if declared else None,
        source=str(source) if source else None,
    )
    _write({**registered(), name: entry})
    return entry


def declared_spec(name: str, path: Path, declaration: InputDeclaration, base=None):
    """A registry-style entry for a file fed as ``declaration`` says (``base``: the registry entry
    the name belongs to, whose provenance is kept). For a torch file only the preprocessing is
    declared: its architecture comes from its tensors."""
    from dataclasses import replace

    from aikd_cli.models.registry import OnnxContract, WeightsSpec

    if path.suffix == ".onnx":
        roles = {"quality": declaration.output} if declaration.task == "quality" else {"embedding": declaration.output}
        config, contract = declaration.config(), OnnxContract(layout=declaration.layout, **roles)
    else:
        from aikd_cli.models.checkpoints import canonicalise, read_checkpoint

        state, info = read_checkpoint(path)
        config, contract = replace(canonicalise(state, info)[1], preprocess=declaration.preprocess()), None
    if base is not None:
        return replace(base, config=config, onnx=contract)
    return WeightsSpec(name=name, config=config, repo_id=None, filename=path.name, revision=None,
                       sha256=None, params=None, license="yours", commercial=None, source=str(path),
                       description=f"declared: {declaration.describe()}", onnx=contract)


def spec_of(entry: LocalWeights):
    """The entry a registered file is run by: its declaration, else the registry entry of its name."""
    from aikd_cli.models.registry import find_spec

    base = find_spec(entry.name)
    if entry.declaration is not None:
        return declared_spec(entry.name, Path(entry.path), entry.declaration, base)
    return base


def remove(name: str) -> LocalWeights:
    entries = registered()
    entry = entries.pop(name.lower(), None)
    if entry is None:
        raise WeightsError(f"{name!r} is not a locally registered model", hint="`aikd models` lists them")
    _write(entries)
    return entry
