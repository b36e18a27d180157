"""What ``aikd score`` can be told (every flag declared once, here) and the columns it writes.
Light: the command line builds and checks these options before torch is imported."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aikd_cli.defaults import DEFAULT_QUALITY_MODEL
from aikd_cli.errors import AikdError
from aikd_cli.faces.landmarks import DIGEST_COLUMN, LANDMARK_COLUMNS
from aikd_cli.images.discover import check_inputs
from aikd_cli.options import (
    MISALIGN,
    OUT,
    FaceOptions,
    merge_option,
    option,
    perturb_unit_option,
    precision_option,
    seed_option,
    shard_option,
)
from aikd_cli.tasks.shards import parse_shard

#: Columns of a score CSV. ``face`` is the face index within the image (empty when there is no
#: face; 0 is the largest face); ``box_*`` and ``lm*`` are in pixels of the EXIF-upright original
#: image; ``image_sha256`` identifies the file the landmarks belong to; ``path`` is relative to the
#: CSV's folder when the image lies inside it, absolute otherwise.
SCORE_COLUMNS = (
    "path",
    "face",
    "quality",
    "det_score",
    "box_x1",
    "box_y1",
    "box_x2",
    "box_y2",
    *LANDMARK_COLUMNS,
    DIGEST_COLUMN,
    "status",
    "message",
)


#: Extra columns with ``perturb_samples`` > 0: the quality of each face under that many seeded
#: landmark perturbations (mean and standard deviation): how much its score depends on alignment.
PERTURB_COLUMNS = ("quality_perturbed_mean", "quality_perturbed_std")


@dataclass(kw_only=True)
class ScoreOptions(FaceOptions):
    """Everything ``aikd score`` can be told; the command line is generated from these fields.

    ``inputs`` are image files and folders; ``output`` the CSV; ``report`` an HTML report of it
    built in the same run (``aikd score --report``)."""

    inputs: list[str | Path] = option([], argument=True, help="Image files and/or folders (none with --merge).")
    output: Path = option(Path("scores.csv"), short="-o", group=OUT, help="CSV to write.")
    model: str = option(DEFAULT_QUALITY_MODEL, short="-m",
                        help="Quality model: registry name, local file/folder, .onnx or hf://org/name.")
    precision: str = precision_option()
    report: Path | None = option(None, group=OUT, help="Also build an HTML report of the scores (see `aikd report`).")
    report_threshold: float | None = option(None, group=OUT, flag="--report-threshold",
                                            help="The quality threshold the --report marks (see `aikd report "
                                            "--quality-threshold`).")
    save_crops: Path | None = option(None, group=OUT,
                                     help="Also keep the aligned crops as PNGs here, mirroring the CSV's paths; "
                                     "`aikd report` shows them without decoding the originals.")
    perturb_samples: int = option(0, group=MISALIGN, low=0, high=256,
                                  help="Also score each face under K seeded landmark perturbations of --perturb; adds "
                                  "the mean and standard deviation of those qualities (quality_perturbed_mean/_std).")
    perturb: float = option(3.0, group=MISALIGN, low=0.0, high=1000.0,
                            help="Misalignment of --perturb-samples: each landmark moves by U[-P, P].")
    perturb_unit: str = perturb_unit_option()
    seed: int = seed_option()
    shard: str | None = shard_option()
    merge: bool = merge_option()

    def __post_init__(self) -> None:
        self.output = Path(self.output)
        if self.save_crops is not None:  # absolute: the sidecar tells `aikd report` where they are
            self.save_crops = Path(os.path.abspath(self.save_crops))

    @property
    def columns(self) -> tuple[str, ...]:
        return SCORE_COLUMNS + (PERTURB_COLUMNS if self.perturb_samples else ())

    def validate(self) -> None:
        """Every rule the command enforces, before any work and before torch is imported (one-line
        :class:`AikdError` each): ranges, choices, input paths, options that exclude each other."""
        super().validate()
        if self.merge:
            if self.inputs or self.shard or self.resume or self.save_crops:
                raise AikdError("--merge takes no inputs, --shard, --resume or --save-crops: it joins the parts of "
                                "-o OUTPUT (and builds --report)")
            return
        if not self.inputs:
            raise AikdError("nothing to score: give image files or folders")
        check_inputs(self.inputs)
        if self.shard is not None:
            parse_shard(self.shard)
            if self.report is not None:
                raise AikdError("--report needs the whole CSV: build it after --merge (or score under torchrun)")
        if self.aligned and self.landmarks:
            raise AikdError("--aligned and --landmarks exclude each other")
        if self.report_threshold is not None and self.report is None:
            raise AikdError("--report-threshold marks a threshold in the --report: give --report too")
