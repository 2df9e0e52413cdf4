"""The judgment store: what people (or their stand-ins) said about hypotheses, in SQLite.

Two kinds of judgment:
  comparison  two hypotheses, which one is more plausible (a, b or tie)
  label       a hypothesis z and an input x, the answer (and/or a distribution over answers)
              given by someone following z
Each has an annotator id, a source (person, proxy, simulated) and a time. WAL mode and
a busy timeout make it safe under several writers; imports are validated in full before
one transaction writes them, so a bad file leaves the store unchanged.

JSONL format, one judgment a line:
  {"kind": "comparison", "z_a": "...", "z_b": "...", "winner": "a"|"b"|"tie",
   "annotator": "ann-1", "source": "person", "time": 1764000000.0}
  {"kind": "label", "z": "...", "x": "...", "answer": "husky",
   "distribution": {"husky": 0.9, "poodle": 0.1}, "annotator": "...", "source": "...", "time": ...}
Instead of the texts, `a_id`/`b_id`/`z_id` may name hypotheses of a run (`igtext judgments
import --run RUNDIR`); an id no hypothesis has is an error.
"""
from __future__ import annotations

import json
import math
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from igtext.data import hypothesis_id
from igtext.errors import InputError

SOURCES = ("person", "proxy", "simulated")
WINNERS = ("a", "b", "tie")


@dataclass(frozen=True)
class Comparison:
    z_a: str
    z_b: str
    winner: str
    annotator: str
    source: str
    time: float = field(default_factory=time.time)

    @property
    def id_a(self) -> str:
        return hypothesis_id(self.z_a)

    @property
    def id_b(self) -> str:
        return hypothesis_id(self.z_b)


@dataclass(frozen=True)
class LabelJudgment:
    z: str
    x: str
    answer: str | None
    distribution: Mapping[str, float] | None
    annotator: str
    source: str
    time: float = field(default_factory=time.time)

    @property
    def z_id(self) -> str:
        return hypothesis_id(self.z)


SCHEMA = """
CREATE TABLE IF NOT EXISTS comparisons (
    rowid INTEGER PRIMARY KEY, id_a TEXT, id_b TEXT, z_a TEXT NOT NULL, z_b TEXT NOT NULL,
    winner TEXT NOT NULL CHECK (winner IN ('a', 'b', 'tie')), annotator TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('person', 'proxy', 'simulated')), time REAL);
CREATE TABLE IF NOT EXISTS labels (
    rowid INTEGER PRIMARY KEY, z_id TEXT, z TEXT NOT NULL, x TEXT NOT NULL, answer TEXT,
    distribution TEXT, annotator TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('person', 'proxy', 'simulated')), time REAL);
"""


class JudgmentStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=60000")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add(self, judgments: Iterable[Comparison | LabelJudgment]) -> int:
        items = list(judgments)
        for j in items:
            _check(j)
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for j in items:
                if isinstance(j, Comparison):
                    self._db.execute(
                        "INSERT INTO comparisons (id_a, id_b, z_a, z_b, winner, annotator, "
                        "source, time) VALUES (?,?,?,?,?,?,?,?)",
                        (j.id_a, j.id_b, j.z_a, j.z_b, j.winner, j.annotator, j.source, j.time))
                else:
                    self._db.execute(
                        "INSERT INTO labels (z_id, z, x, answer, distribution, annotator, "
                        "source, time) VALUES (?,?,?,?,?,?,?,?)",
                        (j.z_id, j.z, j.x, j.answer,
                         json.dumps(dict(j.distribution)) if j.distribution else None,
                         j.annotator, j.source, j.time))
        return len(items)

    def remove(self, j: Comparison | LabelJudgment) -> int:
        """Delete the stored rows equal to `j` (an answer taken back); how many."""
        with self._db:
            if isinstance(j, Comparison):
                cur = self._db.execute(
                    "DELETE FROM comparisons WHERE z_a=? AND z_b=? AND winner=? AND annotator=? "
                    "AND source=? AND time=?",
                    (j.z_a, j.z_b, j.winner, j.annotator, j.source, j.time))
            else:
                cur = self._db.execute(
                    "DELETE FROM labels WHERE z=? AND x=? AND answer IS ? AND annotator=? "
                    "AND source=? AND time=?", (j.z, j.x, j.answer, j.annotator, j.source, j.time))
        return cur.rowcount

    def comparisons(self) -> list[Comparison]:
        rows = self._db.execute("SELECT z_a, z_b, winner, annotator, source, time "
                                "FROM comparisons ORDER BY rowid")
        return [Comparison(*r) for r in rows]

    def labels(self) -> list[LabelJudgment]:
        rows = self._db.execute("SELECT z, x, answer, distribution, annotator, source, time "
                                "FROM labels ORDER BY rowid")
        return [LabelJudgment(z, x, a, json.loads(d) if d else None, ann, s, t)
                for z, x, a, d, ann, s, t in rows]

    def counts(self) -> dict[str, int]:
        return {"comparisons": self._db.execute("SELECT COUNT(*) FROM comparisons").fetchone()[0],
                "labels": self._db.execute("SELECT COUNT(*) FROM labels").fetchone()[0]}

    def export_jsonl(self, path: str | Path) -> int:
        n = 0
        with open(path, "w", encoding="utf-8") as f:
            for c in self.comparisons():
                f.write(json.dumps({"kind": "comparison", **asdict(c)}, ensure_ascii=False) + "\n")
                n += 1
            for lj in self.labels():
                d = asdict(lj)
                d["distribution"] = dict(lj.distribution) if lj.distribution else None
                f.write(json.dumps({"kind": "label", **d}, ensure_ascii=False) + "\n")
                n += 1
        return n

    def import_jsonl(self, path: str | Path, known: Mapping[str, str] | None = None) -> int:
        """Validate every line, then add them all in one transaction (or none)."""
        return self.add(read_jsonl(path, known))


