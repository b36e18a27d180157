"""Reading back what the report wrote: its CSV, its HTML elements, its pictures."""

from __future__ import annotations

import base64
import csv
import io
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from PIL import Image


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class Page(HTMLParser):
    """Every start tag with its attributes, and the page's text, as a browser's parser sees them."""

    def __init__(self, path: Path) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.chunks: list[str] = []
        self.cards: dict[str, list[int]] = {}  # section id (or h3 id within it) -> data-row of its cards
        self._where = ""
        self.feed(path.read_text(encoding="utf-8"))
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attrs))
        if tag in ("section", "h3") and "id" in attrs:
            self._where = attrs["id"]
        if tag == "li" and "face" in attrs.get("class", "").split():
            self.cards.setdefault(self._where, []).append(int(attrs["data-row"]))

    def handle_data(self, data):
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and (cls is None or cls in a.get("class", "").split())]

    def face_ids(self) -> list[int]:
        return [int(a["id"][1:]) for a in self.find("li", "face")]


def decode_picture(src: str, page: Path) -> np.ndarray:
    """Pixels of an ``<img src>``: a data URI or a file relative to the page."""
    if src.startswith("data:"):
        data = base64.b64decode(src.split(",", 1)[1])
    else:
        from urllib.parse import unquote

        data = (page.parent / unquote(src)).read_bytes()
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def build_report(scores, output=None, *, progress: bool = False, **options):
    """``aikd_cli.tasks.report.run`` with the options as keywords (the tests' shorthand)."""
    from aikd_cli.tasks.report import ReportOptions, run

    return run(ReportOptions(scores=scores, output=output, **options))
