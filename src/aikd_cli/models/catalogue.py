"""What ``aikd models`` shows: every named model, its licence and whether its file is here yet.

Looking at the Hugging Face cache and the user's registrations only; nothing is downloaded.
"""

from __future__ import annotations

from aikd_cli.models import hub, user_models
from aikd_cli.models.registry import (
    DEFAULT_DETECTOR,
    DEFAULT_QUALITY_MODEL,
    WeightsSpec,
    aliases_of,
    list_specs,
)


def file_state(spec: WeightsSpec, local: dict[str, user_models.LocalWeights]) -> str:
    if spec.name in local:
        return f"registered: {local[spec.name].path}"
    if not spec.hosted:
        return f"not here: `aikd models add {spec.name} {spec.filename}`"
    here = hub.cached(hub.HubRef(spec.repo_id, spec.filename, spec.revision))
    return "in HF cache" if here is not None else "downloads on first use"


def licence(spec: WeightsSpec) -> str:
    if spec.commercial is False and "non-commercial" not in spec.license:
        return f"{spec.license} (non-commercial)"
    return spec.license


def rows(task: str | None = None) -> list[tuple[str, ...]]:
    """One row per registered name (registry first, then the user's own names)."""
    local = user_models.registered()
    table = []
    for spec in list_specs(task):
        star = "*" if spec.name in (DEFAULT_QUALITY_MODEL, DEFAULT_DETECTOR) else ""
        names = ", ".join([spec.name + star, *aliases_of(spec.name)])
        kind = "quality+FR" if spec.fr_embedding else spec.task
        params = f"{spec.params / 1e6:.1f}M" if spec.params else "?"
        fmt = " (ONNX)" if spec.onnx is not None else ""
        origin = spec.repo_id or spec.url or ""
        table.append((names, kind, spec.config.arch + fmt, params, spec.config.preprocess.short(),
                      licence(spec), file_state(spec, local), origin))
    for name, entry in sorted(local.items()):
        if name not in {s.name for s in list_specs()} and (task is None or task == entry.task):
            table.append((name, entry.task, entry.arch, "", "", "yours", f"registered: {entry.path}", "local file"))
    return table
