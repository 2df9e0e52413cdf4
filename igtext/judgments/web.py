"""Collect judgments in a browser: a page on 127.0.0.1 with two z's side by side (and an
item-labelling view), keyboard shortcuts and progress. Answers go to the store as they
come. `WebAnnotator` serves a batch and returns when every item has an answer.

Keys: compare: A or 1 or Left = A, B or 2 or Right = B, T or 0 = tie, U = unsure (kept as a
      tie: equally plausible as far as this person can tell), S = skip.
      label: 1..9 = that answer, U = unsure (kept as a uniform guess over the labels),
      S = skip. Z (both views) takes the previous answer of the batch back.
The page shows the task beside each question (its name, labels and a few of D's examples,
`context`) and what "plausible" asks.

Other pages open in the same browser can send requests to 127.0.0.1 too, and forged answers
would train the prior and M_L. So, as Jupyter does, the API asks for a per-session token (in
the URL printed, sent by the page as a header), a `Host` of this server (DNS rebinding), and
on POST a JSON content type and the page's own `Origin` (a "simple" cross-origin POST has
neither). Anything else gets 403 and is counted in `WebCollector.refused`.
"""
from __future__ import annotations

import hmac
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import urlsplit

PAGE = Path(__file__).with_name("page.html")


UNSURE = "unsure"       # a label answer: the person cannot tell (a uniform guess)


class _Session:
    """The items being asked and the answers so far (thread-safe). `on_answer(index, value)`
    hears each answer as it comes, `on_undo(index)` each one taken back."""

    def __init__(self, kind: str, items: list, labels: Sequence[str] | None,
                 on_answer: Callable[[int, object], None] | None = None,
                 on_undo: Callable[[int], None] | None = None, context: dict | None = None):
        self.kind, self.items, self.labels = kind, items, list(labels or [])
        self.on_answer = on_answer or (lambda index, value: None)
        self.on_undo = on_undo or (lambda index: None)
        self.context = context or {}
        self.history: list[int] = []
        self.answers: list = [None] * len(items)
        self.answered = [False] * len(items)
        self.lock = threading.Lock()
        self.done = threading.Event()
        if not items:
            self.done.set()

    def next(self) -> dict:
        with self.lock:
            n = sum(self.answered)
            for i, ok in enumerate(self.answered):
                if not ok:
                    item = self.items[i]
                    body = ({"a": item[0], "b": item[1]} if self.kind == "compare"
                            else {"z": item[0], "x": item[1], "labels": self.labels})
                    return {"kind": self.kind, "index": i, "done": n, "total": len(self.items),
                            "task": self.context, "can_undo": bool(self.history), **body}
            return {"kind": self.kind, "finished": True, "done": n, "total": len(self.items)}

    def answer(self, index: int, value) -> bool:
        """Record one answer (and pass it on to `on_answer`); whether it was the last. The
        caller sets `done` once the page has been told "ok"."""
        with self.lock:
            if not 0 <= index < len(self.items) or self.answered[index]:
                raise ValueError("unknown or already answered item")
            allowed = ({"a", "b", "tie", None} if self.kind == "compare"
                       else set(self.labels) | {None, UNSURE})
            if value not in allowed:
                raise ValueError(f"answer must be one of {sorted(map(str, allowed))}")
            self.answers[index] = value
            self.answered[index] = True
            self.history.append(index)
            finished = all(self.answered)
        self.on_answer(index, value)            # stored before the page hears "ok"
        return finished

    def undo(self) -> int:
        """Take the batch's last answer back; its index (asked again next)."""
        with self.lock:
            if not self.history or self.done.is_set():
                raise ValueError("nothing to take back")
            index = self.history.pop()
            self.answers[index], self.answered[index] = None, False
        self.on_undo(index)
        return index


