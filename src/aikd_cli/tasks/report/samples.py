"""The sections of a sampled report (sets too big for a grid of every face): the lowest and highest
faces, the faces either side of the threshold, a sample per quality decile and per sub-folder.

Every section says what it shows and out of how many, so a sample is never mistaken for the whole.
"""

from __future__ import annotations

import numpy as np

from aikd_cli.tasks.report.context import Report, esc
from aikd_cli.tasks.report.grid import face_list
from aikd_cli.tasks.report.histogram import fmt
from aikd_cli.tasks.report.select import Selection
from aikd_cli.utils.numbers import fmt_range

#: (anchor, heading) of the sampled sections, in page order, for the navigation.
SECTIONS = (
    ("lowest", "Lowest"),
    ("threshold", "At the threshold"),
    ("highest", "Highest"),
    ("deciles", "Deciles"),
    ("folder-samples", "Worst sub-folders"),
)


def _cards(report: Report, rows: np.ndarray) -> str:
    report.load(rows)
    return face_list(report, [report.row(i) for i in rows], 1)


def _section(anchor: str, title: str, note: str, body: str) -> str:
    return (
        f'<section id="{anchor}" aria-labelledby="h-{anchor}"><h2 id="h-{anchor}">{esc(title)}</h2>'
        f'<p class="note">{note}</p>\n{body}</section>\n'
    )


def _subsection(report: Report, anchor: str, heading: str, facts: str, rows: np.ndarray) -> str:
    return (
        f'<h3 id="{anchor}">{heading}</h3><p class="range">{facts}; {len(rows):,} shown.</p>'
        f"{_cards(report, rows)}"
    )


def _of(report: Report) -> str:
    return f"{report.stats.count:,} scored faces"


def lowest_section(report: Report, sel: Selection) -> str:
    note = f"The {len(sel.lowest):,} lowest-quality of {_of(report)}, lowest first. Select a face for its details."
    return _section("lowest", "Lowest quality", note, _cards(report, sel.lowest))


def highest_section(report: Report, sel: Selection) -> str:
    note = f"The {len(sel.highest):,} highest-quality of {_of(report)}, highest first."
    return _section("highest", "Highest quality", note, _cards(report, sel.highest))


def threshold_section(report: Report, sel: Selection) -> str:
    if report.threshold is None:
        note = "No threshold given: pass <code>--threshold Q</code> to see the faces either side of it."
        return _section("threshold", "At the threshold", note, "")
    above = len(sel.around) - sel.below_around
    note = (
        f"The {sel.below_around:,} faces just below the threshold {esc(fmt(report.threshold))} and the "
        f"{above:,} just at or above it, lowest first: where an accept/reject decision is made."
    )
    return _section("threshold", "At the threshold", note, _cards(report, sel.around))


def deciles_section(report: Report, sel: Selection) -> str:
    order, quality = report.order.faces, report.table.quality
    note = (
        "The scored faces in ten equal parts by rank (decile 1: the lowest tenth). Each shows a few "
        "faces spread evenly over its ranks, its lowest and highest included."
    )
    body = []
    for d in sel.deciles:
        lo, hi = quality[order[d.start]], quality[order[d.stop - 1]]
        heading = "Decile {}: quality {} to {}".format(d.number, *map(esc, fmt_range(lo, hi)))
        facts = f"Ranks {d.start + 1:,}&ndash;{d.stop:,} of {report.stats.count:,}"
        body.append(_subsection(report, f"decile-{d.number}", heading, facts, d.rows))
    return _section("deciles", "By quality decile", note, "".join(body))


def folder_samples_section(report: Report, sel: Selection) -> str:
    groups = report.groups or []
    note = (
        f"The {len(sel.folders):,} sub-folders with the lowest median quality (of {len(groups):,}), each "
        "with faces spread evenly over its ranks, lowest first. All sub-folders are in the table below."
    )
    body = []
    for number, (g, rows) in enumerate(sel.folders, start=1):
        facts = (
            f"median {esc(fmt(g.quality.median))}, {g.quality.count:,} scored faces, {g.failures:,} failures"
        )
        body.append(_subsection(report, f"folder-{number}", esc(g.name), facts, rows))
    return _section("folder-samples", "Worst sub-folders", note, "".join(body))


def unscored_section(report: Report, sel: Selection) -> str:
    total = report.faces - report.stats.count
    note = f"{len(sel.unscored):,} of the {total:,} detected faces without a valid quality (NaN or empty)."
    return _section("unscored", "Faces without a score", note, _cards(report, sel.unscored))


def sampled_sections(report: Report) -> str:
    sel = report.selection
    parts = []
    if report.stats.count:
        parts += [
            lowest_section(report, sel),
            threshold_section(report, sel),
            highest_section(report, sel),
            deciles_section(report, sel),
        ]
    if sel.folders:
        parts.append(folder_samples_section(report, sel))
    if len(sel.unscored):
        parts.append(unscored_section(report, sel))
    return "".join(parts)
