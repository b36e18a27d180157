"""The README.md written into every export folder: a Hugging Face model card.

The YAML header is what the Hub indexes (licence, library, tags); the body says what the model is
for, exactly how to feed it, how it was trained and evaluated (numbers from the checkpoint's own
metadata, never typed in by hand) and which licence the weights derive from.
"""

from __future__ import annotations

import math
import re
from pathlib import PurePath, PureWindowsPath
from typing import TYPE_CHECKING

from aikd_cli._version import __version__

if TYPE_CHECKING:
    from aikd_cli.tasks.export.job import ExportJob
    from aikd_cli.tasks.export.verify import FormatResult

#: Licence ids the Hub knows; anything else is declared as ``other`` with its own name.
HUB_LICENCES = frozenset(
    {
        "mit",
        "apache-2.0",
        "bsd-2-clause",
        "bsd-3-clause",
        "cc0-1.0",
        "cc-by-4.0",
        "cc-by-sa-4.0",
        "cc-by-nc-4.0",
        "cc-by-nc-sa-4.0",
        "gpl-3.0",
        "lgpl-3.0",
        "agpl-3.0",
        "unlicense",
        "openrail",
        "bsl-1.0",
    }
)

_USE = {
    "quality": (
        "Face image quality assessment (FIQA): predicts how useful an aligned face image is for face "
        "recognition, e.g. to reject or recapture poor samples at enrolment, or to weight samples in a gallery. "
        "Higher is better. Scores rank images; thresholds must be calibrated on your own data and recogniser "
        "(see `aikd evaluate`)."
    ),
    "recognition": "Face embeddings for face verification and identification research, compared by cosine similarity.",
    "detection": "Face detection with five landmarks (eyes, nose, mouth corners), used to align faces before scoring.",
}
_OUT_OF_SCOPE = (
    "Not intended for inferring anything about a person beyond the quality of the image (identity, "
    "demographics, emotion, health), nor for automated decisions about people without human review. Quality "
    "predictions inherit the biases of the recognition model and data they were learned from."
)


def hub_licence(label: str | None) -> dict:
    """Card metadata for a licence label: a Hub id when there is one, else ``other`` + a name."""
    if not label:
        return {"license": "other", "license_name": "unknown"}
    key = label.strip().lower()
    if key in HUB_LICENCES:
        return {"license": key}
    return {"license": "other", "license_name": re.sub(r"[^a-z0-9]+", "-", key).strip("-") or "unknown"}


#: File names that say nothing about the model they hold; a card names the folder instead.
_GENERIC_NAMES = frozenset({"best", "last", "model", "weights", "checkpoint", "pytorch_model"})


def public(text: str) -> str:
    """``text`` as a card may show it: a local absolute path (which would publish a user name
    and folder layout with the card) becomes the file's name."""
    if text.startswith(("/", "~", "\\")) or PureWindowsPath(text).drive:
        return PurePath(text).name or text
    return text


