"""What ``aikd models`` shows: every named model in a table that fits a terminal (name, task,
download size, licence, whether its file is here), and ``aikd models show NAME`` with the rest.

Looking at the Hugging Face cache and the user's registrations only; nothing is downloaded.
"""

from __future__ import annotations

from aikd_cli.defaults import DEFAULT_DETECTOR, DEFAULT_FR_MODEL, DEFAULT_QUALITY_MODEL
from aikd_cli.errors import WeightsError
from aikd_cli.models import hub, user_models
from aikd_cli.models.registry import WeightsSpec, aliases_of, find_spec, list_specs

DEFAULTS = {DEFAULT_QUALITY_MODEL, DEFAULT_DETECTOR, DEFAULT_FR_MODEL} - {None}
COLUMNS = ("name", "task", "size", "licence", "file")


def file_state(spec: WeightsSpec, local: dict[str, user_models.LocalWeights], *, short: bool = False) -> str:
    if spec.name in local:
        return "registered" if short else f"registered: {local[spec.name].path}"
    if not spec.hosted:
        return "add by hand" if short else f"not here: `aikd models add {spec.name} {spec.filename}`"
    here = hub.cached(hub.HubRef(spec.repo_id, spec.filename, spec.revision))
    if short:
        return "cached" if here is not None else "download"
    return "in HF cache" if here is not None else "downloads on first use"


def licence(spec: WeightsSpec, *, short: bool = False) -> str:
    if short:
        return "non-comm." if spec.commercial is False and "CC-BY-NC" not in spec.license else spec.license[:12]
    if spec.commercial is False and "non-commercial" not in spec.license:
        return f"{spec.license} (non-commercial)"
    return spec.license


def download_size(spec: WeightsSpec) -> str:
    """The file's size where published, else an estimate from the parameter count (``~``)."""
    if spec.size:
        return _mb(spec.size)
    if spec.params:
        per = 2 if spec.filename and "fp16" in spec.filename else 4
        return "~" + _mb(spec.params * per)
    return "?"


def _mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB" if size >= 10e6 else f"{size / 1e6:.1f} MB"


def kind(spec: WeightsSpec) -> str:
    return "quality+FR" if spec.fr_embedding else spec.task


def rows(task: str | None = None) -> list[tuple[str, ...]]:
    """One short row per registered name (registry first, then the user's own names); ``*`` marks
    the defaults."""
    local = user_models.registered()
    table = []
    for spec in list_specs(task):
        star = "*" if spec.name in DEFAULTS else ""
        table.append((spec.name + star, kind(spec), download_size(spec), licence(spec, short=True),
                      file_state(spec, local, short=True)))
    for name, entry in sorted(local.items()):
        if name not in {s.name for s in list_specs()} and (task is None or task == entry.task):
            star = "*" if name in DEFAULTS else ""
            table.append((name + star, entry.task, _mb(entry.size), "yours", "registered"))
    return table


def details(name: str) -> list[tuple[str, str]]:
    """Everything known about one name, as ``(field, value)`` lines for ``aikd models show``."""
    spec, entry = find_spec(name), user_models.lookup(name)
    if spec is None and entry is None:
        from aikd_cli.models.registry import get_spec

        get_spec(name)  # the registry's own error, with close matches
        raise WeightsError(f"{name!r} is not a registered model")
    if entry is not None:
        spec = user_models.spec_of(entry) or spec
    local = user_models.registered()
    out = [("name", ", ".join([spec.name, *aliases_of(spec.name)]) if spec else entry.name)]
    if spec is not None:
        out += [("task", kind(spec)), ("description", spec.description),
                ("architecture", spec.config.arch + (" (ONNX)" if spec.onnx is not None else "")),
                ("parameters", f"{spec.params:,}" if spec.params else "?"),
                ("input", spec.config.preprocess.describe()
                 + (f", {spec.onnx.layout.upper()}" if spec.onnx is not None else "")),
                ("download size", download_size(spec)), ("licence", licence(spec)), ("source", spec.source)]
        where = spec.hub_uri or spec.url
        if where:
            out.append(("from", where))
        if spec.sha256:
            out.append(("sha256", spec.sha256))
        out.append(("file", file_state(spec, local)))
    else:
        out += [("task", entry.task), ("architecture", entry.arch), ("file", entry.path)]
    if entry is not None:
        out.append(("registered", f"{entry.added}, sha256 {entry.sha256}"))
        if entry.source:
            out.append(("converted from", entry.source))
    if name in DEFAULTS or (spec is not None and spec.name in DEFAULTS):
        out.append(("default", "yes"))
    return out
