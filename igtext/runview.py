"""A read-only view of a run directory, finished, running or killed: what `show`, `diff`,
`lineage` and `report` are made from.

It reads whatever is readable and says what was not: a torn last line of `events.jsonl` (a
run killed mid-write) is skipped with a warning, a missing `result.json` means the run has
not finished. A directory with no readable events at all is an error.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from igtext.errors import RunDirError
from igtext.records import (Checkpoint, Event, Propose, Refresh, RunEnd, RunResult, RunStart,
                            Score, Select, check_format, parse_record)
from igtext.rundir import RunDir
from igtext.runlog import read_events


@dataclass(frozen=True)
class Draft:
    """One hypothesis of the run, with its latest score (full scoring preferred)."""
    id: str
    text: str
    generation: int                   # the generation that first proposed or scored it
    operator: str
    parents: tuple[str, ...]
    template_hash: str | None
    prior: float | None = None
    prior_parts: Mapping[str, float] = field(default_factory=dict)
    loglik: float | None = None
    objective: float | None = None
    accuracy: float | None = None
    complete: bool = False
    n_scored: int = 0                  # examples the score is over (beam: a minibatch first)
    example_loglik: Mapping[str, float] = field(default_factory=dict)
    wrong: tuple[str, ...] = ()
    current: bool = True               # scored under the models the run has now (a step-3
                                       # refresh leaves earlier scores under older models)

    @property
    def scored(self) -> bool:
        return self.objective is not None

    @property
    def partial(self) -> bool:
        """Scored on a minibatch only: its numbers are not comparable with full scores."""
        return self.scored and not self.complete


@dataclass(frozen=True)
class GenerationStat:
    """The state after a generation's selection."""
    generation: int
    best: str | None
    objective: float | None
    prior: float | None
    loglik: float | None
    population: tuple[str, ...]
    scored_so_far: int
    lm_calls: int | None
    lm_tokens: int | None
    time: float | None


@dataclass(frozen=True)
class LineageNode:
    draft: Draft
    parents: tuple["LineageNode", ...]
    missing_parents: tuple[str, ...] = ()   # ids named as parents but not in the log
    repeated: bool = False                  # an ancestor already shown on another branch


@dataclass(frozen=True)
class RunView:
    root: Path
    events: tuple[Event, ...]
    drafts: Mapping[str, Draft]
    generations: tuple[GenerationStat, ...]
    config: Mapping | None
    task: Mapping | None
    result: RunResult | None
    warnings: tuple[str, ...]

    @property
    def finished(self) -> bool:
        return self.result is not None

    @property
    def start(self) -> RunStart:
        """The run_start event (an empty one if the log lost it)."""
        return next((e for e in self.events if isinstance(e, RunStart)), RunStart())

    @property
    def last(self) -> Event:
        return self.events[-1]

    @property
    def usage(self) -> RunResult | Event:
        """Where the LM calls and tokens used are read: the result, else the last event."""
        return self.result or self.last

    @property
    def dropped(self) -> list[Propose]:
        """The proposals left out (unusable output: empty, a copy, too long, ...), each with
        why and the model's raw output."""
        return [e for e in self.events if isinstance(e, Propose) and e.id is None]

    @property
    def refreshes(self) -> list[Refresh]:
        return [e for e in self.events if isinstance(e, Refresh)]

    def ranked(self, current: bool = False) -> list[Draft]:
        """Fully scored drafts, best objective first; `current`: only those scored under the
        models the run ended with (after its last step-3 refresh), whose objectives compare."""
        done = [d for d in self.drafts.values() if d.complete and (d.current or not current)]
        return sorted(done, key=lambda d: (-d.objective, d.id))

    def hypotheses(self) -> list[Draft]:
        """Every fully scored draft with a text, best first (what `igtext judge` asks about)."""
        return [d for d in self.ranked() if d.text]

    def best(self) -> Draft | None:
        """z* of a finished run; else the best at the last selection (scores of one model:
        a step-3 refresh rescores the population), else the best full score so far."""
        if self.result:
            return self.drafts.get(self.result.best.id)
        if self.generations and self.generations[-1].best in self.drafts:
            return self.drafts[self.generations[-1].best]
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def elapsed(self) -> float | None:
        """Wall seconds: the result's, else from the first to the last event."""
        if self.result:
            return self.result.wall_s
        times = [e.time for e in self.events if e.time is not None]
        return round(times[-1] - times[0], 1) if len(times) > 1 else None

    def draft(self, draft_id: str) -> Draft:
        """A draft by id or unique id prefix; unknown ids are an error naming the run."""
        if draft_id in self.drafts:
            return self.drafts[draft_id]
        hits = [d for k, d in self.drafts.items() if k.startswith(draft_id)]
        if len(hits) == 1:
            return hits[0]
        what = "is ambiguous" if hits else "is not in this run"
        raise RunDirError(f"hypothesis id {draft_id!r} {what} ({len(self.drafts)} known; "
                          f"`igtext show` lists them)", file=str(self.root))

    def lineage(self, draft_id: str) -> LineageNode:
        """The ancestry tree of a draft: each node with the operator and template that made it."""
        shown: set[str] = set()

        def node(d: Draft) -> LineageNode:
            if d.id in shown:                 # crossovers share ancestors: one subtree each
                return LineageNode(d, (), (), repeated=True)
            shown.add(d.id)
            known = [p for p in d.parents if p in self.drafts]
            return LineageNode(d, tuple(node(self.drafts[p]) for p in known),
                               tuple(p for p in d.parents if p not in self.drafts))
        return node(self.draft(draft_id))

    def best_path(self) -> list[Draft]:
        """The distinct bests, in the order the search found them."""
        path: list[Draft] = []
        for g in self.generations:
            if g.best and g.best in self.drafts and (not path or path[-1].id != g.best):
                path.append(self.drafts[g.best])
        best = self.best()
        if best and (not path or path[-1].id != best.id):
            path.append(best)
        return path

    def examples(self) -> dict[str, Mapping]:
        """The task's examples by id, in task order (empty if task.json is unreadable)."""
        if not self.task:
            return {}
        return {e["id"]: e for split in ("train", "test") for e in self.task.get(split, [])}


