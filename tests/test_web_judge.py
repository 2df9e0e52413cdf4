"""The web collector in a real headless Chromium (Debian's), driven by Playwright."""
import http.client
import json
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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
                                                ("Snow means husky.", "A dog in snow."),
                                                ("Snow means husky.", "A dog on grass.")])
        page.wait_for_function("document.getElementById('x').textContent === 'A curly dog.'")
        assert [b.strip() for b in page.locator("#choices button").all_inner_texts()] == [
            "husky 1", "poodle 2", "labrador 3"]
        page.keyboard.press("2")
        page.wait_for_function("document.getElementById('x').textContent === 'A dog in snow.'")
        page.keyboard.press("s")
        page.wait_for_function("document.getElementById('x').textContent === 'A dog on grass.'")
        page.keyboard.press("u")                          # unsure: a uniform guess
        t.join(30)
        assert box["out"] == [("poodle", None), (None, None),
                              (None, dict.fromkeys(("husky", "poodle", "labrador"), 1 / 3))]
        page.wait_for_selector("#done", state="visible")
        shot = tmp_path / "done.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 1000
    finally:
        page.close()
        collector.close()
    assert problems == []


def _wait(cond, timeout=30.0):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


# Another site open in the same browser: a fetch with text/plain and a text/plain form post
# (both "simple", so no preflight) try to answer item 0 with "a". Before the checks, each
# of them recorded that answer.
ATTACK = """<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="post" action="http://127.0.0.1:%(port)d/api/answer" enctype="text/plain"
      target="sink"><input name='{"index": 0, "answer": "a", "pad": "' value='"}'></form>
<script>
fetch("http://127.0.0.1:%(port)d/api/answer", {method: "POST", mode: "no-cors",
      headers: {"content-type": "text/plain"}, body: JSON.stringify({index: 0, answer: "a"})})
  .finally(() => document.getElementById("f").submit());
</script></body></html>"""


