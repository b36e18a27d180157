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
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from aikd_cli.errors import WeightsError
from aikd_cli.models.config import ModelConfig
from aikd_cli.models.declared import InputDeclaration
from aikd_cli.user_config import config_dir, config_file

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors", ".onnx", ".bin", ".ckpt", ".params", ".pb")
TF_RECIPE = "convert it to ONNX first: docs/models.md, \"TF1 frozen graphs\" (benchmarks/convert_tf_graph.py)"


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


def _check_loads(path: Path, spec) -> ModelConfig:
    """What ``path`` is, established by loading it: strictly into its architecture (torch files)
    or by opening it and reading its record or the entry's contract (ONNX)."""
    if path.suffix == ".onnx":
        from aikd_cli.models.onnx_model import open_session, read_record

        config = read_record(open_session(path, "cpu"), path, spec).config
    else:
        from aikd_cli.models.loading import ResolvedWeights, load_network

        config = load_network(path, resolved=ResolvedWeights(path, spec, {})).config
    if spec is not None and spec.onnx is None:
        from aikd_cli.models.loading import check_fits_spec

        check_fits_spec(config, spec, path)
    return config


def _weights_file(file: str | os.PathLike) -> Path:
    """The weights file ``file`` names: a file, or a folder as ``--model`` takes it (a run or export)."""
    from aikd_cli.models.loading import FOLDER_WEIGHTS

    path = Path(file).expanduser().resolve()
    if path.is_dir():
        found = next((path / n for n in FOLDER_WEIGHTS if (path / n).is_file()), None)
        if found is None:
            raise WeightsError(f"{file}: folder holds none of {', '.join(FOLDER_WEIGHTS)}")
        return found
    if not path.is_file():
        raise WeightsError(f"{file}: no such file")
    return path


def converted_dir() -> Path:
    """Where models converted at ``add`` (MXNet -> ONNX) are kept: beside the registrations."""
    return config_dir() / "converted"


def _graph_embedding_size(path: Path, declaration: InputDeclaration) -> InputDeclaration:
    """The declaration with the embedding width read from the graph (recognition models)."""
    if declaration.task != "recognition" or path.suffix != ".onnx":
        return declaration
    from dataclasses import replace

    from aikd_cli.models.onnx_model import open_session

    outputs = open_session(path, "cpu").get_outputs()
    ref = declaration.output
    out = next((o for o in outputs if o.name == ref), None) if isinstance(ref, str) and not ref.isdigit() else (
        outputs[int(ref)] if int(ref) < len(outputs) else None)
    width = out.shape[-1] if out is not None and isinstance(out.shape[-1], int) else 0
    return replace(declaration, embedding_size=width)


def _converted_onnx(key: str, path: Path, spec) -> tuple[Path, InputDeclaration | None]:
    """A ``.params`` file converted to ONNX (insightface's MXNet zoo); other files as they are."""
    if path.suffix == ".pb":
        raise WeightsError(f"{path}: a TensorFlow graph, which aikd does not run directly", hint=TF_RECIPE)
    if path.suffix != ".params":
        return path, None
    from aikd_cli.models import mxnet

    target = mxnet.convert(path, converted_dir() / f"{key}.onnx")
    # insightface's MXNet models take raw RGB pixels: the graph does its own scaling
    default = InputDeclaration(task="recognition", mean=(0.0,), std=(1.0,))
    return target, (None if spec is not None and spec.onnx is not None else default)


def converted_from_graph(spec, path: Path) -> bool:
    """Whether ``path`` is the ONNX conversion of an entry published as a TensorFlow graph."""
    return bool(spec.filename and spec.filename.endswith(".pb") and path.suffix == ".onnx")


