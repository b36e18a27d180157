"""Whole HTML pages: the main page (summary, histogram, the first grid page or the sampled sections,
failures, groups), one static page per further grid page, and the full failure and sub-folder lists. No script anywhere: everything works
without JavaScript, and a Content-Security-Policy forbids scripts and network access outright, so even
a file name that slipped past escaping could not run code or phone home.
"""

from __future__ import annotations

from importlib import resources

from aikd_cli._version import __version__
from aikd_cli.tasks.report.context import Report, esc
from aikd_cli.tasks.report.grid import faces_section
from aikd_cli.tasks.report.samples import SECTIONS, sampled_sections
from aikd_cli.tasks.report.sections import (
    failures_section,
    groups_section,
    histogram_section,
    summary_section,
)
from aikd_cli.tasks.report.thumbnails import THUMB_SIZE

CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)


def _css() -> str:
    return resources.files(__package__).joinpath("report.css").read_text(encoding="utf-8")


def document(
    report: Report, title: str, header: str, body: str, skip: tuple[str, str] = ("faces", "the faces")
) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        f'<meta name="generator" content="aikd {esc(__version__)}">\n'
        f"<title>{esc(title)}</title>\n<style>\n{_css()}</style>\n</head>\n<body>\n"
        f'<a class="skip" href="#{skip[0]}">Skip to {skip[1]}</a>\n'
        f"<header>\n{header}</header>\n<main>\n{body}</main>\n"
        f"<footer><p>Made with aikd {esc(__version__)} on {esc(report.created)} from "
        f"{esc(report.csv_path.name)}. Thumbnails are the {THUMB_SIZE}&times;{THUMB_SIZE} crops the model "
        "scored, re-aligned from the landmarks in the CSV; open a face for the original photo with the "
        "detected box and landmarks. This page needs no JavaScript and loads nothing from the network."
        "</p></footer>\n</body>\n</html>\n"
    )


def _header(report: Report, here: int, subtitle: str) -> str:
    sections = [("summary", "Summary"), ("distribution", "Distribution")]
    if report.grid:
        sections.append(("faces", "Faces"))
    elif report.stats.count:
        folders = bool(report.selection.folders)
        sections += [s for s in SECTIONS if s[0] != "folder-samples" or folders]
    sections.append(("failures", "Failures"))
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
    body = [summary_section(report), histogram_section(report)]
    body.append(faces_section(report, 1) if report.grid else sampled_sections(report))
    body.append(failures_section(report, 1))
    if report.groups is not None:
        body.append(groups_section(report))
    return document(report, report.title, _header(report, 1, _subtitle(report)), "".join(body))


def grid_page(report: Report, page: int) -> str:
    title = f"{report.title}: page {page} of {report.pages}"
    return document(report, title, _header(report, page, _subtitle(report)), faces_section(report, page))


def _list_page(report: Report, what: str, subtitle: str, body: str, skip: tuple[str, str]) -> str:
    """A page of the files folder holding a complete list (all failures, all sub-folders)."""
    subtitle = f"{subtitle} &middot; {esc(report.csv_path.name)}"
    return document(report, f"{report.title}: {what}", _header(report, 0, subtitle), body, skip=skip)


def failures_page(report: Report) -> str:
    subtitle = f"{report.failures:,} rows without a scored face"
    body = failures_section(report, 0, None)
    return _list_page(report, "failures", subtitle, body, ("failures", "the failures"))


def folders_page(report: Report) -> str:
    subtitle = f"{len(report.groups or []):,} sub-folders"
    body = groups_section(report, 0, None)
    return _list_page(report, "sub-folders", subtitle, body, ("groups", "the sub-folders"))
