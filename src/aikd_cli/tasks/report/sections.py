"""The main page's sections: summary, histogram, failures and per-folder statistics (all computed
from every row)."""

from __future__ import annotations

import numpy as np

from aikd_cli.faces.pipeline import OK
from aikd_cli.tasks.report.context import Report, esc, url
from aikd_cli.tasks.report.data import ScoreRow
from aikd_cli.tasks.report.grid import face_label
from aikd_cli.tasks.report.histogram import bins_of, fmt, histogram_svg
from aikd_cli.tasks.report.select import DECILES, decile_bounds
from aikd_cli.tasks.report.stats import PERCENTILES, GroupStats
from aikd_cli.utils.numbers import fmt_range

FAILURES_INLINE = 500  # more failures than this go to their own page
GROUPS_INLINE = 200  # more sub-folders than this go to their own page


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


def summary_section(report: Report) -> str:
    s = report.stats
    failures = report.failures
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
    unscored = report.faces - report.stats.count
    if unscored:
        where = "listed after all scored faces" if report.grid else "shown apart"
        alerts.append(
            f"{_count(unscored)} detected faces have no valid quality (NaN or empty): they are "
            f"{where} and left out of the statistics."
        )
    if report.missing:
        alerts.append(
            f"{_count(report.missing)} images could not be read while building this report (moved, "
            "deleted or changed since scoring): their faces show a placeholder."
        )
    if report.meta_note:
        alerts.append(f"Model and detector unknown: {esc(report.meta_note)}.")
    return alerts


def _position_url(report: Report, position: int) -> str:
    """The faces at this rank of the scored order: the card in the grid, or the decile's sample."""
    if report.grid:
        return report.face_url(report.row(report.order.faces[position]), 1)
    decile = int(np.searchsorted(decile_bounds(report.stats.count), position, side="right"))
    return f"#decile-{min(decile, DECILES)}"


def histogram_section(report: Report) -> str:
    out = ['<section id="distribution" aria-labelledby="h-dist"><h2 id="h-dist">Quality distribution</h2>']
    if not report.stats.count:
        out.append('<p class="note">No face has a valid quality score.</p></section>\n')
        return "".join(out)
    values = report.table.quality[report.order.faces[: report.stats.count]]
    bins = bins_of(values, threshold=report.threshold)
    out.append(
        histogram_svg(
            bins,
            threshold=report.threshold,
            below=report.stats.below,
            total=len(values),
            link=lambda pos: _position_url(report, pos),
        )
    )
    what = "its faces" if report.grid else "a sample of faces of that quality"
    out.append(f'<p class="note">Click a bar to see {what}. Higher quality is better')
    if report.threshold is not None:
        out.append(f"; bars in red lie below the threshold {esc(fmt(report.threshold))}")
    out.append(".</p>")
    rows = [
        [
            "{} to {}".format(*map(esc, fmt_range(b.lo, b.hi))),
            _count(b.count),
            f'<a href="{_position_url(report, b.first)}">show</a>' if b.count else "",
        ]
        for b in bins
    ]
    out.append('<details class="more"><summary>The histogram as a table</summary>')
    out.append(_table("Faces per quality bin", ["quality", "faces", "faces"], rows, {1}))
    out.append("</details></section>\n")
    return "".join(out)


def groups_section(report: Report, here: int = 1, limit: int | None = GROUPS_INLINE) -> str:
    groups = report.groups or []
    shown = groups if limit is None else groups[:limit]
    out = [
        '<section id="groups" aria-labelledby="h-groups"><h2 id="h-groups">Sub-folders</h2>',
        f'<p class="note">{_count(len(groups))} sub-folders (e.g. one per identity), lowest median quality first.',
    ]
    if len(shown) < len(groups):
        out.append(
            f' The first {_count(len(shown))} are listed; <a href="{url(report.prefix(here) + "folders.html")}">'
            "all sub-folders</a> are on their own page."
        )
    out.append("</p>")
    head = ["folder", "rows", "scored", "failures", "median", "minimum"]
    if report.threshold is not None:
        head.append("below threshold")
    head.append("lowest face")
    numeric = set(range(1, len(head) - 1))
    sampled = {id(g) for g, _ in report.selection.folders} if report.selection else set()
    report.load([g.worst for g in shown if g.worst is not None])
    rows = []
    for g in shown:
        q = g.quality
        name = esc(g.name)
        if id(g) in sampled:
            name = f'<a href="{report.main_url(here, _folder_anchor(report, g))}">{name}</a>'
        cells = [
            name,
            _count(g.rows),
            _count(q.count),
            _count(g.failures),
            fmt(q.median) if q.count else "n/a",
            fmt(q.min) if q.count else "n/a",
        ]
        if report.threshold is not None:
            cells.append(_share(q.below or 0, q.count))
        cells.append(_mini_face(report, report.row(g.worst), here) if g.worst is not None else "")
        rows.append(cells)
    out.append(_table("Statistics per sub-folder", head, rows, numeric))
    out.append("</section>\n")
    return "".join(out)


def _folder_anchor(report: Report, group: GroupStats) -> str:
    number = next(i for i, (g, _) in enumerate(report.selection.folders) if g is group)
    return f"folder-{number + 1}"


def _mini_face(report: Report, row: ScoreRow, here: int) -> str:
    thumb = report.images.thumbs.get(row.index)
    label = f"{fmt(row.quality)} · {face_label(row)}"
    if thumb is None:
        return f'<a href="{report.face_url(row, here)}">{esc(label)}</a>'
    return (
        f'<a href="{report.face_url(row, here)}"><img class="mini" src="{report.images.src(thumb, report.prefix(here))}" '
        f'width="40" height="40" alt="{esc(label)}" loading="lazy" decoding="async"></a>'
    )


def failures_section(report: Report, here: int, limit: int | None = FAILURES_INLINE) -> str:
    failures = report.failures
    out = ['<section id="failures" aria-labelledby="h-fail"><h2 id="h-fail">Failures</h2>']
    if not failures:
        out.append('<p class="note">Every image gave at least one face.</p></section>\n')
        return "".join(out)
    indices = report.order.failures if limit is None else report.order.failures[:limit]
    report.load(indices)
    shown = [report.row(i) for i in indices]
    by_status = ", ".join(f"{_count(n)} {esc(s)}" for s, n in sorted(report.counts.items()) if s != OK)
    out.append(f'<p class="note">{_count(failures)} rows without a scored face ({by_status}).')
    if len(shown) < failures:
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