def public_record(value):
    """``value`` (a JSON-able record) with every local absolute path reduced to its file name:
    what an export writes beside the weights goes to the Hub with ``--push-to-hub``."""
    if isinstance(value, dict):
        return {k: public_record(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [public_record(v) for v in value]
    return public(value) if isinstance(value, str) else value


def model_name(ref: str) -> str:
    """The model's name for the card title: a registry name, a Hub repository's name, or the file's
    stem (its folder's name for ``best.safetensors`` and the like)."""
    if ref.startswith("hf://"):
        return ref.removeprefix("hf://").split("/")[1].split("@")[0] if "/" in ref[5:] else ref[5:]
    path = PurePath(ref.rstrip("/\\"))
    if not path.suffix:
        return path.name or ref
    return path.parent.name if path.stem in _GENERIC_NAMES and path.parent.name else path.stem


def _text(value) -> str:
    """One table cell: plain text, never a Python repr."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "n/a"
    if isinstance(value, (list, tuple)):
        if len(value) > 8:
            return f"{len(value)} values"
        return ", ".join(_text(v) for v in value) or "none"
    return public(str(value))


def _flatten(value, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows = []
        for k, v in value.items():
            rows += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return rows
    return [(prefix, _text(value))]


def _teacher(teacher) -> str:
    """The teacher as one phrase: its name (a path is shortened) and architecture."""
    if isinstance(teacher, dict):
        name = public(str(teacher.get("source") or teacher.get("name") or "unknown"))
        return f"`{name}`" + (f" ({teacher['arch']})" if teacher.get("arch") else "")
    return f"`{public(str(teacher))}`"


def _table(mapping: dict, head: tuple[str, str] = ("key", "value")) -> str:
    rows = _flatten(mapping)
    lines = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    lines += [f"| `{k}` | {v.replace('|', '/')} |" for k, v in rows]
    return "\n".join(lines)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _input_section(job: ExportJob, results: list[FormatResult]) -> str:
    cfg = job.config
    if job.is_detector:
        mean = ", ".join(f"{v:g}" for v in cfg.preprocess.mean)
        return (
            f"- `image`: `[N, 3, H, W]` float32, **{cfg.preprocess.colour}**, minus the mean colour ({mean}), not scaled; H and W "
            "multiples of 32 (pad with zeros).\n"
            "- outputs per prior box: `loc` `[N, P, 4]`, `conf` `[N, P, 2]` (logits: background, face), `landms` "
            "`[N, P, 10]`; decode them with the RetinaFace priors (min sizes 16/32, 64/128, 256/512; steps 8, 16, "
            "32; variances 0.1, 0.2), as `aikd_cli.faces.detector.FaceDetector` does (`aikd score --detector model.onnx`)."
        )
    pre = cfg.preprocess
    lines = [
        f"Faces aligned to the ArcFace 5-point template at {pre.size}x{pre.size} (`aikd` aligns for you).",
        "",
        f"- normalised input `image`: `[N, 3, {pre.size}, {pre.size}]` float32, {pre.colour}, "
        f"`(x/255 - mean) / std` with mean `{list(pre.mean)}`, std `{list(pre.std)}`.",
    ]
    if any(r.details.get("preprocessing") for r in results):
        lines.append(
            f"- files exported with the preprocessing inside (see the table above): `image` `[N, {pre.size}, "
            f"{pre.size}, 3]` uint8 RGB, no normalisation needed."
        )
    lines.append(f"- output `embedding`: `[N, {cfg.embedding_size}]` float32, not L2-normalised.")
    if cfg.task == "quality":
        lines.append("- output `quality`: `[N]` float32, higher means better quality.")
    return "\n".join(lines)


def render_model_card(
    job: ExportJob,
    results: list[FormatResult],
    folder_name: str,
    repo_id: str | None = None,
    real_images: int = 0,
) -> str:
    """README.md text for the export folder (and its Hub repository ``repo_id``, when pushed)."""
    inputs = f"random images and {real_images} real image(s)" if real_images else "random images"
    from huggingface_hub import ModelCardData

    cfg, record = job.config, job.record
    tags = ["aikd", "face", "biometrics", cfg.arch] + [r.format for r in results]
    if cfg.task == "quality":
        tags[1:1] = ["face-image-quality-assessment", "fiqa"]
    header = ModelCardData(
        **hub_licence(record.get("license")),
        library_name="aikd",
        pipeline_tag="object-detection" if job.is_detector else "image-feature-extraction",
        tags=list(dict.fromkeys(tags)),
    ).to_yaml()
    source = record.get("source", {})
    ref = f"hf://{repo_id}" if repo_id else folder_name
    source_ref = str(source.get("ref", job.loaded.source))
    files = "\n".join(
        f"| `{r.path.name}` | {r.format} | {_size(r.size)} | {r.details.get('precision', 'fp32')} | "
        f"{'yes' if r.details.get('preprocessing') else 'no'} | {r.verification.worst.error:.1e} "
        f"(tolerance {r.verification.tolerance:g}) |"
        for r in results
    )
    usage = (
        f"aikd score photos/ --detector {ref}"
        if job.is_detector
        else f"aikd score photos/ --model {ref} -o quality.csv"
    )
    parts = [
        f"---\n{header.rstrip()}\n---",
        f"# {repo_id.split('/')[-1] if repo_id else source.get('name') or model_name(source_ref)}",
        f"A {cfg.arch} {cfg.task} model exported with [aikd](https://arxiv.org/abs/2404.09555) {__version__} "
        f"from `{public(source_ref)}`.",
        "## Intended use",
        _USE[cfg.task],
        f"**Out of scope.** {_OUT_OF_SCOPE}" if not job.is_detector else "",
        "## Files",
        f"Every file was run against the torch model on {inputs} at batch sizes "
        f"{', '.join(map(str, results[0].verification.batch_sizes))} before this card was written; the last column is "
        "the worst `max|export - torch| / max(1, max|torch|)` over all outputs.",
        "| file | format | size | precision | preprocessing inside | verified error |\n|---|---|---|---|---|---|\n"
        + files,
        "`config.json` holds the architecture, normalisation, colour order, input size and provenance; "
        "`export.json` the full verification report.",
        "## Input and output",
        _input_section(job, results),
        "## Usage",
        f"```bash\n{usage}\n```",
    ]
    if record.get("teacher") or record.get("training"):
        parts += ["## Training"]
        if record.get("teacher"):
            parts.append(f"Distilled from teacher {_teacher(record['teacher'])}.")
        if isinstance(record.get("training"), dict):
            parts.append(_table(record["training"], ("setting", "value")))
    if isinstance(record.get("metrics"), dict) and record["metrics"]:
        parts += [
            "## Evaluation",
            "As recorded in the checkpoint's metadata:",
            _table(record["metrics"], ("metric", "value")),
        ]
    elif not job.is_detector:
        parts += [
            "## Evaluation",
            "The source checkpoint records no evaluation results; measure them with `aikd evaluate`.",
        ]
    licence = record.get("license") or "unknown"
    origin = record.get("license_source", "")
    parts += [
        "## Licence",
        f"Weights: **{licence}**{f' ({origin})' if origin else ''}. An export is a derivative of the weights it was "
        "made from: check their terms before redistributing."
        + (
            " The licence of the source weights is not recorded; find it before publishing."
            if licence == "unknown"
            else ""
        ),
        "## Provenance",
        _table({k: v for k, v in {"source": source, "exported": record.get("exported", {})}.items() if v}),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"