class WebCollector:
    """A local web server asking one batch at a time."""

    def __init__(self, port: int = 0, title: str = "igtext judgments",
                 context: dict | None = None):
        """`context`: the task shown beside each question ({"name", "labels", "examples":
        [[input, label], ...]})."""
        self.session: _Session | None = None
        self.title, self.context = title, context or {}
        self.token = secrets.token_urlsafe(24)
        self.refused = 0                  # requests answered 403: see the module docstring
        self._refused_lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _allowed(self, api: bool) -> bool:
                """Whether the request passes the module docstring's checks; if not, 403."""
                port = collector.server.server_address[1]
                host = self.headers.get("host", "").lower()
                ok = host in (f"127.0.0.1:{port}", f"localhost:{port}")
                if ok and api:
                    given = self.headers.get("x-igtext-token", "")
                    ok = hmac.compare_digest(given.encode(), collector.token.encode())
                if ok and self.command == "POST":
                    origin = self.headers.get("origin")
                    ok = (self.headers.get_content_type() == "application/json"
                          and origin in (None, f"http://{host}"))
                if not ok:
                    self._refuse()
                return ok

            def _refuse(self) -> None:
                with collector._refused_lock:
                    collector.refused += 1
                n = self.headers.get("content-length", "")      # a body left unread can
                self.rfile.read(min(int(n), 1 << 16) if n.isdigit() else 0)  # reset the 403
                self._json(403, {"error": "refused: open the link igtext printed"})

            def _json(self, status: int, obj) -> None:
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = urlsplit(self.path).path
                if not self._allowed(api=path.startswith("/api/")):
                    return
                if path in ("/", "/label", "/compare"):
                    body = PAGE.read_bytes()       # no data in it: it needs no token
                    self.send_response(200)
                    self.send_header("content-type", "text/html; charset=utf-8")
                    self.send_header("referrer-policy", "no-referrer")     # the token
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif path == "/favicon.ico":
                    self.send_response(204)
                    self.end_headers()
                elif path == "/api/next":
                    s = collector.session
                    self._json(200, s.next() if s else {"finished": True, "done": 0, "total": 0,
                                                        "task": collector.context})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self):
                if not self._allowed(api=True):
                    return
                path = urlsplit(self.path).path
                if path == "/api/undo":
                    self.rfile.read(int(self.headers.get("content-length", 0) or 0))
                    try:
                        return self._json(200, {"ok": True,
                                                "index": collector.session.undo()})
                    except (ValueError, AttributeError) as e:
                        return self._json(400, {"error": str(e)})
                if path != "/api/answer":
                    return self._json(404, {"error": "not found"})
                try:
                    data = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                    session = collector.session
                    last = session.answer(int(data["index"]), data.get("answer"))
                except (ValueError, KeyError, TypeError, AttributeError) as e:
                    return self._json(400, {"error": str(e)})
                try:
                    self._json(200, {"ok": True})
                finally:                # the batch ends after the page heard its last "ok"
                    if last:            # (or could not: a closed tab)
                        session.done.set()

            def do_OPTIONS(self):       # only a cross-origin preflight asks: never allowed
                self._refuse()

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """The page's address, with the session's token (give it only to the person judging)."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/?token={self.token}"

    def ask(self, kind: str, items: list, labels=None, timeout: float | None = None,
            on_answer: Callable[[int, object], None] | None = None,
            on_undo: Callable[[int], None] | None = None) -> list:
        """The answers to `items` (None: skipped, or not answered in `timeout`; `UNSURE`);
        `on_answer(index, value)` is called as each comes, `on_undo(index)` as one is taken
        back."""
        self.session = _Session(kind, items, labels, on_answer, on_undo, self.context)
        self.session.done.wait(timeout)
        return list(self.session.answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class WebAnnotator:
    """The `Annotator` protocol over the web page: each call waits for a person's answers."""

    source = "person"

    def __init__(self, collector: WebCollector, labels: Sequence[str] | None,
                 annotator: str = "person", timeout: float | None = None,
                 on_answer: Callable[[str, tuple, object], None] | None = None,
                 on_undo: Callable[[str, tuple], None] | None = None):
        self.collector, self.labels = collector, labels
        self.annotator, self.timeout = annotator, timeout
        self.on_answer = on_answer or (lambda kind, item, answer: None)
        self.on_undo = on_undo or (lambda kind, item: None)

    def compare(self, pairs):
        """"a", "b" or "tie" per pair (an unsure person's answer is a tie); None: skipped."""
        pairs = list(pairs)
        return self.collector.ask(
            "compare", pairs, timeout=self.timeout,
            on_answer=lambda i, v: self.on_answer("compare", pairs[i], v),
            on_undo=lambda i: self.on_undo("compare", pairs[i]))

    def label(self, items):
        items = list(items)
        answers = self.collector.ask(
            "label", items, self.labels, timeout=self.timeout,
            on_answer=lambda i, v: self.on_answer("label", items[i], self._label(v)),
            on_undo=lambda i: self.on_undo("label", items[i]))
        return [self._label(a) for a in answers]

    def _label(self, value) -> tuple:
        """A label answer as annotators give it: (answer, distribution or None); unsure is
        a uniform guess over the labels."""
        if value == UNSURE:
            return None, {y: 1 / len(self.labels) for y in self.labels}
        return value, None
