"""What a run writes, as typed records shared by the writer (run, search, refresh) and the
readers (show, report, label, distil, eval/).

    result.json       `RunResult`, written once at the end
    checkpoint.json   `Checkpoint`, rewritten atomically after each generation
    events.jsonl      one `Event` per line: `RunStart`, `Resume`, `Propose`, `Score`,
                      `Halving`, `Select`, `BudgetExhausted`, `Refresh`, `CheckpointEvent`,
                      `Evaluate`, `Failed`, `RunEnd`

Each file carries `format`. A reader refuses, with one line naming the file, a run
directory written by a newer igtext, and says so when a file of an older format lacks
what this version needs. Files from before the field existed read as format 0 (the same
layout as format 1).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

from pydantic import BaseModel, ConfigDict, ValidationError

from igtext.errors import RunDirError

FORMAT = 1


class Record(BaseModel):
    # Readers ignore keys they do not know, so a run written by a later igtext of the same
    # format still reads.
    model_config = ConfigDict(frozen=True, extra="ignore")

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")


def _error(path: str, found: int, e: ValidationError) -> RunDirError:
    err = e.errors()[0]
    field = ".".join(str(x) for x in err["loc"]) or None
    older = (f" (this run directory is from an older igtext: format {found}, this one "
             f"writes format {FORMAT})" if found < FORMAT else "")
    return RunDirError(f"{err['msg']}{older}", file=path, field=field)


def check_format(data: Mapping, path: str) -> int:
    """The file's format; refuses one written by a newer igtext."""
    found = data.get("format", 0)
    if not isinstance(found, int) or found > FORMAT:
        raise RunDirError(f"written by a newer igtext (format {found}); this igtext reads "
                          f"formats up to {FORMAT}: upgrade it to read this run", file=path)
    return found


def read_record(cls: type[Record], path: str | Path) -> Any:
    """A record from a JSON file, with errors that name the file and field."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunDirError(f"unreadable ({e})", file=str(p)) from None
    return parse_record(cls, data, str(p))


def parse_record(cls: type[Record], data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise RunDirError("not a JSON object", file=path)
    found = check_format(data, path)
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise _error(path, found, e) from None


# ---- result.json --------------------------------------------------------------------------

class SplitAccuracy(Record):
    raw: Optional[float] = None
    calibrated: Optional[float] = None

    def value(self, mode: str) -> Optional[float]:
        """The accuracy in `mode` ("raw" or "calibrated"), else the raw one."""
        got = getattr(self, mode)
        return got if got is not None else self.raw


class BestRecord(Record):
    id: str
    text: str
    prior: float
    prior_parts: dict[str, float] = {}
    loglik: float
    objective: float
    operator: str = "given"
    parents: list[str] = []
    search_accuracy: Optional[float] = None


class Baseline(Record):
    """What z* is measured against: M_L with no z, M_L with the task's initial z, TF-IDF +
    logistic regression trained on D, or chance. `text` is the z read (None: none);
    `note` says why a figure is missing."""
    name: str
    text: Optional[str] = None
    accuracy: dict[str, SplitAccuracy] = {}
    note: Optional[str] = None
    predictions: list[Optional[str]] = []        # its label for each input of D', in order

    def line(self, mode: str) -> str:
        """One line for the terminal: "baseline NAME: D 0.250, D' 0.250 (note)" (untrusted
        text: the caller makes it safe)."""
        accs = [f"{name} " + ("n/a" if (v := self.accuracy[split].value(mode)) is None
                              else f"{v:.3f}")
                for split, name in (("train", "D"), ("test", "D'")) if split in self.accuracy]
        return (f"baseline {self.name}: {', '.join(accs) or '-'}"
                + (f" ({self.note})" if self.note else ""))


class RunResult(Record):
    """result.json: z* and how it was found, what it cost, and its accuracy on D and D'
    beside the baselines'."""
    format: int = FORMAT
    task: str
    model: str
    strategy: str
    seed: int
    best: BestRecord
    train_accuracy: Optional[float] = None
    test_accuracy: Optional[float] = None
    accuracy: dict[str, SplitAccuracy] = {}
    accuracy_mode: Literal["raw", "calibrated"] = "calibrated"
    lm_calls: int
    lm_calls_cached: int = 0
    lm_tokens: int = 0
    lm_dollars: float = 0.0
    logprob_method: str = ""
    token_count: str = ""
    api: Optional[dict[str, Any]] = None
    budget: dict[str, Any] = {}
    budget_exhausted: Optional[str] = None
    evaluation_note: Optional[str] = None
    adapters: dict[str, str] = {}
    likelihood_model: str = ""
    proposer_model: str = ""
    generations: int = 0
    hypotheses_scored: int = 0
    proposals_dropped: dict[str, int] = {}
    n_search_examples: int = 0
    templates: dict[str, str] = {}
    baselines: list[Baseline] = []
    test_predictions: list[Optional[str]] = []   # z*'s label for each input of D', in order
    wall_s: float = 0.0

    def verdict(self) -> str | None:
        """One plain line: whether z* beats the baselines on D' (None: nothing to compare)."""
        mine = self.test_accuracy
        if mine is None:
            return None
        others = [(b.name, b.accuracy["test"].value(self.accuracy_mode))
                  for b in self.baselines if "test" in b.accuracy]
        others = [(n, a) for n, a in others if a is not None]
        if not others:
            return None
        name, best = max(others, key=lambda t: t[1])
        if mine > best:
            return f"z* beats every baseline on D': {mine:.3f} against {best:.3f} ({name})"
        why = ("; z* adds nothing over asking the model with no instructions"
               if name == "no z" else "")
        return f"z* does NOT beat the baselines on D': {mine:.3f} against {best:.3f} ({name}){why}"


