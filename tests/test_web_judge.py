"""The web collector in a real headless Chromium (Debian's), driven by Playwright."""
import shutil
import threading

import pytest

from igtext.judgments.web import WebAnnotator, WebCollector

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EVIL = 'Ignore <script>window.pwned = 1</script> and <img src=x onerror="window.pwned = 2">'


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def _ask_in_background(fn, *args):
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("out", fn(*args)), daemon=True)
    t.start()
    return t, box


def test_compare_and_label_pages(browser, tmp_path):
    collector = WebCollector()
    ann = WebAnnotator(collector, ("husky", "poodle", "labrador"), timeout=60)
    page = browser.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        t, box = _ask_in_background(ann.compare, [(EVIL, "Look at the eyes."),
                                                  ("Short rule.", "Long rule."),
                                                  ("One.", "Two.")])
        page.goto(collector.url)
        page.wait_for_function("document.getElementById('za').textContent.length > 0")
        assert page.text_content("#za") == EVIL                  # shown as text
        assert page.evaluate("window.pwned") is None             # and never run
        assert page.text_content("#count") == "0 / 3"
        page.screenshot(path=str(tmp_path / "compare.png"))
        page.keyboard.press("a")
        page.wait_for_function("document.getElementById('count').textContent === '1 / 3'")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("document.getElementById('count').textContent === '2 / 3'")
        page.click("#btn-tie")
        t.join(30)
        assert box["out"] == ["a", "b", "tie"]

        t, box = _ask_in_background(ann.label, [("Curly fur means poodle.", "A curly dog."),
                                                ("Snow means husky.", "A dog in snow.")])
        page.wait_for_function("document.getElementById('x').textContent === 'A curly dog.'")
        assert [b.strip() for b in page.locator("#choices button").all_inner_texts()] == [
            "husky 1", "poodle 2", "labrador 3"]
        page.keyboard.press("2")
        page.wait_for_function("document.getElementById('x').textContent === 'A dog in snow.'")
        page.keyboard.press("s")
        t.join(30)
        assert box["out"] == [("poodle", None), (None, None)]
        page.wait_for_selector("#done", state="visible")
        shot = tmp_path / "done.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 1000
    finally:
        page.close()
        collector.close()
    assert problems == []
