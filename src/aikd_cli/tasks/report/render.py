"""The report's HTML: a main page (summary, histogram, groups, the first grid page, failures) and
one static page per further grid page. No script anywhere: everything works without JavaScript,
and a Content-Security-Policy forbids scripts and network access outright, so even a file name
that slipped past escaping could not run code or phone home.

Every piece of text from the CSV goes through :func:`esc` (``html.escape(..., quote=True)``);
URLs built from file names are percent-encoded first.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from html import escape
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import numpy as np

from aikd_cli._version import __version__
from aikd_cli.tasks.report.data import ScoreRow
from aikd_cli.tasks.report.histogram import bins_of, fmt, histogram_svg
from aikd_cli.tasks.report.stats import PERCENTILES, GroupStats, QualityStats
from aikd_cli.tasks.report.thumbnails import THUMB_SIZE

CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)
FAILURES_INLINE = 500  # more failures than this go to their own page


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


# ---- page frame ----------------------------------------------------------------------------------
def _css() -> str:
    return resources.files(__package__).joinpath("report.css").read_text(encoding="utf-8")


def document(report: Report, title: str, header: str, body: str, skip: str = "faces") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        f'<meta name="generator" content="aikd {esc(__version__)}">\n'
        f"<title>{esc(title)}</title>\n<style>\n{_css()}</style>\n</head>\n<body>\n"
        f'<a class="skip" href="#{skip}">Skip to the faces</a>\n'
        f"<header>\n{header}</header>\n<main>\n{body}</main>\n"
        f"<footer><p>Made with aikd {esc(__version__)} on {esc(report.created)} from "
        f"{esc(report.csv_path.name)}. Thumbnails are the {THUMB_SIZE}&times;{THUMB_SIZE} crops the model "
        "scored, re-aligned from the landmarks in the CSV; open a face for the original photo with the "
        "detected box and landmarks. This page needs no JavaScript and loads nothing from the network."
        "</p></footer>\n</body>\n</html>\n"
    )


def _table(caption: str, head: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """A table; cells are pre-escaped HTML; ``numeric`` column indices are right-aligned."""

    def cls(i: int) -> str:
        return ' class="n"' if i in numeric else ""

    out = [f'<div class="scroll"><table><caption>{esc(caption)}</caption><thead><tr>']
    out += [f'<th scope="col"{cls(i)}>{h}</th>' for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(r)) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _count(n: int) -> str:
    return f"{n:,}"


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


# ---- main page sections ---------------------------------------------------------------------------
def summary_section(report: Report) -> str:
    s = report.stats
    failures = len(report.failures)
    cards = [
        ("Rows", _count(report.rows), False),
        ("Faces scored", _count(s.count), False),
        ("Median quality", fmt(s.median) if s.count else "n/a", False),
    ]
    if report.threshold is not None:
        cards.append(
            (f"Below threshold {fmt(report.threshold)}", _share(s.below or 0, s.count), bool(s.below))
        )
    cards.append(("Failures (no face, unreadable, error)", _count(failures), bool(failures)))
    if report.missing:
        cards.append(("Images not found now", _count(report.missing), True))
    out = [
        '<section id="summary" aria-labelledby="h-summary"><h2 id="h-summary">Summary</h2><ul class="cards">'
    ]
    for key, value, warn in cards:
        out.append(
            f'<li class="card{" warn" if warn else ""}"><span class="v">{esc(value)}</span>'
            f'<span class="k">{esc(key)}</span></li>'
        )
    out.append("</ul>")
    for alert in _alerts(report):
        out.append(f'<p class="alert">{alert}</p>')
    out.append('<div class="cols">')
    status_rows = [
        [esc(status), _count(n), _share(n, report.rows)] for status, n in sorted(report.counts.items())
    ]
    out.append(_table("Rows per status", ["status", "rows", "share"], status_rows, {1, 2}))
    if s.count:
        q = [["minimum", fmt(s.min)]]
        q += [[_percentile_name(p), fmt(s.percentiles[p])] for p in PERCENTILES]
        q += [["maximum", fmt(s.max)], ["mean", fmt(s.mean)], ["standard deviation", fmt(s.std)]]
        out.append(_table("Quality", ["statistic", "value"], q, {1}))
    meta = report.meta
    run = [
        ["quality model", esc(meta.get("model") or "unknown")],
        ["face detector", esc(meta.get("detector") or "unknown")],
        ["aikd version (scoring)", esc(meta.get("version") or "unknown")],
        ["scored at", esc(meta.get("created") or "unknown")],
        ["report made at", esc(report.created)],
        ["score file", esc(report.csv_path.name)],
        [
            "threshold",
            esc(fmt(report.threshold)) if report.threshold is not None else "none (pass --threshold)",
        ],
    ]
    out.append(_table("Run", ["item", "value"], run))
    out.append("</div></section>\n")
    return "".join(out)


def _percentile_name(p: int) -> str:
    if p == 50:
        return "median"
    suffix = "st" if p % 10 == 1 and p != 11 else "th"
    return f"{p}{suffix} percentile"


def _alerts(report: Report) -> list[str]:
    alerts = []
    unscored = len(report.faces) - report.stats.count
    if unscored:
        alerts.append(
            f"{_count(unscored)} detected faces have no valid quality (NaN or empty): they are "
            "listed after all scored faces and left out of the statistics."
        )
    if report.missing:
        alerts.append(
            f"{_count(report.missing)} images could not be read while building this report (moved, "
            "deleted or changed since scoring): their faces show a placeholder."
        )
    if report.meta_note:
        alerts.append(f"Model and detector unknown: {esc(report.meta_note)}.")
    return alerts


def histogram_section(report: Report) -> str:
    out = ['<section id="distribution" aria-labelledby="h-dist"><h2 id="h-dist">Quality distribution</h2>']
    scored = report.faces[: report.stats.count]
    if not scored:
        out.append('<p class="note">No face has a valid quality score.</p></section>\n')
        return "".join(out)
    values = np.fromiter((r.quality for r in scored), dtype=np.float64, count=len(scored))
    bins = bins_of(values, threshold=report.threshold)
    out.append(
        histogram_svg(
            bins,
            threshold=report.threshold,
            below=report.stats.below,
            total=len(values),
            link=lambda pos: report.face_url(scored[pos], 1),
        )
    )
    out.append('<p class="note">Click a bar to see its faces. Higher quality is better')
    if report.threshold is not None:
        out.append(f"; bars in red lie below the threshold {esc(fmt(report.threshold))}")
    out.append(".</p>")
    rows = [
        [
            f"{esc(fmt(b.lo))} to {esc(fmt(b.hi))}",
            _count(b.count),
            f'<a href="{report.face_url(scored[b.first], 1)}">show</a>' if b.count else "",
        ]
        for b in bins
    ]
    out.append('<details class="more"><summary>The histogram as a table</summary>')
    out.append(_table("Faces per quality bin", ["quality", "faces", "faces"], rows, {1}))
    out.append("</details></section>\n")
    return "".join(out)


def groups_section(report: Report) -> str:
    groups = report.groups or []
    out = [
        '<section id="groups" aria-labelledby="h-groups"><h2 id="h-groups">Sub-folders</h2>',
        f'<p class="note">{_count(len(groups))} sub-folders (e.g. one per identity), lowest median quality first.</p>',
    ]
    head = ["folder", "rows", "scored", "failures", "median", "minimum"]
    if report.threshold is not None:
        head.append("below threshold")
    head.append("lowest face")
    numeric = set(range(1, len(head) - 1))
    rows = []
    for g in groups:
        q = g.quality
        cells = [
            esc(g.name),
            _count(g.rows),
            _count(q.count),
            _count(g.failures),
            fmt(q.median) if q.count else "n/a",
            fmt(q.min) if q.count else "n/a",
        ]
        if report.threshold is not None:
            cells.append(_share(q.below or 0, q.count))
        cells.append(_mini_face(report, g.worst) if g.worst is not None else "")
        rows.append(cells)
    out.append(_table("Statistics per sub-folder", head, rows, numeric))
    out.append("</section>\n")
    return "".join(out)


def _mini_face(report: Report, row: ScoreRow) -> str:
    thumb = report.images.thumbs.get(row.index)
    label = f"{fmt(row.quality)} · {row.name}"
    if thumb is None:
        return f'<a href="{report.face_url(row, 1)}">{esc(label)}</a>'
    return (
        f'<a href="{report.face_url(row, 1)}"><img class="mini" src="{report.images.src(thumb, report.prefix(1))}" '
        f'width="40" height="40" alt="{esc(label)}" loading="lazy" decoding="async"></a>'
    )


def failures_section(report: Report, here: int, limit: int | None = FAILURES_INLINE) -> str:
    failures = report.failures
    out = ['<section id="failures" aria-labelledby="h-fail"><h2 id="h-fail">Failures</h2>']
    if not failures:
        out.append('<p class="note">Every image gave at least one face.</p></section>\n')
        return "".join(out)
    shown = failures if limit is None else failures[:limit]
    by_status = ", ".join(
        f"{_count(n)} {esc(s)}" for s, n in sorted(Counter(r.status for r in failures).items())
    )
    out.append(f'<p class="note">{_count(len(failures))} rows without a scored face ({by_status}).')
    if len(shown) < len(failures):
        out.append(
            f' The first {_count(len(shown))} are listed; <a href="{url(report.prefix(here) + "failures.html")}">'
            "all failures</a> are on their own page."
        )
    out.append("</p>")
    rows = []
    for r in shown:
        key = report.images.keys.get(r.source)
        preview = report.images.previews.get(key) if key is not None else None
        photo = ""
        if preview is not None:
            photo = (
                f'<img class="mini" src="{report.images.src(preview, report.prefix(here))}" '
                f'alt="{esc("Photo " + r.name)}" loading="lazy" decoding="async">'
            )
        rows.append(
            [
                f'<a href="{report.original_url(r, here)}">{esc(r.path)}</a>' if r.path else "(no path)",
                esc(r.status),
                esc(r.message),
                photo,
            ]
        )
    out.append(_table("Rows without a scored face", ["file", "status", "message", "photo"], rows))
    out.append("</section>\n")
    return "".join(out)


# ---- the face grid --------------------------------------------------------------------------------
def face_item(report: Report, row: ScoreRow, here: int) -> str:
    images = report.images
    key = images.keys.get(row.source)
    below = report.below(row)
    face_label = f"face {row.face}" if row.face is not None else "face"
    thumb = images.thumbs.get(row.index)
    if thumb is not None:
        picture = (
            f'<img class="thumb" src="{images.src(thumb, report.prefix(here))}" width="{THUMB_SIZE}" '
            f'height="{THUMB_SIZE}" alt="{esc(f"Aligned {face_label} of {row.name}")}" '
            'loading="lazy" decoding="async">'
        )
    else:
        reason = images.errors.get(key) if key is not None else None
        reason = f"image unavailable: {reason}" if reason else "no landmarks in the CSV"
        picture = f'<span class="thumb ph" role="img" aria-label="{esc("No thumbnail, " + reason)}">{esc(reason)}</span>'
    quality = fmt(row.quality) if row.scored else "no score"
    tag = ' <span class="tag">below</span>' if below else ""
    summary = (
        f'<summary>{picture}<span class="q">{esc(quality)}{tag}</span>'
        f'<span class="file" title="{esc(row.path)}">{esc(row.name)}</span></summary>'
    )
    facts = [("File", esc(row.path)), ("Face", esc(row.face if row.face is not None else "?"))]
    if row.scored:
        facts.append(("Quality", f"{row.quality:.6g}"))
        facts.append(("Rank", f"{report.position[row.index] + 1:,} of {report.stats.count:,}, lowest first"))
    if math.isfinite(row.det_score):
        facts.append(("Detector score", f"{row.det_score:.3f}"))
    if row.box is not None:
        x1, y1, x2, y2 = row.box
        facts.append(("Box", f"x {x1:.0f}&ndash;{x2:.0f}, y {y1:.0f}&ndash;{y2:.0f} px"))
    if row.message:
        facts.append(("Message", esc(row.message)))
    facts.append(("Original", f'<a href="{report.original_url(row, here)}">open the photo</a>'))
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    detail = f'<div class="detail">{_original(report, row, key, here)}<dl>{dl}</dl></div>'
    return f'<li class="face{" below" if below else ""}" id="f{row.index}"><details>{summary}{detail}</details></li>'


def _pct(v: float, whole: int) -> str:
    return f"{min(max(v / whole * 100, -5.0), 105.0):.2f}%"


def _original(report: Report, row: ScoreRow, key: int | None, here: int) -> str:
    """The small view of the original photo with the detected box and the five landmarks on it."""
    images = report.images
    if key is None or key not in images.previews:
        return ""
    width, height = images.sizes[key]
    scale = min(1.0, 200 / max(width, height))
    shown_w, shown_h = max(1, round(width * scale)), max(1, round(height * scale))
    marks = []
    if row.box is not None:
        x1, y1, x2, y2 = row.box
        marks.append(
            f'<span class="box" style="left:{_pct(x1, width)};top:{_pct(y1, height)};'
            f'width:{_pct(x2 - x1, width)};height:{_pct(y2 - y1, height)}"></span>'
        )
    if row.landmarks is not None:
        for x, y in zip(row.landmarks[0::2], row.landmarks[1::2], strict=True):
            marks.append(f'<span class="lm" style="left:{_pct(x, width)};top:{_pct(y, height)}"></span>')
    alt = f"Original photo {row.name} ({width}x{height}), the detected face outlined"
    return (
        f'<span class="orig"><img src="{images.src(images.previews[key], report.prefix(here))}" width="{shown_w}" '
        f'height="{shown_h}" alt="{esc(alt)}" loading="lazy" decoding="async">{"".join(marks)}</span>'
    )


def pager(report: Report, page: int, where: str) -> str:
    pages = report.pages
    if pages == 1:
        return ""
    wanted = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    out = [f'<nav class="pager" aria-label="Face pages ({where})">']
    prev_link = (
        f'<a href="{report.page_url(page - 1, page)}" rel="prev">&lsaquo; Lower quality</a>'
        if page > 1
        else '<span class="off">&lsaquo; Lower quality</span>'
    )
    out.append(prev_link)
    last = 0
    for p in wanted:
        if p > last + 1:
            out.append('<span class="gap" aria-hidden="true">&hellip;</span>')
        current = ' aria-current="page"' if p == page else ""
        out.append(f'<a href="{report.page_url(p, page)}"{current} aria-label="Page {p}">{p}</a>')
        last = p
    out.append(
        f'<a href="{report.page_url(page + 1, page)}" rel="next">Higher quality &rsaquo;</a>'
        if page < pages
        else '<span class="off">Higher quality &rsaquo;</span>'
    )
    out.append("</nav>")
    return "".join(out)


def page_range(report: Report, page: int) -> str:
    start = (page - 1) * report.per_page
    chunk = report.faces[start : start + report.per_page]
    if not chunk:
        return "No faces."
    text = f"Faces {start + 1:,}&ndash;{start + len(chunk):,} of {len(report.faces):,}"
    scored = [r.quality for r in chunk if r.scored]
    if scored:
        text += f", quality {esc(fmt(min(scored)))} to {esc(fmt(max(scored)))}"
    return text


def faces_grid(report: Report, page: int) -> str:
    """The faces of one page, split into lists at the threshold and before unscored faces."""
    start = (page - 1) * report.per_page
    chunk = report.faces[start : start + report.per_page]
    segments: list[tuple[str, list[ScoreRow]]] = []
    for row in chunk:
        kind = "below" if report.below(row) else ("scored" if row.scored else "unscored")
        if not segments or segments[-1][0] != kind:
            segments.append((kind, []))
        segments[-1][1].append(row)
    out = []
    position = start
    for i, (kind, rows) in enumerate(segments):
        if kind == "scored" and i > 0:
            out.append(
                f'<p class="divider">threshold {esc(fmt(report.threshold))}: faces below it end here</p>'
            )
        if kind == "unscored":
            out.append('<p class="divider">faces without a valid quality score</p>')
        label = {"below": "below the threshold", "scored": "", "unscored": "without a score"}[kind]
        aria = f' aria-label="Faces {esc(label)}"' if label else ""
        out.append(f'<ol class="faces" start="{position + 1}"{aria}>')
        out.extend(face_item(report, row, page) for row in rows)
        out.append("</ol>")
        position += len(rows)
    return "\n".join(out)


def faces_section(report: Report, page: int) -> str:
    out = ['<section id="faces" aria-labelledby="h-faces">']
    heading = "Faces, lowest quality first" if page == 1 else f"Faces, page {page} of {report.pages}"
    out.append(f'<h2 id="h-faces">{heading}</h2>')
    if not report.faces:
        out.append('<p class="note">No faces were detected.</p></section>\n')
        return "".join(out)
    out.append(f'<p class="range">{page_range(report, page)}. Select a face for its details.</p>')
    out.append(pager(report, page, "top"))
    out.append(faces_grid(report, page))
    out.append(pager(report, page, "bottom"))
    if page == 1 and report.pages > 1:
        out.append(_page_index(report))
    out.append("</section>\n")
    return "".join(out)


def _page_index(report: Report) -> str:
    items = []
    for p in range(1, report.pages + 1):
        items.append(f'<li><a href="{report.page_url(p, 1)}">Page {p}</a>: {page_range(report, p)}</li>')
    return (
        f'<details class="more"><summary>All {report.pages} pages with their quality ranges</summary>'
        f"<ul>{''.join(items)}</ul></details>"
    )


# ---- whole pages ----------------------------------------------------------------------------------
def _header(report: Report, here: int, subtitle: str) -> str:
    sections = [
        ("summary", "Summary"),
        ("distribution", "Distribution"),
        ("faces", "Faces"),
        ("failures", "Failures"),
    ]
    if report.groups is not None:
        sections.append(("groups", "Sub-folders"))
    links = "".join(
        f'<li><a href="{report.main_url(here, a) if a != "faces" else report.page_url(1, here)}">'
        f"{esc(t)}</a></li>"
        for a, t in sections
    )
    return (
        f'<h1>{esc(report.title)}</h1>\n<p class="sub">{subtitle}</p>\n'
        f'<nav class="sections" aria-label="Sections"><ul>{links}</ul></nav>\n'
    )


def _subtitle(report: Report) -> str:
    return (
        f"{esc(report.csv_path.name)} &middot; {report.rows:,} rows &middot; "
        f"model {esc(report.meta.get('model') or 'unknown')} &middot; made {esc(report.created)}"
    )


def main_page(report: Report) -> str:
    body = [summary_section(report), histogram_section(report), faces_section(report, 1)]
    body.append(failures_section(report, 1))
    if report.groups is not None:
        body.append(groups_section(report))
    return document(report, report.title, _header(report, 1, _subtitle(report)), "".join(body))


def grid_page(report: Report, page: int) -> str:
    title = f"{report.title}: page {page} of {report.pages}"
    return document(report, title, _header(report, page, _subtitle(report)), faces_section(report, page))


def failures_page(report: Report) -> str:
    title = f"{report.title}: failures"
    subtitle = f"{len(report.failures):,} rows without a scored face &middot; {esc(report.csv_path.name)}"
    return document(
        report, title, _header(report, 0, subtitle), failures_section(report, 0, None), skip="failures"
    )
