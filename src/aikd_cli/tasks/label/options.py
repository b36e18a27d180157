"""What ``aikd label`` can be told (every flag declared once, here). Light: the command line builds
and checks these options before torch is imported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aikd_cli.defaults import DEFAULT_FR_MODEL
from aikd_cli.errors import InputFormatError
from aikd_cli.options import INPUT, OUT, DetectionOptions, option, precision_option

#: Label schemes (docs/distill.md, "aikd label").
SCHEMES = ("cr", "sdd", "norm")


@dataclass(kw_only=True)
class LabelOptions(DetectionOptions):
    """Everything ``aikd label`` can be told: the ``identities`` CSV (``path, identity`` [, face,
    lm0_x..lm4_y]), the face-recognition model ``fr_model`` and the labels CSV ``output``."""

    identities: Path = option(short="-i", group=INPUT,
                              help="CSV with path and identity columns (optionally face, lm0_x..lm4_y).")
    fr_model: str = option(DEFAULT_FR_MODEL or "", aliases=("-m", "--model"),
                           help="Face-recognition model: registry name (`aikd models --task recognition`), weights "
                           "file, folder or hf:// address (`aikd models default recognition NAME` sets one).")
    output: Path = option(Path("labels.csv"), short="-o", group=OUT,
                          help="Labels CSV to write (path, face, identity, quality, ...).")
    scheme: str = option("cr", choices=SCHEMES,
                         help="cr: CR-FIQA certainty ratio; sdd: SDD-FIQA Wasserstein distance; norm: the embedding "
                         "norm (MagFace's quality; needs no identities).")
    precision: str = precision_option()
    max_impostors: int = option(1000, low=1, help="sdd: impostor comparisons per face (a seeded random subset).")
    seed: int = option(0, help="sdd: seed of the impostor subset.")

    def __post_init__(self) -> None:
        self.identities, self.output = Path(self.identities), Path(self.output)

    def validate(self) -> None:
        """Every rule the command enforces, before any work and before torch is imported."""
        super().validate()
        if not self.fr_model:
            raise InputFormatError("no face-recognition model: give --fr-model (`aikd models --task recognition`)")
        if not self.identities.is_file():
            raise InputFormatError(f"{self.identities}: no such file", hint="give the identities CSV with -i")
