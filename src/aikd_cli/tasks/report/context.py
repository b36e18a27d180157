"""What every page of a report needs: the computed report, where its pictures are, and how to
link between pages. Every piece of text from the CSV goes through :func:`esc`
(``html.escape(..., quote=True)``); URLs built from file names are percent-encoded first by :func:`url`.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from html import escape
from pathlib import Path
from urllib.parse import quote

from aikd_cli.tasks.report.data import ScoreRow
from aikd_cli.tasks.report.stats import GroupStats, QualityStats


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def url(path: str) -> str:
    """A relative file path as an attribute-safe URL (``#``, ``?``, ``:``, quotes all encoded)."""
    return esc(quote(path.replace(os.sep, "/"), safe="/"))


def page_file(page: int) -> str:
    return f"page-{page:04d}.html"


@dataclass
class Images:
    """Where each picture is: ``data:`` URIs when embedded, else names inside the files folder."""

    embed: bool
    thumbs: dict[int, str] = field(default_factory=dict)  # row index -> picture
    previews: dict[int, str] = field(default_factory=dict)  # source key -> picture
    sizes: dict[int, tuple[int, int]] = field(default_factory=dict)  # source key -> original (w, h)
    errors: dict[int, str] = field(default_factory=dict)  # source key -> why it could not be read
    keys: dict[str, int] = field(default_factory=dict)  # source path -> source key

    def src(self, picture: str, prefix: str) -> str:
        return esc(picture) if self.embed else url(prefix + picture)


@dataclass
class Report:
    """Everything the pages show, already computed."""

    title: str
    csv_path: Path
    html_path: Path
    files_name: str  # the sibling folder, relative to the main page
    meta: dict[str, str | None]
    meta_note: str | None
    created: str
    rows: int
    faces: list[ScoreRow]  # ok rows: scored ones by ascending quality, then unscored ones
    failures: list[ScoreRow]
    counts: Counter[str]
    stats: QualityStats
    threshold: float | None
    groups: list[GroupStats] | None
    per_page: int
    images: Images

    @property
    def pages(self) -> int:
        return max(1, math.ceil(len(self.faces) / self.per_page))

    @cached_property
    def position(self) -> dict[int, int]:
        return {row.index: i for i, row in enumerate(self.faces)}

    @property
    def missing(self) -> int:
        return len(self.images.errors)

    # ---- links -----------------------------------------------------------------------------
    def prefix(self, here: int) -> str:
        """Path from the page being written to the files folder."""
        return self.files_name + "/" if here == 1 else ""

    def page_url(self, page: int, here: int, anchor: str = "faces") -> str:
        if page == here:
            return f"#{anchor}"
        if page == 1:
            return f"../{url(self.html_path.name)}#{anchor}"
        return f"{url(self.prefix(here) + page_file(page))}#{anchor}"

    def face_url(self, row: ScoreRow, here: int) -> str:
        return self.page_url(self.position[row.index] // self.per_page + 1, here, f"f{row.index}")

    def main_url(self, here: int, anchor: str) -> str:
        return f"#{anchor}" if here == 1 else f"../{url(self.html_path.name)}#{anchor}"

    def original_url(self, row: ScoreRow, here: int) -> str:
        base = self.html_path.parent if here == 1 else self.html_path.parent / self.files_name
        try:
            return url(os.path.relpath(row.source, base))
        except ValueError:  # another drive on Windows
            return esc(Path(row.source).as_uri())

    def below(self, row: ScoreRow) -> bool:
        return self.threshold is not None and row.scored and row.quality < self.threshold
