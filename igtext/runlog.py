"""`events.jsonl`: one JSON object per proposal, score, selection and checkpoint.

Events are the typed records of `igtext.records`; every one carries the running LM call
and token counts. The log is append-only and
flushed per event; a checkpoint records the byte offset it had reached, so `resume`
cuts off whatever a killed run wrote after its last checkpoint and replays from there.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pydantic import ValidationError

from igtext.lm.budget import Usage
from igtext.records import Event, field_error, parse_event


class RunLog:
    def __init__(self, path: str | os.PathLike, usage: Usage, truncate_at: int | None = None):
        self.path = Path(path)
        self.usage = usage
        self.listeners: list = []        # callables taking each `Event` as it is written
        if truncate_at is not None and self.path.exists():
            with open(self.path, "r+b") as f:
                f.truncate(truncate_at)
        self._f = open(self.path, "a", encoding="utf-8")

    def emit(self, event: Event) -> None:
        rec = event.model_copy(update={
            "time": round(time.time(), 3), "lm_calls": self.usage.calls,
            "lm_calls_cached": self.usage.cached_calls, "lm_tokens": self.usage.tokens})
        self._f.write(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
        self._f.flush()
        for listener in self.listeners:
            listener(rec)

    def offset(self) -> int:
        self._f.flush()
        return self._f.tell()

    def close(self) -> None:
        self._f.close()


def read_events(path: str | os.PathLike) -> tuple[list[Event], list[str]]:
    """All readable events, and a note for each line that could not be read (a run killed
    mid-write leaves its last line cut short)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    events: list[Event] = []
    problems: list[str] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            rec = None
        if not isinstance(rec, dict) or "event" not in rec:
            last = all(not rest.strip() for rest in lines[n:])
            why = "the last line is cut short (a run killed mid-write?)" if last else \
                "not a JSON event"
            problems.append(f"events.jsonl:{n}: {why}; skipped")
            continue
        try:
            events.append(parse_event(rec))
        except ValidationError as e:
            problems.append(f"events.jsonl:{n}: a {rec['event']!r} event with "
                            f"{field_error(e)}; skipped")
    return events, problems