def _serve(html: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_another_site_cannot_answer(browser):
    collector = WebCollector()
    port = collector.server.server_address[1]
    evil = _serve(ATTACK % {"port": port})
    ann = WebAnnotator(collector, None, timeout=60)
    page = browser.new_page()
    try:
        t, box = _ask_in_background(ann.compare, [("One.", "Two."), ("Three.", "Four.")])
        _wait(lambda: collector.session is not None)
        page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
        _wait(lambda: collector.refused == 2)         # both reached the server, refused
        assert collector.session.answered == [False, False]

        page.goto(collector.url.split("?")[0])        # the page without its token
        page.wait_for_function("document.body.textContent.startsWith('Refused')")
        assert collector.session.answered == [False, False]

        page.goto(collector.url)                      # the person, as before
        page.wait_for_function("document.getElementById('za').textContent === 'One.'")
        page.keyboard.press("b")
        page.wait_for_function("document.getElementById('za').textContent === 'Three.'")
        page.click("#btn-tie")
        t.join(30)
        assert box["out"] == ["b", "tie"]
    finally:
        page.close()
        collector.close()
        evil.shutdown()
        evil.server_close()


def _call(port, method, path, headers, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_host_token_content_type_and_origin_are_checked():
    collector = WebCollector()
    port = collector.server.server_address[1]
    try:
        t, box = _ask_in_background(collector.ask, "compare", [("One.", "Two.")], None, 30)
        _wait(lambda: collector.session is not None)
        own = {"Host": f"127.0.0.1:{port}", "X-Igtext-Token": collector.token}
        json_post = {**own, "Content-Type": "application/json",
                     "Origin": f"http://127.0.0.1:{port}"}
        answer = json.dumps({"index": 0, "answer": "a"})
        assert _call(port, "GET", "/", {"Host": "evil.example"})[0] == 403   # DNS rebinding
        rebound = {**own, "Host": f"evil.example:{port}"}
        assert _call(port, "GET", "/api/next", rebound)[0] == 403
        assert _call(port, "GET", "/api/next", {"Host": own["Host"]})[0] == 403   # no token
        assert _call(port, "GET", "/api/next", {**own, "X-Igtext-Token": "guess"})[0] == 403
        assert _call(port, "GET", "/", {"Host": f"localhost:{port}"})[0] == 200  # needs none
        status, body = _call(port, "GET", "/api/next", own)
        assert status == 200 and json.loads(body)["a"] == "One."
        for bad in ({"Content-Type": "text/plain"}, {"Origin": "http://127.0.0.1:1"},
                    {"Origin": "null"}, {"X-Igtext-Token": ""}):
            assert _call(port, "POST", "/api/answer", {**json_post, **bad}, answer)[0] == 403
        assert _call(port, "OPTIONS", "/api/answer", own)[0] == 403              # preflight
        assert collector.session.answered == [False]
        assert collector.refused == 9
        no_origin = {k: v for k, v in json_post.items() if k != "Origin"}    # not a browser
        assert _call(port, "POST", "/api/answer", no_origin, answer)[0] == 200
        t.join(10)
        assert box["out"] == ["a"]
    finally:
        collector.close()


def test_cli_judge_web_prints_the_refused_count(tmp_path):
    run = Path(shutil.copytree(Path(__file__).parent / "data" / "recorded_run", tmp_path / "r"))
    p = subprocess.Popen([sys.executable, "-m", "igtext.cli", "judge", str(run), "--n", "1",
                          "--web", "--store", str(tmp_path / "j.sqlite")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stderr.readline()
        while not line.startswith("open "):           # "open URL (Ctrl-C to stop)"
            assert line, "no URL printed"
            line = p.stderr.readline()
        url = line.split()[1]
        port, token = int(url.split(":")[2].split("/")[0]), url.split("token=")[1]
        own = {"Host": f"127.0.0.1:{port}", "X-Igtext-Token": token}
        assert _call(port, "GET", "/api/next", {"Host": own["Host"]})[0] == 403
        for _ in range(200):                          # the batch comes just after the URL
            item = json.loads(_call(port, "GET", "/api/next", own)[1])
            if "index" in item:
                break
            time.sleep(0.05)
        index = item["index"]
        assert _call(port, "POST", "/api/answer", {**own, "Content-Type": "application/json"},
                     json.dumps({"index": index, "answer": "a"}))[0] == 200
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 0, err
    assert json.loads(out.splitlines()[-1])["recorded"] == 1
    assert "1 request(s) refused" in err


def _judge_web(run: Path, store: Path, n: int):
    """`igtext judge --web` in a process of its own; the process and the page's URL."""
    import signal
    p = subprocess.Popen([sys.executable, "-m", "igtext.cli", "judge", str(run), "--n", str(n),
                          "--web", "--store", str(store), "--seed", "5"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    line = p.stderr.readline()
    while not line.startswith("open "):
        assert line, "no URL printed"
        line = p.stderr.readline()
    return p, line.split()[1]


def test_closing_the_page_midway_keeps_every_answer_given(browser, tmp_path):
    import signal

    from igtext.judgments.store import JudgmentStore
    run = Path(shutil.copytree(Path(__file__).parent / "data" / "recorded_run", tmp_path / "r"))
    store = tmp_path / "j.sqlite"
    p, url = _judge_web(run, store, 5)
    page = browser.new_page()
    try:
        page.goto(url)
        page.wait_for_function("document.getElementById('count').textContent === '0 / 5'")
        assert page.text_content("#task-name") == "husky"          # the task, beside it
        assert page.locator("#task-examples li").count() == 3
        assert "Plausible means" in page.text_content("#compare")
        assert not page.locator("#compare .undo").is_visible()    # nothing to take back yet
        page.keyboard.press("a")
        page.wait_for_function("document.getElementById('count').textContent === '1 / 5'")
        page.keyboard.press("b")
        page.wait_for_function("document.getElementById('count').textContent === '2 / 5'")
        assert [c.winner for c in JudgmentStore(store).comparisons()] == ["a", "b"]
        page.click("#compare .undo")                      # take "b" back: asked again
        page.wait_for_function("document.getElementById('count').textContent === '1 / 5'")
        assert [c.winner for c in JudgmentStore(store).comparisons()] == ["a"]
        page.keyboard.press("u")                          # unsure: kept as a tie
        page.wait_for_function("document.getElementById('count').textContent === '2 / 5'")
        page.close()                                      # the tab closed midway
        assert [c.winner for c in JudgmentStore(store).comparisons()] == ["a", "tie"]
        p.send_signal(signal.SIGINT)                      # then Ctrl-C
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130 and "every answer given is stored" in err
    assert len(JudgmentStore(store).comparisons()) == 2
    p, url = _judge_web(run, store, 5)                    # a later judge asks the rest
    page = browser.new_page()
    try:
        page.goto(url)
        page.wait_for_function("document.getElementById('count').textContent === '0 / 3'")
    finally:
        page.close()
        p.kill()
        p.communicate(timeout=60)
