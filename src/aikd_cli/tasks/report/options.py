"""What ``aikd report`` can be told (every flag declared once, here): the score CSV, the page, and
how much the page shows. Light: the command line builds and checks these options before any heavy
import."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aikd_cli.errors import AikdError
from aikd_cli.options import OUT, option, workers_option

MAX_FACES = 1_000_000  # bound of the per-page and sample sizes
PAGE = "Page"


def default_output(scores_csv: str | Path) -> Path:
    """``scores.csv`` -> ``scores.html`` next to it."""
    return Path(scores_csv).with_suffix(".html")


@dataclass(kw_only=True)
class ReportOptions:
    """Everything ``aikd report`` can be told: the score CSV ``scores``, the page ``output``
    (default: the CSV's name with .html) and what shapes the page.

    ``crops``: the ``aikd score --save-crops`` folder to take thumbnails from (None: the one the
    CSV's sidecar names; False: decode the originals); ``workers`` read images in parallel."""

    scores: Path = option(argument=True, help="Score CSV written by `aikd score`.")
    output: Path | None = option(None, short="-o", group=OUT,
                                 help="HTML file to write (default: the CSV's name with .html).")
    threshold: float | None = option(None, flag="--quality-threshold", short="-t", aliases=("--threshold",),
                                     help="Quality threshold to mark: histogram line, share below, flagged faces.")
    grid: bool | None = option(None, group=PAGE, help="Every face on paged grid pages, or (--no-grid) only the lowest, "
                               "highest, threshold, per-decile and per-folder samples (default: the grid up to 2,000 "
                               "faces).")
    show: int = option(48, group=PAGE, low=1, high=MAX_FACES,
                       help="Faces shown lowest, highest and around the threshold (samples).")
    sample: int = option(8, group=PAGE, low=1, high=MAX_FACES,
                         help="Faces shown per quality decile and per sampled sub-folder.")
    folders: int = option(24, group=PAGE, low=0, high=MAX_FACES,
                          help="Sub-folders shown with samples, lowest median first.")
    per_page: int = option(240, group=PAGE, low=1, high=MAX_FACES, help="Faces per page of the grid.")
    group_by_folder: bool | None = option(None, group=PAGE, flag="--by-folder",
                                          help="Statistics per sub-folder, e.g. per identity (default: when the "
                                          "images span 2+ folders).")
    embed: bool | None = option(None, group=PAGE, help="Embed the pictures in the HTML (one file to mail) instead of "
                                "a sibling _files/ folder (default: embed when all faces fit on one page).")
    title: str | None = option(None, group=PAGE, help="Page title.")
    crops: Path | bool | None = option(None, help="Folder of `aikd score --save-crops` to take the thumbnails from "
                                       "(default: the one the CSV's .meta.json names; --no-crops: decode the "
                                       "originals).")
    workers: int = workers_option()

    def __post_init__(self) -> None:
        self.scores = Path(self.scores)
        self.output = Path(self.output) if self.output is not None else default_output(self.scores)

    def validate(self) -> None:
        """Every rule the command enforces, before any work (one-line :class:`AikdError` each)."""
        from aikd_cli.images.decode import max_pixels
        from aikd_cli.options import check_fields

        check_fields(self)
        max_pixels()  # thumbnails decode the photos
        if not self.scores.is_file():
            raise AikdError(f"{self.scores}: no such file", hint="give the CSV `aikd score` wrote")
