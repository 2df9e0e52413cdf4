"""Collect judgments in a browser: a page on 127.0.0.1 with two z's side by side (and an
item-labelling view), keyboard shortcuts and progress. Answers go to the store as they
come. `WebAnnotator` serves a batch and returns when every item has an answer.

Keys: compare: A or 1 or Left = A, B or 2 or Right = B, T or 0 = tie, S = skip.
      label: 1..9 = that answer, S = skip.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Sequence

PAGE = Path(__file__).with_name("page.html")


class _Session:
    """The items being asked and the answers so far (thread-safe)."""

    def __init__(self, kind: str, items: list, labels: Sequence[str] | None):
        self.kind, self.items, self.labels = kind, items, list(labels or [])
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
                            **body}
            return {"kind": self.kind, "finished": True, "done": n, "total": len(self.items)}

    def answer(self, index: int, value) -> None:
        with self.lock:
            if not 0 <= index < len(self.items) or self.answered[index]:
                raise ValueError("unknown or already answered item")
            allowed = ({"a", "b", "tie", None} if self.kind == "compare"
                       else set(self.labels) | {None})
            if value not in allowed:
                raise ValueError(f"answer must be one of {sorted(map(str, allowed))}")
            self.answers[index] = value
            self.answered[index] = True
            if all(self.answered):
                self.done.set()


class WebCollector:
    """A local web server asking one batch at a time."""

    def __init__(self, port: int = 0, title: str = "igtext judgments"):
        self.session: _Session | None = None
        self.title = title
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _json(self, status: int, obj) -> None:
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path in ("/", "/label", "/compare"):
                    body = PAGE.read_bytes()
                    self.send_response(200)
                    self.send_header("content-type", "text/html; charset=utf-8")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif self.path == "/favicon.ico":
                    self.send_response(204)
                    self.end_headers()
                elif self.path.startswith("/api/next"):
                    s = collector.session
                    self._json(200, s.next() if s else {"finished": True, "done": 0, "total": 0})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self):
                if self.path != "/api/answer":
                    return self._json(404, {"error": "not found"})
                try:
                    data = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                    collector.session.answer(int(data["index"]), data.get("answer"))
                except (ValueError, KeyError, TypeError, AttributeError) as e:
                    return self._json(400, {"error": str(e)})
                self._json(200, {"ok": True})

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def ask(self, kind: str, items: list, labels=None, timeout: float | None = None) -> list:
        self.session = _Session(kind, items, labels)
        self.session.done.wait(timeout)
        return list(self.session.answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class WebAnnotator:
    """The `Annotator` protocol over the web page: each call waits for a person's answers."""

    source = "person"

    def __init__(self, collector: WebCollector, labels: Sequence[str] | None,
                 annotator: str = "person", timeout: float | None = None):
        self.collector, self.labels = collector, labels
        self.annotator, self.timeout = annotator, timeout

    def compare(self, pairs):
        return self.collector.ask("compare", list(pairs), timeout=self.timeout)

    def label(self, items):
        answers = self.collector.ask("label", list(items), self.labels, timeout=self.timeout)
        return [(a, None) for a in answers]