def _check(j) -> None:
    if j.source not in SOURCES:
        raise InputError(f"source must be one of {', '.join(SOURCES)}", field="source")
    if isinstance(j, Comparison) and j.winner not in WINNERS:
        raise InputError(f"winner must be one of {', '.join(WINNERS)}", field="winner")


def read_jsonl(path: str | Path, known: Mapping[str, str] | None = None) -> list:
    """Parse and validate a judgment file; `known` maps hypothesis ids to texts."""
    from igtext.files import json_value, read_text

    p = str(path)
    out = []
    for n, line in enumerate(read_text(path, "judgment file").splitlines(), start=1):
        if not line.strip():
            continue
        rec = json_value(line, p, n)
        if not isinstance(rec, dict):
            raise InputError("each line must be a JSON object", file=p, line=n)

        def need_str(key: str, allow_none: bool = False):
            v = rec.get(key)
            if v is None and allow_none:
                return None
            if not isinstance(v, str) or not v.strip():
                raise InputError("must be a non-empty string", file=p, line=n, field=key)
            return v

        def text(text_key: str, id_key: str) -> str:
            if rec.get(text_key) is not None:
                return need_str(text_key)
            hid = rec.get(id_key)
            if hid is None:
                raise InputError(f"needs {text_key} or {id_key}", file=p, line=n, field=text_key)
            if known is None or hid not in known:
                raise InputError(f"unknown hypothesis {hid!r}", file=p, line=n, field=id_key)
            return known[hid]

        kind = rec.get("kind")
        source = rec.get("source")
        if source not in SOURCES:
            raise InputError(f"must be one of {', '.join(SOURCES)}", file=p, line=n, field="source")
        annotator = need_str("annotator")
        t = rec.get("time", time.time())
        if not isinstance(t, (int, float)) or isinstance(t, bool):
            raise InputError("must be a number (seconds since 1970)", file=p, line=n, field="time")
        if kind == "comparison":
            winner = rec.get("winner")
            if winner not in WINNERS:
                raise InputError(f"must be one of {', '.join(WINNERS)}", file=p, line=n,
                                 field="winner")
            out.append(Comparison(text("z_a", "a_id"), text("z_b", "b_id"), winner, annotator,
                                  source, float(t)))
        elif kind == "label":
            answer = need_str("answer", allow_none=True)
            dist = rec.get("distribution")
            if dist is not None:
                if (not isinstance(dist, dict) or not dist or
                        not all(isinstance(v, (int, float)) and v >= 0 for v in dist.values())
                        or not math.isclose(sum(dist.values()), 1.0, abs_tol=1e-3)):
                    raise InputError("must map answers to probabilities summing to 1",
                                     file=p, line=n, field="distribution")
            if answer is None and dist is None:
                raise InputError("needs answer or distribution", file=p, line=n, field="answer")
            out.append(LabelJudgment(text("z", "z_id"), need_str("x"), answer, dist, annotator,
                                     source, float(t)))
        else:
            raise InputError("must be 'comparison' or 'label'", file=p, line=n, field="kind")
    return out
