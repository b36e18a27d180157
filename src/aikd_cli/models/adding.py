"""``aikd models add NAME FILE``: a file becomes a name once it has proved to be what the name
promises -- converted first when it is an MXNet model, fed as its declared input spec, loaded
strictly (torch) or opened and checked against its contract (ONNX). The records themselves are
kept by :mod:`aikd_cli.models.user_models`."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from aikd_cli.errors import WeightsError
from aikd_cli.models.config import ModelConfig
from aikd_cli.models.declared import InputDeclaration
from aikd_cli.models.user_models import check_name, declared_spec, save
from aikd_cli.user_config import config_dir

TF_RECIPE = "convert it to ONNX first: docs/models.md, \"TF1 frozen graphs\" (benchmarks/convert_tf_graph.py)"


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
