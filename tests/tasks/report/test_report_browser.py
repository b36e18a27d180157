"""The report in a real headless Chromium: every thumbnail renders, nothing errors, nothing runs.

Skipped when no Chromium is installed (Debian: ``apt-get install -y chromium``). Set
``AIKD_REPORT_SCREENSHOT=docs/report-screenshot.png`` to refresh the README picture from the kit report.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
from browser import Browser, find_chromium
from PIL import Image
from report_helpers import Page, build_report, read_csv

from aikd_cli.tasks.score import SCORE_COLUMNS

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary found (apt-get install -y chromium, or set AIKD_CHROMIUM)"
)

# Scroll to the bottom in steps (lazy images load as they near the viewport), back to the top, then
# wait until every thumbnail has finished loading or failing.
LOAD_ALL = """
new Promise(resolve => {
  let y = 0;
  const step = () => {
    window.scrollTo(0, y += 700);
    if (y < document.body.scrollHeight) { setTimeout(step, 30); return; }
    window.scrollTo(0, 0);
    const wait = (tries) => {
      const pending = [...document.querySelectorAll('img.thumb')].filter(i => !i.complete);
      if (!pending.length || tries > 200) resolve(pending.length); else setTimeout(() => wait(tries + 1), 50);
    };
    wait(0);
  };
  step();
})
"""

COUNTS = """({
  thumbs: document.querySelectorAll('img.thumb').length,
  rendered: [...document.querySelectorAll('img.thumb')].filter(i => i.complete && i.naturalWidth === 112).length,
  placeholders: document.querySelectorAll('.ph').length,
  scripts: document.querySelectorAll('script').length,
  h1: document.querySelectorAll('h1').length,
  missingAlt: [...document.images].filter(i => !i.hasAttribute('alt')).length,
})"""

OPEN_FIRST = """
new Promise(resolve => {
  const d = document.querySelector('li.face details');
  d.open = true;
  const img = d.querySelector('.orig img');
  const done = () => resolve({loaded: img.complete && img.naturalWidth > 0,
                              box: d.querySelector('.orig .box').getBoundingClientRect().width});
  if (img.complete) done(); else { img.onload = done; img.onerror = done; }
})
"""


@pytest.fixture(scope="module")
def browser():
    with Browser(CHROMIUM, width=1280, height=2000) as b:
        yield b


def load(browser: Browser, page: Path) -> dict:
    browser.open(page.resolve().as_uri())
    assert browser.evaluate(LOAD_ALL) == 0
    return browser.evaluate(COUNTS)


def test_kit_report_renders_every_thumbnail_without_errors(browser, kit_scores, kit_report, tmp_path):
    faces = sum(r["status"] == "ok" for r in read_csv(kit_scores))
    counts = load(browser, kit_report.html)
    assert kit_report.pages == 1
    assert counts == {
        "thumbs": faces,
        "rendered": faces,
        "placeholders": 0,
        "scripts": 0,
        "h1": 1,
        "missingAlt": 0,
    }
    assert browser.errors() == []
    shot = tmp_path / "kit.png"
    browser.screenshot(shot)
    with Image.open(shot) as im:
        assert im.size == (1280, 2000)
        assert len(im.convert("L").getcolors(1 << 16) or []) > 50  # a rendered page, not a blank one
        target = os.environ.get("AIKD_REPORT_SCREENSHOT")
        if target:  # palette PNG: the README picture stays small
            im.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(
                target, optimize=True
            )
    detail = browser.evaluate(OPEN_FIRST)
    assert detail["loaded"] and detail["box"] > 0  # the original photo with the box drawn on it
    assert browser.errors() == []


def test_paged_report_with_moved_images_renders_on_every_page(browser, lfw_scores, tmp_path):
    s = build_report(lfw_scores, tmp_path / "r.html", per_page=30, threshold=20.0, workers=0, progress=False)
    assert s.pages >= 3 and s.missing_images == 2
    totals = {"rendered": 0, "placeholders": 0}
    pages = [s.html] + [s.files_dir / f"page-{p:04d}.html" for p in range(2, s.pages + 1)]
    for page in pages:
        counts = load(browser, page)
        assert counts["rendered"] == counts["thumbs"] and counts["scripts"] == 0 and counts["missingAlt"] == 0
        assert browser.errors() == [], page
        totals["rendered"] += counts["rendered"]
        totals["placeholders"] += counts["placeholders"]
    moved = sum(
        1
        for r in read_csv(lfw_scores)
        if r["status"] == "ok" and not (lfw_scores.parent / r["path"]).exists()
    )
    assert totals == {"rendered": s.faces - moved, "placeholders": moved}


def test_markup_in_a_file_name_does_not_run(browser, lfw_scores, tmp_path):
    # CSP blocks inline scripts, and a blocked script is a console error: escaping must leave none
    evil = tmp_path / "<img src=x onerror=alert(2)>" / "<script>alert(1)<"
    evil.mkdir(parents=True)
    rows = read_csv(lfw_scores)
    first = next(r for r in rows if r["status"] == "ok" and (lfw_scores.parent / r["path"]).exists())
    shutil.copy(lfw_scores.parent / first["path"], evil / "script>&\"'.jpg")
    with open(tmp_path / "scores.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=SCORE_COLUMNS)
        w.writeheader()
        w.writerow(first | {"path": "<img src=x onerror=alert(2)>/<script>alert(1)</script>&\"'.jpg"})
        w.writerow(
            first
            | {"path": "gone/<svg onload=alert(5)>.jpg", "status": "error", "message": "<script>x()</script>"}
        )
    s = build_report(tmp_path / "scores.csv", tmp_path / "r.html", workers=0, progress=False)
    counts = load(browser, s.html)
    assert counts["scripts"] == 0 and counts["rendered"] == 1
    assert (
        browser.evaluate("document.querySelectorAll('svg[onload], img[onerror], [onload], [onerror]').length")
        == 0
    )
    assert browser.errors() == []


NAVIGATION = """({
  brokenAnchors: [...document.querySelectorAll('nav.sections a, svg.hist a, details.more a')]
    .map(a => a.getAttribute('href')).filter(h => h.startsWith('#') && !document.getElementById(h.slice(1))),
  decileLinks: [...document.querySelectorAll('svg.hist a')].filter(a => a.getAttribute('href').startsWith('#decile-')).length,
  cards: document.querySelectorAll('li.face').length,
  faceIndex: [...document.querySelectorAll('.fi')].filter(e => e.getBoundingClientRect().width > 0).map(e => e.textContent),
})"""


def test_sampled_report_renders_every_picture_and_every_link_lands(browser, lfw_scores, tmp_path):
    s = build_report(
        lfw_scores,
        tmp_path / "r.html",
        grid=False,
        threshold=20.0,
        show=6,
        sample=3,
        folders=4,
        embed=False,
        workers=2,
        progress=False,
    )
    page = Page(s.html)
    rows = read_csv(lfw_scores)
    shown = [i for ids in page.cards.values() for i in ids]
    moved = sum(not (lfw_scores.parent / rows[i]["path"]).exists() for i in shown)
    counts = load(browser, s.html)
    assert counts["thumbs"] + counts["placeholders"] == len(shown) and counts["placeholders"] == moved
    assert counts["rendered"] == counts["thumbs"] and counts["scripts"] == 0 and counts["missingAlt"] == 0
    nav = browser.evaluate(NAVIGATION)
    assert nav["brokenAnchors"] == [] and nav["decileLinks"] > 0 and nav["cards"] == len(shown)
    detail = browser.evaluate(OPEN_FIRST)
    assert detail["loaded"] and detail["box"] > 0
    assert browser.errors() == []


def test_sampled_kit_report_shows_the_face_index_of_group_photos(browser, kit_scores, tmp_path):
    s = build_report(
        kit_scores, tmp_path / "k.html", grid=False, show=100, sample=2, workers=2, progress=False
    )
    load(browser, s.html)
    labels = browser.evaluate(NAVIGATION)["faceIndex"]
    assert labels and all(label.startswith("face ") and " of " in label for label in labels)
    assert browser.errors() == []
