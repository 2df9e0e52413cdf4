"""Hypothesis-writing traces: what a person saw, and the z (or edit) they wrote.

One JSON object per line:

    {"task": "antonyms",                      # required: which task the person worked on
     "operator": "initial",                   # initial (write a z) | refine (edit z)
                                              # | describe (one label's description)
     "examples": [{"input": "sane", "label": "insane"}, ...],   # required, >= 1
     "z": null,                               # refine: the current z
     "errors": [{"input": ..., "label": ..., "predicted": ...}],  # refine: what z gets wrong
     "labels": null, "task_description": "",  # optional, as in task files
     "label": null,                           # describe: the label described (in labels)
     "target": "Write the opposite of the word.",  # required: what the person wrote
     "source": "instruction_induction", "annotator": "ii-3"}     # optional provenance

The proposal model is fine-tuned on the proposer's own prompt for the trace (the same
`igtext/templates/propose_*.j2` the search uses) followed by `target`.
"""
from __future__ import annotations

import json
import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

from igtext.errors import InputError
from igtext.files import json_value

OPERATORS = ("initial", "refine", "describe")


@dataclass(frozen=True)
class Trace:
    task: str
    examples: tuple[dict, ...]
    target: str
    operator: str = "initial"
    z: str | None = None
    errors: tuple[dict, ...] = ()
    labels: tuple[str, ...] | None = None
    task_description: str = ""
    label: str | None = None                        # describe: the label described
    source: str = ""
    annotator: str = ""
    line: int = field(default=0, compare=False)     # where it was read from

    def template_vars(self) -> dict:
        """The variables of the proposer's template for this trace's operator."""
        base = {"labels": list(self.labels or []), "task_description": self.task_description,
                "examples": [dict(e) for e in self.examples]}
        if self.operator == "refine":
            return {**base, "z": self.z, "errors": [dict(e) for e in self.errors]}
        if self.operator == "describe":
            return {**base, "label": self.label}
        return base

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("line")
        d["examples"], d["errors"] = list(self.examples), list(self.errors)
        return d


def _example(d, path: str, line: int, what: str, keys: tuple[str, ...]) -> dict:
    if not isinstance(d, dict) or not all(isinstance(d.get(k), str) for k in keys):
        raise InputError(f"each item must be an object with string {', '.join(keys)}",
                         file=path, line=line, field=what)
    return {k: d[k] for k in keys}


def parse_trace(obj, path: str, line: int) -> Trace:
    if not isinstance(obj, dict):
        raise InputError("a trace must be a JSON object", file=path, line=line)
    unknown = set(obj) - {f for f in Trace.__dataclass_fields__ if f != "line"}
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(sorted(unknown))}", file=path, line=line,
                         field=sorted(unknown)[0])
    for name in ("task", "target"):
        if not isinstance(obj.get(name), str) or not obj[name].strip():
            raise InputError("missing or empty (a string is required)", file=path, line=line,
                             field=name)
    op = obj.get("operator", "initial")
    if op not in OPERATORS:
        raise InputError(f"unknown operator {op!r} ({' or '.join(OPERATORS)})", file=path,
                         line=line, field="operator")
    exs = obj.get("examples")
    if not isinstance(exs, list) or not exs:
        raise InputError("a non-empty list of examples is required", file=path, line=line,
                         field="examples")
    examples = tuple(_example(e, path, line, "examples", ("input", "label")) for e in exs)
    errors = tuple(_example(e, path, line, "errors", ("input", "label", "predicted"))
                   for e in obj.get("errors") or [])
    if op == "refine" and not (isinstance(obj.get("z"), str) and obj["z"].strip()):
        raise InputError("a refine trace needs the current z", file=path, line=line, field="z")
    labels = obj.get("labels")
    if labels is not None and not (isinstance(labels, list) and
                                   all(isinstance(x, str) for x in labels)):
        raise InputError("must be a list of strings or null", file=path, line=line,
                         field="labels")
    if op == "describe" and not (isinstance(labels, list) and obj.get("label") in labels):
        raise InputError("a describe trace needs its label, one of its labels", file=path,
                         line=line, field="label")
    return Trace(task=obj["task"], examples=examples, target=obj["target"].strip(), operator=op,
                 z=obj.get("z"), errors=errors,
                 labels=tuple(labels) if labels is not None else None,
                 task_description=str(obj.get("task_description") or ""),
                 label=obj.get("label") if op == "describe" else None,
                 source=str(obj.get("source") or ""), annotator=str(obj.get("annotator") or ""),
                 line=line)


def read_traces(path: str | os.PathLike) -> list[Trace]:
    """Every trace of a JSONL file; the first bad line is an error naming it."""
    p = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", file=p) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=p) from None
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        out.append(parse_trace(json_value(line, p, n), p, n))
    if not out:
        raise InputError("no traces in the file", file=p)
    return out


def write_traces(traces, path: str | os.PathLike) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for t in traces:
            f.write(json.dumps(t.to_dict(), ensure_ascii=False) + "\n")


def traces_from_instruction_induction(root=None, tasks: list[str] | None = None,
                                      demos: int = 5, per_instruction: int = 3,
                                      seed: int = 0) -> list[Trace]:
    """`per_instruction` traces per human instruction, each with its own sample of
    `demos` demonstrations from the task's induce split (the instruction's author saw
    demonstrations of the same task)."""
    from igtext.tasks import instruction_induction as ii
    rng = random.Random(seed)
    out = []
    for name in tasks or ii.task_names(root):
        pool = ii.examples(name, "induce", root, seed)
        for k, text in enumerate(ii.annotations(name, root)):
            for _ in range(per_instruction):
                shown = rng.sample(pool, min(demos, len(pool)))
                out.append(Trace(task=name, target=text, source="instruction_induction",
                                 annotator=f"ii-{name}-{k}",
                                 examples=tuple({"input": e.input, "label": e.output}
                                                for e in shown)))
    return out
