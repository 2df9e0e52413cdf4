"""A fault-injecting HTTP proxy for OpenAI-compatible servers (test and benchmark code).

It listens on 127.0.0.1 and forwards to an upstream server, or, with `upstream=None`,
answers every completion itself with a canned body (for measuring the client alone).
A seeded share of requests gets a fault instead:
  429      answered 429 with a Retry-After header
  500/503  (any status code) answered with that status
  stall    held open past the client's timeout, then closed
  truncate the upstream answer with its JSON cut in half
  reset    the connection closed with a TCP reset, no answer
`latency_s` delays every request. Counts of each outcome are in `counts`.
`strip="logprobs"` removes the log-probabilities from every answer (a server that gives
none); `strip="top_logprobs"` empties only the chat answers' top lists (a chat endpoint
that ignores `top_logprobs`).
"""
from __future__ import annotations

import http.client
import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("429", "500", "503", "stall", "truncate", "reset")

CANNED = {
    "chat": {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
             "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                          "message": {"role": "assistant", "content": "ok"}}],
             "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}},
    "completions": {"id": "x", "object": "text_completion", "created": 0, "model": "m",
                    "choices": [{"index": 0, "text": " ok", "finish_reason": "length",
                                 "logprobs": {"tokens": [" ok"], "token_logprobs": [-0.1],
                                              "text_offset": [0],
                                              "top_logprobs": [{" ok": -0.1, " no": -2.5}]}}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}},
    "models": {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "me"}]},
}


class FaultProxy:
    def __init__(self, upstream: str | None, fault_rate: float = 0.0, seed: int = 0,
                 faults=FAULTS, latency_s: float = 0.0, stall_s: float = 5.0,
                 retry_after: str = "0.1", canned: dict | None = None,
                 script: list[str | None] | None = None, strip: str | None = None):
        self.upstream = urlsplit(upstream) if upstream else None
        self.fault_rate, self.faults, self.latency_s = fault_rate, tuple(faults), latency_s
        self.stall_s, self.retry_after = stall_s, retry_after
        self.canned = canned or CANNED
        self.strip = strip
        self.rng = random.Random(seed)
        self.script = list(script or [])      # outcomes of the first requests, in order
        self.lock = threading.Lock()
        self.counts: Counter = Counter()
        self.bodies: list[bytes] = []            # every request body seen (for secret checks)
        self.headers_seen: list[dict] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True    # else delayed ACKs add ~40 ms to each answer

            def log_message(self, *a):           # quiet
                pass

            def do_GET(self):
                proxy._handle(self, b"")

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                proxy._handle(self, body)

        class Server(ThreadingHTTPServer):
            request_queue_size = 256          # the default backlog of 5 drops bursts of connects

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _pick(self) -> str | None:
        with self.lock:
            if self.script:
                return self.script.pop(0)
            if self.fault_rate and self.rng.random() < self.fault_rate:
                return self.rng.choice(self.faults)
            return None

    @staticmethod
    def _send(h, status: int, body: bytes, extra: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(body)))
        for k, v in (extra or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()

    def _handle(self, h, body: bytes) -> None:
        with self.lock:
            self.bodies.append(body)
            self.headers_seen.append(dict(h.headers))
        if self.latency_s:
            time.sleep(self.latency_s)
        fault = self._pick()
        with self.lock:
            self.counts[fault or "ok"] += 1
        if fault and fault.isdigit():
            err = json.dumps({"error": {"message": f"injected {fault}", "type": "fault"}}).encode()
            self._send(h, int(fault), err, {"retry-after": self.retry_after} if fault == "429" else None)
            return
        if fault == "stall":
            time.sleep(self.stall_s)
            h.close_connection = True
            return
        if fault == "reset":
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.close_connection = True
            h.connection.close()
            return
        status, data = self._forward(h, body)
        if self.strip and status == 200:
            data = self._stripped(data)
        if fault == "truncate":
            data = data[: max(1, len(data) // 2)]
        self._send(h, status, data)

    def _stripped(self, data: bytes) -> bytes:
        try:
            answer = json.loads(data)
        except ValueError:
            return data
        for choice in answer.get("choices", []) if isinstance(answer, dict) else []:
            if self.strip == "logprobs":
                choice["logprobs"] = None
            elif (choice.get("logprobs") or {}).get("content"):
                for token in choice["logprobs"]["content"]:
                    token["top_logprobs"] = []
        return json.dumps(answer).encode()

    def _forward(self, h, body: bytes) -> tuple[int, bytes]:
        if self.upstream is None:
            kind = ("chat" if "chat/completions" in h.path else
                    "models" if h.path.endswith("/models") else "completions")
            return 200, json.dumps(self.canned[kind]).encode()
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=600)
        headers = {k: v for k, v in h.headers.items()
                   if k.lower() in ("content-type", "authorization", "accept")}
        conn.request(h.command, h.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data
