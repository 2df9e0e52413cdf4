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


def test_the_reports_d_prime_section_in_chromium(page, tmp_path):
    """A finished run's report shows z*'s baselines, the verdict, z*'s confusion matrix on
    D' and every input of D' with z*'s label and each baseline's; inputs stay text."""
    from dataclasses import replace

    import igtext
    from conftest import scripted_lm, toy_task
    from igtext.data import Example
    task = toy_task(8)
    task = replace(task, initial_hypothesis="Blue means husky.",
                   test=task.test[:-1] + (Example("evil", EVIL, task.test[-1].label),))
    res = igtext.search(task, model=scripted_lm(), out_dir=tmp_path / "run",
                        cache_dir=tmp_path / "c", generations=1, population=2,
                        settings={"search.offspring": 1, "search.elite": 1,
                                  "likelihood.search_examples": 4})
    r = res.record
    assert [b.name for b in r.baselines] == ["no z", "initial z", "TF-IDF + LR on D", "chance"]
    assert len(r.test_predictions) == len(task.test)
    assert all(len(b.predictions) == len(task.test) for b in r.baselines[:3])
    out = tmp_path / "report.html"
    write_report(tmp_path / "run", out)
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(out.as_uri())
    assert page.evaluate("window.pwned") is None
    assert r.verdict() in page.text_content("#verdict")
    assert "initial z" in page.text_content("#baselines")
    labels = list(task.labels)
    cells = [[int(c) for c in page.locator(f"#confusion tr:nth-child({i + 2}) td")
              .all_inner_texts()] for i in range(len(labels))]
    gold = [e.label for e in task.test]
    assert cells == [[sum(g == y and p == q for g, p in zip(gold, r.test_predictions))
                      for q in labels] for y in labels]
    page.click("#test-examples summary")
    rows = page.locator("#test-predictions tr")
    assert rows.count() == len(task.test) + 1
    assert page.locator("#test-predictions th").all_inner_texts() == [
        "id", "input", "gold", "z*", "no z", "initial z", "TF-IDF + LR on D"]
    last = rows.nth(len(task.test)).locator("td").all_inner_texts()
    assert last[0] == "evil" and last[1] == EVIL and last[3] == r.test_predictions[-1]
    assert problems == []