def _verify_conversion(path: Path, spec) -> None:
    """The ONNX file must record (``converted_from``, written by benchmarks/convert_tf_graph.py)
    that it was made from the published graph's bytes."""
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    try:
        source = json.loads(meta["converted_from"])
    except (KeyError, json.JSONDecodeError):
        raise WeightsError(f"{path} (as {spec.name}): records no converted_from graph", hint=TF_RECIPE) from None
    if source.get("sha256") != spec.sha256:
        raise WeightsError(f"{path} (as {spec.name}): converted from {source.get('file')} with sha256 "
                           f"{str(source.get('sha256'))[:16]}..., not the published {spec.filename} ({spec.sha256[:16]}...)")


def _check_torch_declaration(path: Path, declaration: InputDeclaration) -> None:
    """Refuse what cannot be declared for a torch file: a graph layout or output, a task its tensors
    contradict, or a spec for a file that carries its own."""
    from aikd_cli.models.checkpoints import canonicalise, read_checkpoint

    if declaration.layout != "nchw" or declaration.output not in (0, "0"):
        raise WeightsError(f"{path}: --layout and --output describe ONNX graphs; torch models are NCHW with known outputs")
    state, info = read_checkpoint(path)
    _, config, layout = canonicalise(state, info)
    if layout == "aikd":
        raise WeightsError(f"{path}: carries its own input spec ({config.preprocess.describe()}); nothing to declare")
    if declaration.task != config.task:
        raise WeightsError(f"{path}: its tensors make it a {config.task} model ({config.arch}), not a {declaration.task} model")


def add(name: str, file: str | os.PathLike, declaration: InputDeclaration | None = None):
    """Register ``file`` as ``name`` once it has proved to be what the name promises.

    A registry name (``cr-fiqa-l``) takes only a file that loads strictly as that entry's
    architecture and, where the entry pins one, has its sha256; a new name takes any weights aikd
    can load. ``declaration`` says how to feed a file that carries no spec of its own (ONNX graphs
    from elsewhere, converted models, torch files of unknown origin). MXNet ``.params`` files (their
    ``-symbol.json`` beside them) are converted to ONNX first. Returns the record and the registry
    entry (``None`` for a new name).
    """
    from aikd_cli.models.hub import sha256_of, verify_file
    from aikd_cli.models.registry import find_spec

    spec = find_spec(name)
    key = spec.name if spec is not None else check_name(name)
    path = _weights_file(file)
    if spec is not None and declaration is not None:
        raise WeightsError(f"{spec.name}'s input spec is fixed by the registry ({spec.config.preprocess.describe()})",
                           hint=f"to declare your own, register the file under another name: aikd models add my-{spec.name} {file} ...")
    if spec is not None and spec.sha256:
        try:
            if converted_from_graph(spec, path):
                _verify_conversion(path, spec)
            else:
                verify_file(path, spec.sha256, f"{path} (as {spec.name})", spec.size)
        except WeightsError as exc:
            raise WeightsError(exc.message, hint=f"not the published {spec.name} file; to use it anyway, register it "
                               f"under a name of your own: aikd models add my-{spec.name} {file}") from None
    model_path, default = _converted_onnx(key, path, spec)
    declaration = declaration or default
    if declaration is not None and model_path.suffix != ".onnx":
        _check_torch_declaration(model_path, declaration)
    if declaration is not None:
        declaration = _graph_embedding_size(model_path, declaration)
        spec = declared_spec(key, model_path, declaration, spec)
    config = _check_loads(model_path, spec)
    pinned = spec is not None and spec.sha256 and model_path == path and not converted_from_graph(spec, path)
    digest = spec.sha256 if pinned else sha256_of(model_path)
    entry = save(key, model_path, digest, config.task, config.arch, declared=declaration,
                 source=path if model_path != path else None)
    return entry, find_spec(key)


def remove(name: str) -> LocalWeights:
    entries = registered()
    entry = entries.pop(name.lower(), None)
    if entry is None:
        raise WeightsError(f"{name!r} is not a locally registered model", hint="`aikd models` lists them")
    _write(entries)
    return entry