# ---- checkpoint.json ----------------------------------------------------------------------

class Checkpoint(Record):
    """checkpoint.json: the search state, usage so far, and how far the log had got."""
    format: int = FORMAT
    state: dict[str, Any]          # `SearchState.to_dict()`
    usage: dict[str, Any]          # `Usage.to_dict()`
    log_offset: int
    wall_s: float = 0.0
    api: Optional[dict[str, Any]] = None     # API counts of every process so far


def add_api_stats(a: Mapping | None, b: Mapping | None) -> dict | None:
    """API call counts of two processes of one run, added (`errors` by kind)."""
    if a is None or b is None:
        return dict(b or a) if (a or b) else None
    out = {k: a.get(k, 0) + b.get(k, 0) for k in set(a) | set(b) if k != "errors"}
    errors = dict(a.get("errors") or {})
    for k, v in (b.get("errors") or {}).items():
        errors[k] = errors.get(k, 0) + v
    return {**out, "errors": errors}


# ---- events.jsonl -------------------------------------------------------------------------

class Event(Record):
    """One line of events.jsonl. `time` and the running LM counts are set by `RunLog`."""
    event: str
    time: Optional[float] = None
    lm_calls: Optional[int] = None
    lm_calls_cached: Optional[int] = None
    lm_tokens: Optional[int] = None


class RunStart(Event):
    event: Literal["run_start"] = "run_start"
    format: int = 0                  # the writer sets FORMAT; logs from before it read as 0
    task: Optional[str] = None
    model: Optional[str] = None
    seed: Optional[int] = None
    strategy: Optional[str] = None
    n_train: Optional[int] = None
    n_test: Optional[int] = None
    n_search_examples: Optional[int] = None
    templates: dict[str, str] = {}
    logprob_method: Optional[str] = None
    scoring: Optional[str] = None    # how M_L's answers are read and their calls (choice.method_line)
    proposer_model: Optional[str] = None
    eval_reserve: dict[str, float] = {}
    # the fitted adapters the run starts with (a preset's among them): kind -> path, and
    # kind -> sha256 of the weights (12 hex digits); how M_L reads z (whole or rules)
    adapters: dict[str, str] = {}
    adapter_hashes: dict[str, str] = {}
    reading: Optional[str] = None


