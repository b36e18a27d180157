"""The one table of command-line options: a flag means the same thing in every command.

Vocabulary (docs/usage.md, "Options every command shares"):

- ``-o/--output``: the command's main output (file or folder);
- ``-m/--model``: a quality model; ``--fr-model``: a face-recognition model; ``--detector``;
- ``--perturb P`` / ``--perturb-unit px|iod`` / ``--seed``: landmark misalignment, everywhere;
- ``-b/--batch-size``, ``-j/--workers``, ``--device``, ``--precision``: compute.

Old spellings stay for one release as hidden aliases (:func:`use_alias` prints one deprecation line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, TypeVar

import typer

FACES, COMPUTE, MISALIGN, OUT = "Faces", "Compute", "Misalignment", "Output"
#: The release that drops the deprecated spellings.
ALIASES_REMOVED_IN = "0.3"

T = TypeVar("T")


def output(help_text: str) -> typer.Option:
    """``-o/--output``, with what the command writes."""
    return typer.Option("--output", "-o", help=help_text, rich_help_panel=OUT)


def alias(*flags: str) -> typer.Option:
    """A hidden, deprecated spelling of another option (see :func:`use_alias`)."""
    return typer.Option(*flags, hidden=True)


def use_alias(value: T | None, current: T, old: str, new: str, *, unset: object = None) -> T:
    """``current``, or the value given under the deprecated flag ``old`` (with a one-line warning)."""
    if value is None or value == unset:
        return current
    from aikd_cli.cli.common import err

    err.print(f"[yellow]warning:[/] {old} is deprecated, use {new} (the old spelling goes in aikd {ALIASES_REMOVED_IN})")
    return value


DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:1 or mps.", rich_help_panel=COMPUTE)]
BatchOpt = Annotated[int, typer.Option("--batch-size", "-b", help="Faces per model batch (1 to 65,536).", rich_help_panel=COMPUTE)]
WorkersOpt = Annotated[
    int,
    typer.Option("--workers", "-j", help="Decoding processes (0 decodes in the main process; at most 256).",
                 rich_help_panel=COMPUTE),
]
PrecisionOpt = Annotated[
    str,
    typer.Option(
        "--precision",
        help="auto (bf16 on GPUs, fp32 on CPUs), fp32, bf16 or fp16. fp32 reproduces reference scores exactly.",
        rich_help_panel=COMPUTE,
    ),
]
ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="Quality model: registry name, local file/folder, .onnx or hf://org/name.")
]
FrModelOpt = Annotated[
    str,
    typer.Option("--fr-model", help="Face-recognition model: registry name (`aikd models --task recognition`), "
                                    "weights file, folder or hf:// address."),
]
DetectorOpt = Annotated[
    str, typer.Option("--detector", help="Face detector: registry name, local file or hf:// address.", rich_help_panel=FACES)
]
LandmarksOpt = Annotated[
    Path | None,
    typer.Option(
        "--landmarks",
        help="CSV with path, face, lm0_x..lm4_y (e.g. a score CSV): use these landmarks instead of detecting. "
        "Entries of images changed since the CSV was written are never used.",
        rich_help_panel=FACES,
    ),
]
DetSizeOpt = Annotated[
    int,
    typer.Option("--det-size", help="Detect on images shrunk to this longer side, up to 8192 (0: original size).",
                 rich_help_panel=FACES),
]
DetThresholdOpt = Annotated[
    float, typer.Option("--det-threshold", help="Minimum face confidence (0 to 1).", rich_help_panel=FACES)
]
FacesOpt = Annotated[
    Literal["largest", "central", "all"],
    typer.Option("--faces", help="The largest face per image, the one nearest the image centre (LFW's subject), "
                 "or all faces (face 0 is the largest).",
                 rich_help_panel=FACES),
]
RecursiveOpt = Annotated[bool, typer.Option("--recursive/--no-recursive", help="Walk sub-folders of folder inputs.")]
FollowLinksOpt = Annotated[
    bool,
    typer.Option("--follow-links", help="Also walk symbolic links to folders (each folder once, so link loops end)."),
]
PerturbUnitOpt = Annotated[
    str,
    typer.Option("--perturb-unit", help="Unit of --perturb: px (pixels of the photo) or iod (fraction of the eye "
                                        "distance).", rich_help_panel=MISALIGN),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the landmark noise (drawn per face, so reruns match).",
                                      rich_help_panel=MISALIGN)]
ShardOpt = Annotated[
    str | None,
    typer.Option("--shard", metavar="K/N", rich_help_panel=COMPUTE,
                 help="Only part K of N (K = 1..N) of the sorted inputs, its rows in a part file beside the CSV, for "
                      "job arrays; join the parts with --merge. (Under torchrun the ranks are the parts.)"),
]
MergeOpt = Annotated[
    bool,
    typer.Option("--merge", rich_help_panel=COMPUTE,
                 help="Join the --shard parts of the CSV (checked: none missing, unfinished or overlapping)."),
]
