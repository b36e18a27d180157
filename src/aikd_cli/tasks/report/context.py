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

import numpy as np

from aikd_cli.tasks.report.data import ScoreRow, ScoreTable
from aikd_cli.tasks.report.select import Selection
from aikd_cli.tasks.report.stats import FaceOrder, GroupStats, QualityStats


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
    decoded: int = 0  # originals decoded
    from_crops: int = 0  # thumbnails taken from saved crops

    def src(self, picture: str, prefix: str) -> str:
        return esc(picture) if self.embed else url(prefix + picture)


@dataclass
class Report:
    """Everything the pages show, already computed. Rows are addressed by their index in the CSV;
    only those a page shows are materialised (:meth:`row`)."""

    title: str
    csv_path: Path
    html_path: Path
    files_name: str  # the sibling folder, relative to the main page
    meta: dict[str, str | None]
    meta_note: str | None
    created: str
    table: ScoreTable
    order: FaceOrder
    counts: Counter[str]
    stats: QualityStats
    threshold: float | None
    groups: list[GroupStats] | None
    per_page: int
    selection: Selection | None  # the sampled faces; None: every face on paged grid pages
    images: Images = field(default_factory=lambda: Images(embed=False))  # set once the jobs are known
    shown: dict[int, ScoreRow] = field(default_factory=dict)

    @property
    def grid(self) -> bool:
        return self.selection is None

    @property
    def rows(self) -> int:
        return len(self.table)

    @property
    def faces(self) -> int:
        return len(self.order.faces)

    @property
    def failures(self) -> int:
        return len(self.order.failures)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.faces / self.per_page)) if self.grid else 1

    def row(self, index: int) -> ScoreRow:
        if index not in self.shown:
            self.load([index])
        return self.shown[int(index)]

    def load(self, indices) -> None:
        """Materialise these rows at once (one columnar ``take``, not one per row)."""
        missing = [int(i) for i in indices if int(i) not in self.shown]
        if missing:
            self.shown.update((r.index, r) for r in self.table.rows(missing))

    def page_rows(self, page: int) -> list[ScoreRow]:
        chunk = self.order.faces[(page - 1) * self.per_page : page * self.per_page]
        self.load(chunk)
        return [self.shown[int(i)] for i in chunk]

    @cached_property
    def position(self) -> np.ndarray:
        """Rank of every row among the faces (lowest quality first; -1: not a face)."""
        return self.order.rank(self.rows)

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
        """Where a face is shown: its card in the grid, or (sampled reports) its original photo."""
        if not self.grid:
            return self.original_url(row, here)
        return self.page_url(int(self.position[row.index]) // self.per_page + 1, here, f"f{row.index}")

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
