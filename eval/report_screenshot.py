"""Make a run's HTML report and a full-page screenshot of it in headless Chromium.

    .venv/bin/python eval/report_screenshot.py RUNDIR OUT_PREFIX
    # writes OUT_PREFIX.html and OUT_PREFIX.png; prints any console errors (there should be none)
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from igtext.report import write_report

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    run_dir, prefix = sys.argv[1], Path(sys.argv[2])
    info = write_report(run_dir, prefix.with_suffix(".html"))
    from playwright.sync_api import sync_playwright
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                    args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(prefix.with_suffix(".html").resolve().as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(prefix.with_suffix(".png")), full_page=True)
        browser.close()
    print(json.dumps({**info, "screenshot": str(prefix.with_suffix(".png")),
                      "console_errors": errors}))


if __name__ == "__main__":
    main()