class Resume(Event):
    event: Literal["resume"] = "resume"
    generation: int = 0
    changed: dict[str, Any] = {}        # settings that differ from config.json (not the search's)


class Propose(Event):
    event: Literal["propose"] = "propose"
    generation: int = 0
    operator: str = "?"
    parents: list[str] = []
    template_hash: Optional[str] = None
    id: Optional[str] = None                # None: the output was dropped
    text: Optional[str] = None
    dropped: Optional[str] = None           # why
    raw: Optional[str] = None               # the model's output, when dropped


class Score(Event):
    event: Literal["score"] = "score"
    generation: int = 0
    id: str
    text: str = ""
    parents: list[str] = []
    operator: str = "?"
    template_hash: Optional[str] = None
    prior: Optional[float] = None
    prior_parts: dict[str, float] = {}
    loglik: Optional[float] = None
    objective: Optional[float] = None
    accuracy: Optional[float] = None
    n_scored: int = 0
    complete: bool = False
    example_loglik: dict[str, float] = {}
    wrong: Optional[list[str]] = None       # ids of D the hypothesis gets wrong


class Halving(Event):
    event: Literal["halving"] = "halving"
    generation: int = 0
    n_examples: int = 0
    kept: list[str] = []
    cut: list[str] = []


class Select(Event):
    event: Literal["select"] = "select"
    generation: int = 0
    population: list[str] = []
    best: Optional[str] = None
    best_objective: Optional[float] = None


class BudgetExhausted(Event):
    event: Literal["budget_exhausted"] = "budget_exhausted"
    generation: int = 0
    reason: str = ""


class Refresh(Event):
    event: Literal["refresh"] = "refresh"
    generation: int = 0
    judge: Optional[str] = None
    annotator: Optional[str] = None
    new_comparisons: int = 0
    new_labels: int = 0
    store: dict[str, Any] = {}
    adapters: dict[str, str] = {}
    fit: dict[str, Any] = {}


class CheckpointEvent(Event):
    event: Literal["checkpoint"] = "checkpoint"
    generation: int = 0
    api: Optional[dict[str, Any]] = None


class Evaluate(Event):
    event: Literal["evaluate"] = "evaluate"
    id: Optional[str] = None
    accuracy: dict[str, SplitAccuracy] = {}
    note: Optional[str] = None


class Failed(Event):
    """The run stopped on an error it could not go on from (`igtext resume` continues)."""
    event: Literal["failed"] = "failed"
    generation: int = 0
    error: str = ""
    message: str = ""


class RunEnd(Event):
    event: Literal["run_end"] = "run_end"
    best: Optional[str] = None
    objective: Optional[float] = None
    wall_s: Optional[float] = None


EVENTS: dict[str, type[Event]] = {
    cls.model_fields["event"].default: cls
    for cls in (RunStart, Resume, Propose, Score, Halving, Select, BudgetExhausted, Refresh,
                CheckpointEvent, Evaluate, Failed, RunEnd)}


def parse_event(data: Mapping) -> Event:
    """A typed event from one decoded line (an unknown kind reads as a plain `Event`);
    raises `ValidationError` for a line whose fields do not fit its kind."""
    return EVENTS.get(data.get("event"), Event).model_validate(data)


def field_error(e: ValidationError) -> str:
    """`field: message` of a validation error's first problem."""
    err = e.errors()[0]
    where = ".".join(str(x) for x in err["loc"])
    return f"field '{where}': {err['msg']}" if where else err["msg"]


__all__ = ["FORMAT", "Record", "RunResult", "BestRecord", "SplitAccuracy", "Checkpoint",
           "Event", "EVENTS", "parse_event", "read_record", "parse_record", "check_format",
           "field_error", "add_api_stats"]
