"""`events.jsonl`: one JSON object per proposal, score, selection and checkpoint.

Every event carries the running LM call and token counts. The log is append-only and
flushed per event; a checkpoint records the byte offset it had reached, so `resume`
cuts off whatever a killed run wrote after its last checkpoint and replays from there.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from igtext.lm.budget import Usage


class RunLog:
    def __init__(self, path: str | os.PathLike, usage: Usage, truncate_at: int | None = None):
        self.path = Path(path)
        self.usage = usage
        self.listeners: list = []        # callables taking each event as it is written
        if truncate_at is not None and self.path.exists():
            with open(self.path, "r+b") as f:
                f.truncate(truncate_at)
        self._f = open(self.path, "a", encoding="utf-8")

    def emit(self, event: str, **fields) -> None:
        rec = {"event": event, "time": round(time.time(), 3), **fields,
               "lm_calls": self.usage.calls, "lm_calls_cached": self.usage.cached_calls,
               "lm_tokens": self.usage.tokens}
        self._f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self._f.flush()
        for listener in self.listeners:
            listener(rec)

    def offset(self) -> int:
        self._f.flush()
        return self._f.tell()

    def close(self) -> None:
        self._f.close()


def scored_hypotheses(events: list[dict]) -> list[dict]:
    """The latest full-scoring `score` event of every hypothesis, best objective first,
    each with its text (from the score event, or the proposal that made it)."""
    texts = {e["id"]: e["text"] for e in events
             if e.get("event") in ("propose", "score") and e.get("id") and e.get("text")}
    latest = {e["id"]: e for e in events if e.get("event") == "score" and e.get("complete")}
    ranked = sorted(latest.values(), key=lambda e: -e["objective"])
    return [{**e, "text": texts.get(e["id"], "")} for e in ranked]


def read_events(path: str | os.PathLike) -> tuple[list[dict], int]:
    """All readable events, and how many lines could not be read (a torn last line)."""
    events, bad = [], 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                bad += 1
    return events, bad
