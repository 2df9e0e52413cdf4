"""Who answers: a person at the terminal, an LM in a person's place, or a simulated person.

Every annotator has the same two batch-first methods:
    compare(pairs: [(z_a, z_b)]) -> ["a" | "b" | "tie"]
    label(items: [(z, x)]) -> [(answer, distribution or None)]
and the `source` and `annotator` ids the store records. The web page (`web.py`) collects
the same two kinds of judgment from a browser. A person's annotators (terminal, web) also
call `on_answer(kind, item, answer)` as each answer is given, so that `igtext judge` stores
it at once: Ctrl-C or a closed tab loses nothing.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional, Protocol, Sequence

from igtext.choice import Chooser, Question
from igtext.lm.base import LanguageModel
from igtext.prompts import load_template
from igtext.terminal import safe


class Annotator(Protocol):
    source: str
    annotator: str

    def compare(self, pairs: Sequence[tuple[str, str]]) -> list[str]: ...

    def label(self, items: Sequence[tuple[str, str]]) -> list[tuple[str | None, dict | None]]: ...


OnAnswer = Optional[Callable[[str, tuple, Any], None]]   # (kind, item, answer) as given


def ask(annotator: Annotator, pairs: Sequence[tuple[str, str]],
        items: Sequence[tuple[str, str]]) -> list:
    """Ask `annotator` to compare `pairs` and label `items`; the `Comparison`s and
    `LabelJudgment`s it answered (skipped questions are left out), ready for the store."""
    winners = annotator.compare(pairs) if pairs else []
    answers = annotator.label(items) if items else []
    got = ([judgment(annotator, "compare", p, w) for p, w in zip(pairs, winners)]
           + [judgment(annotator, "label", it, a) for it, a in zip(items, answers)])
    return [j for j in got if j is not None]


def judgment(annotator: Annotator, kind: str, item: tuple[str, str], answer):
    """One answer as the store keeps it (None for a skipped question): a compare answer is
    "a", "b" or "tie"; a label answer is (answer, distribution or None)."""
    from igtext.judgments.store import Comparison, LabelJudgment
    src, who = annotator.source, annotator.annotator
    if kind == "compare":
        return Comparison(item[0], item[1], answer, who, src) if answer else None
    ans, dist = answer
    return LabelJudgment(item[0], item[1], ans, dist, who, src) if ans or dist else None


def questions(hypotheses: Sequence[str], inputs: Sequence[str], kind: str, n: int,
              seed: int, run_dir: str | None = None) -> list[tuple[str, str]]:
    """`n` questions for `igtext judge`: random pairs of the run's hypotheses to compare
    (`kind` "compare"), or one of the 5 best with an input to label under it ("label")."""
    import random

    from igtext.errors import InputError
    if len(hypotheses) < (2 if kind == "compare" else 1):
        raise InputError("the run has too few scored hypotheses to ask about", file=run_dir)
    rng = random.Random(seed)
    if kind == "compare":
        return [tuple(rng.sample(list(hypotheses), 2)) for _ in range(n)]
    return [(rng.choice(list(hypotheses[:5])), rng.choice(list(inputs))) for _ in range(n)]


def task_context(task, n_examples: int = 3) -> dict:
    """What a person judging sees of the task: its name, labels and a few of D's examples."""
    return {"name": task.name, "labels": list(task.labels or []),
            "examples": [[e.input, e.label] for e in task.train[:n_examples]]}


