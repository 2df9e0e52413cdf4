"""The HTML report in a real headless Chromium (Debian's), driven by Playwright: it loads
offline with no console errors, its plots render, and hostile hypothesis text stays text."""
import io
import shutil

import pytest

from igtext.report import write_report
from igtext.runview import load_run
from test_inspect import EVIL, RECORDED, add_draft
from test_web_judge import CHROMIUM, FLAGS


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        ctx = b.new_context(viewport={"width": 1280, "height": 900}, offline=True)
        yield ctx.new_page()
        b.close()


def _distinct_colours(png: bytes) -> int:
    from PIL import Image
    img = Image.open(io.BytesIO(png)).convert("RGB")
    return len(img.getcolors(maxcolors=1 << 24))


def test_report_in_chromium(page, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(RECORDED, run)
    best = load_run(run).best()
    evil_id = add_draft(run, EVIL, best.objective + 5, best.id)
    (run / "result.json").unlink()          # the hostile draft becomes the best so far
    out = tmp_path / "report.html"
    write_report(run, out)
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: problems.append(f"request {r.url}")
            if not r.url.startswith(("file:", "data:")) else None)
    page.goto(out.as_uri())
    page.wait_for_load_state("load")
    assert problems == []
    assert page.text_content("#best") == EVIL                  # shown as text
    assert page.evaluate("window.pwned") is None               # never run
    assert page.locator("#top").get_by_text(EVIL).count() == 1
    assert evil_id in page.text_content("#lineage")
    for plot in ("#plot-trajectory", "#plot-population"):
        img = page.locator(plot)
        assert page.evaluate(f"document.querySelector('{plot}').naturalWidth") > 100
        assert _distinct_colours(img.screenshot()) > 20         # not blank
    assert page.locator("#heatmap td[style]").count() > 10
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert _distinct_colours(shot.read_bytes()) > 50
