"""Face cards (thumbnail, score, file name, detail panel) and lists of them; the paged grid of every
face of a small set."""

from __future__ import annotations

import math

from aikd_cli.tasks.report.context import Report, esc
from aikd_cli.tasks.report.data import ScoreRow
from aikd_cli.tasks.report.histogram import fmt
from aikd_cli.tasks.report.thumbnails import PREVIEW_SIDE, THUMB_SIZE
from aikd_cli.utils.numbers import fmt_range


def face_label(row: ScoreRow) -> str:
    """The file name, with the face index when the photo has several faces."""
    return f"{row.name} · face {row.face}" if _several(row) else row.name


def _several(row: ScoreRow) -> bool:
    return row.face is not None and row.faces_in_photo > 1


def face_item(report: Report, row: ScoreRow, here: int) -> str:
    images = report.images
    key = images.keys.get(row.source)
    below = report.below(row)
    face_text = f"face {row.face}" if row.face is not None else "face"
    thumb = images.thumbs.get(row.index)
    if thumb is not None:
        picture = (
            f'<img class="thumb" src="{images.src(thumb, report.prefix(here))}" width="{THUMB_SIZE}" '
            f'height="{THUMB_SIZE}" alt="{esc(f"Aligned {face_text} of {row.name}")}" '
            'loading="lazy" decoding="async">'
        )
    else:
        reason = images.errors.get(key) if key is not None else None
        reason = (f"image unavailable: {reason}" if reason else "no landmarks in the CSV" if row.landmarks is None
                  else "its landmarks cannot be aligned")
        picture = f'<span class="thumb ph" role="img" aria-label="{esc("No thumbnail, " + reason)}">{esc(reason)}</span>'
    quality = fmt(row.quality) if row.scored else "no score"
    tag = ' <span class="tag">below</span>' if below else ""
    several = f"face {row.face} of {row.faces_in_photo}" if _several(row) else ""
    summary = (
        f'<summary>{picture}<span class="q">{esc(quality)}{tag}</span>'
        f'<span class="file" title="{esc(row.path)}">{esc(row.name)}</span>'
        + (f'<span class="fi">{esc(several)}</span>' if several else "")
        + "</summary>"
    )
    facts = [("File", esc(row.path)), ("Face", esc(several or (row.face if row.face is not None else "?")))]
    if row.scored:
        facts.append(("Quality", f"{row.quality:.6g}"))
        rank = int(report.position[row.index]) + 1
        facts.append(("Rank", f"{rank:,} of {report.stats.count:,}, lowest first"))
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
    anchor = f' id="f{row.index}"' if report.grid else ""
    return (
        f'<li class="face{" below" if below else ""}"{anchor} data-row="{row.index}">'
        f"<details>{summary}{detail}</details></li>"
    )


def _pct(v: float, whole: int) -> str:
    return f"{min(max(v / whole * 100, -5.0), 105.0):.2f}%"


def _original(report: Report, row: ScoreRow, key: int | None, here: int) -> str:
    """The small view of the original photo with the detected box and the five landmarks on it."""
    images = report.images
    if key is None or key not in images.previews:
        return ""
    width, height = images.sizes[key]
    scale = min(1.0, PREVIEW_SIDE / max(width, height))
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
            if math.isfinite(x) and math.isfinite(y):
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
    chunk = report.page_rows(page)
    if not chunk:
        return "No faces."
    text = f"Faces {start + 1:,}&ndash;{start + len(chunk):,} of {report.faces:,}"
    scored = [r.quality for r in chunk if r.scored]
    if scored:
        text += ", quality {} to {}".format(*map(esc, fmt_range(min(scored), max(scored))))
    return text


def _kind(report: Report, row: ScoreRow) -> str:
    return "below" if report.below(row) else ("scored" if row.scored else "unscored")


def face_list(report: Report, rows: list[ScoreRow], here: int, start: int | None = None) -> str:
    """Cards in the order given, split into lists where they cross the threshold and before unscored
    faces; ``start``: number the list from there (the grid's ranks)."""
    segments: list[tuple[str, list[ScoreRow]]] = []
    for row in rows:
        kind = _kind(report, row)
        if not segments or segments[-1][0] != kind:
            segments.append((kind, []))
        segments[-1][1].append(row)
    out = []
    previous = None
    for kind, members in segments:
        if {previous, kind} == {"below", "scored"}:
            where = "end" if previous == "below" else "start"
            out.append(
                f'<p class="divider">threshold {esc(fmt(report.threshold))}: faces below it {where} here</p>'
            )
        if kind == "unscored":
            out.append('<p class="divider">faces without a valid quality score</p>')
        label = {"below": "below the threshold", "scored": "", "unscored": "without a score"}[kind]
        aria = f' aria-label="Faces {esc(label)}"' if label else ""
        numbering = f' start="{start + 1}"' if start is not None else ""
        out.append(f'<ol class="faces"{numbering}{aria}>')
        out.extend(face_item(report, row, here) for row in members)
        out.append("</ol>")
        if start is not None:
            start += len(members)
        previous = kind
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
    out.append(face_list(report, report.page_rows(page), page, (page - 1) * report.per_page))
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