class TerminalAnnotator:
    """Asks a person through `ask(prompt) -> str` (the CLI passes `input`)."""

    source = "person"

    def __init__(self, ask: Callable[[str], str], show: Callable[[str], None],
                 labels: Sequence[str] | None, annotator: str = "person",
                 on_answer: OnAnswer = None):
        self.ask, self.show, self.labels, self.annotator = ask, show, labels, annotator
        self.on_answer = on_answer or (lambda kind, item, answer: None)

    def compare(self, pairs):
        out = []
        for i, (a, b) in enumerate(pairs, start=1):
            self.show(f"\n[{i}/{len(pairs)}] Which instructions would you find more plausible?"
                      f"\n\n  A: {safe(a)}\n\n  B: {safe(b)}\n")
            while True:
                ans = self.ask("a / b / t(ie) / u(nsure) / s(kip) / q(uit): "
                               ).strip().lower()[:1]
                if ans in ("a", "b", "t", "u", "s", "q"):
                    break
            if ans == "q":
                break
            out.append({"a": "a", "b": "b", "t": "tie", "u": "tie", "s": None}[ans])
            self.on_answer("compare", (a, b), out[-1])
        return out

    def label(self, items):
        out = []
        choices = list(self.labels or [])
        for i, (z, x) in enumerate(items, start=1):
            menu = "  ".join(f"{k + 1}) {safe(c)}" for k, c in enumerate(choices))
            self.show(f"\n[{i}/{len(items)}] Follow these instructions:\n\n  {safe(z)}\n\n"
                      f"Input: {safe(x)}\n{menu}")
            ans = self.ask("answer (number or text; u if unsure, s to skip, q to quit): ").strip()
            if ans.lower() == "q":
                break
            if ans.lower() == "u" and choices:          # a uniform guess over the labels
                out.append((None, {c: 1 / len(choices) for c in choices}))
                self.on_answer("label", (z, x), out[-1])
                continue
            if ans.lower() == "s" or not ans:
                out.append((None, None))
                continue
            if ans.isdigit() and 1 <= int(ans) <= len(choices):
                ans = choices[int(ans) - 1]
            out.append((ans, None))
            self.on_answer("label", (z, x), out[-1])
        return out


class ProxyAnnotator:
    """An LM answers in a person's place, from its own templates (`igtext/templates/judge_*.j2`)."""

    source = "proxy"

    def __init__(self, lm: LanguageModel, labels: Sequence[str] | None,
                 annotator: str | None = None, tie_margin: float = 0.05):
        self.lm, self.labels = lm, list(labels or [])
        self.annotator = annotator or f"proxy:{lm.name}"
        self.tie_margin = tie_margin
        self.compare_t = load_template("judge_compare")
        self.chooser = Chooser(lm)
        self.label_t = load_template("judge_label")

    def compare(self, pairs):
        dists = self.chooser.ask([Question(self.compare_t.render(z_a=a, z_b=b), ("A", "B"))
                                  for a, b in pairs])
        out = []
        for dist in dists:
            d = dist["A"] - dist["B"]
            out.append("tie" if abs(d) < self.tie_margin else ("a" if d > 0 else "b"))
        return out

    def label(self, items):
        if not self.labels:
            raise ValueError("the proxy labels only tasks with a closed label set")
        dists = self.chooser.ask([Question(self.label_t.render(z=z, input=x, labels=self.labels),
                                           tuple(self.labels)) for z, x in items])
        out = []
        for logp in dists:
            dist = {y: math.exp(v) for y, v in logp.items()}
            out.append((max(dist, key=dist.get), dist))
        return out


def simulated_worlds() -> tuple[str, ...]:
    """The worlds with a simulated person: husky (`igtext.tasks.husky_world`) and every
    shipped world domain (`igtext.worlds`)."""
    from igtext.worlds import domains
    return ("husky",) + domains()


def simulated_for(task, seed: int = 0):
    """The simulated person of the world that generated `task` (`Task.world`), or an error
    naming the worlds that have one. A task's name decides nothing: a file task called
    "husky" has no simulated person."""
    from igtext.errors import InputError
    if task.world == "husky":
        from igtext.tasks.husky_world import SimulatedPerson
        return SimulatedPerson(seed=seed)
    if task.world in simulated_worlds():
        from igtext.worlds import load_world
        from igtext.worlds.person import SimulatedPerson
        return SimulatedPerson(load_world(task.world), seed=seed)
    raise InputError(f"no simulated annotator for task {task.name!r}: it was not generated "
                     f"by a simulated world (worlds: {', '.join(simulated_worlds())})",
                     field="refresh.judge")
