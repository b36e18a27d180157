"""What ``aikd align`` can be told (every flag declared once, here). Light: the command line builds
and checks these options before torch is imported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aikd_cli.errors import AikdError
from aikd_cli.images.discover import check_inputs
from aikd_cli.options import (
    MISALIGN,
    OUT,
    FaceOptions,
    merge_option,
    option,
    perturb_unit_option,
    seed_option,
    shard_option,
)
from aikd_cli.tasks.shards import parse_shard

#: Largest crop side: a 1024 px crop already takes ~0.1 GB of sampling grid per face.
MAX_SIZE = 1024


@dataclass(kw_only=True)
class AlignOptions(FaceOptions):
    """Everything ``aikd align`` can be told: ``inputs`` (files, folders) aligned into the folder
    ``output``; ``perturb`` misaligns each landmark by U[-p, p] (``perturb_unit`` px or iod)."""

    inputs: list[str | Path] = option([], argument=True, help="Image files and/or folders (none with --merge).")
    output: Path = option(short="-o", group=OUT, help="Folder for the crops and landmarks.csv.")
    size: int = option(112, low=16, high=MAX_SIZE, help="Crop side in pixels, 16 to 1024 (the template is scaled).")
    perturb: float = option(0.0, group=MISALIGN, low=0.0, high=1000.0,
                            help="Move each landmark by U[-P, P] before warping (what the AI-KD student sees).")
    perturb_unit: str = perturb_unit_option()
    seed: int = seed_option()
    shard: str | None = shard_option()
    merge: bool = merge_option()

    def __post_init__(self) -> None:
        self.output = Path(self.output)

    def validate(self) -> None:
        """Every rule the command enforces, before any work and before torch is imported."""
        super().validate()
        if self.merge:
            if self.inputs or self.shard or self.resume:
                raise AikdError("--merge takes no inputs, --shard or --resume: it joins the parts in -o OUTPUT")
            return
        if not self.inputs:
            raise AikdError("nothing to align: give image files or folders")
        check_inputs(self.inputs)
        if self.shard is not None:
            parse_shard(self.shard)