def _read_json(path: Path, warnings: list[str]) -> dict | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        warnings.append(f"{path.name} is unreadable ({e}); left out")
        return None


def _read_record(cls, path: Path, warnings: list[str]):
    """A run record, or None with a warning if it is unreadable (a newer format is an
    error: nothing shown from it could be trusted)."""
    data = _read_json(path, warnings)
    if not isinstance(data, dict):
        return None
    check_format(data, str(path))
    try:
        return parse_record(cls, data, str(path))
    except RunDirError as e:
        warnings.append(f"{e}; left out")
        return None


def _drafts(events: list[Event], checkpoint: Checkpoint | None) -> dict[str, Draft]:
    first_gen: dict[str, int] = {}
    made: dict[str, Propose] = {}
    for e in events:
        if isinstance(e, (Propose, Score)) and e.id:
            first_gen.setdefault(e.id, e.generation)
            if isinstance(e, Propose):
                made.setdefault(e.id, e)
    latest: dict[str, Score] = {}
    at: dict[str, int] = {}
    for n, e in enumerate(events):
        if isinstance(e, Score):
            prev = latest.get(e.id)
            if prev is None or e.complete or not prev.complete:
                latest[e.id], at[e.id] = e, n
    current = _current(events, at)
    saved = checkpoint.state.get("scored", {}) if checkpoint else {}
    out = {}
    for i, gen in first_gen.items():
        s, p = latest.get(i), made.get(i)
        src = s or p
        per = (s.example_loglik if s else None) or saved.get(i, {}).get("example_loglik", {})
        wrong = s.wrong if s else None
        if wrong is None:
            wrong = sorted(k for k, ok in saved.get(i, {}).get("example_correct", {}).items()
                           if not ok)
        out[i] = Draft(id=i, text=src.text or (p.text if p else None) or "", generation=gen,
                       operator=src.operator or "?", parents=tuple(src.parents),
                       template_hash=src.template_hash, prior=s.prior if s else None,
                       prior_parts=s.prior_parts if s else {},
                       loglik=s.loglik if s else None, objective=s.objective if s else None,
                       accuracy=s.accuracy if s else None, complete=bool(s and s.complete),
                       n_scored=s.n_scored if s else 0, example_loglik=per,
                       wrong=tuple(wrong), current=i in current)
    return out


def _current(events: list[Event], at: Mapping[str, int]) -> set[str]:
    """Ids whose latest score is under the run's latest models: all without a refresh; else
    those scored after the last refresh event, and the population it rescored (scored
    between the last selection and that event)."""
    last = max((n for n, e in enumerate(events) if isinstance(e, Refresh)), default=None)
    if last is None:
        return set(at)
    select = max((n for n, e in enumerate(events[:last]) if isinstance(e, Select)),
                 default=-1)
    return {i for i, n in at.items() if n > select}


def _generations(events: list[Event]) -> list[GenerationStat]:
    """One row per selection, with the best's score as it stood then (a later step-3
    refresh rescores drafts under refitted models)."""
    out: list[GenerationStat] = []
    latest: dict[str, Score] = {}
    for e in events:
        if isinstance(e, Score) and e.complete:
            latest[e.id] = e
        if not isinstance(e, Select):
            continue
        d = latest.get(e.best or "")
        stat = GenerationStat(e.generation, e.best, e.best_objective,
                              d.prior if d else None, d.loglik if d else None,
                              tuple(e.population), len(latest), e.lm_calls, e.lm_tokens, e.time)
        if out and out[-1].generation == stat.generation:
            out[-1] = stat                 # a resumed run replays the generation it was in
        else:
            out.append(stat)
    return out


def load_run(run_dir: str | os.PathLike) -> RunView:
    """Read a run directory; raises `RunDirError` if there is nothing readable to show."""
    rd = RunDir(Path(run_dir))
    if not rd.root.is_dir():
        raise RunDirError("no such run directory", file=str(rd.root))
    if not rd.events.exists():
        raise RunDirError("not a run directory (no events.jsonl)", file=str(rd.root))
    events, problems = read_events(rd.events)
    warnings = [f"{p}; shown from the readable part" for p in problems]
    if not events:
        raise RunDirError("events.jsonl has no readable event", file=str(rd.events))
    start = next((e for e in events if isinstance(e, RunStart)), None)
    if start is not None:
        check_format({"format": start.format}, str(rd.events))
    result = _read_record(RunResult, rd.result, warnings)
    if result is None and not any(isinstance(e, RunEnd) for e in events):
        warnings.append("no result.json: the run is still going, or was killed "
                        "(`igtext resume` continues it)")
    for p in (rd.config, rd.task):
        if not p.exists():
            warnings.append(f"{p.name} is missing (an incomplete run directory); "
                            f"shown without it")
    checkpoint = _read_record(Checkpoint, rd.checkpoint, warnings)
    drafts = _drafts(events, checkpoint)
    return RunView(root=rd.root, events=tuple(events), drafts=drafts,
                   generations=tuple(_generations(events)),
                   config=_read_json(rd.config, warnings), task=_read_json(rd.task, warnings),
                   result=result, warnings=tuple(warnings))
