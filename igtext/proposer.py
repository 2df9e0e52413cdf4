"""The proposal model: LM-written edits to z, from the templates under `igtext/templates/`.

Operators: `initial` (write z from a sample of D), `refine` (fix z given examples it gets
wrong), `crossover` (merge two parents), `simplify` (shorten), `describe` (one sentence per
label from D's examples of that label, joined into z as "husky: ... labrador: ..."; one
request per label). All jobs of one search step go to the model in one batch. Output is cleaned and checked; empty, too short, garbled
or repetitive output is dropped and the reason counted.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from igtext.data import Hypothesis, Scored, Task
from igtext.errors import InputError
from igtext.lm.base import GenerationRequest, LanguageModel, describe
from igtext.prompts import OPERATORS, Template, load_template


@dataclass(frozen=True)
class Job:
    operator: str
    parents: tuple[Scored, ...] = ()
    sample_index: int = 0
    generation: int = 0


@dataclass(frozen=True)
class Proposal:
    job: Job
    hypothesis: Hypothesis | None     # None when the output was dropped
    dropped: str | None               # why it was dropped
    raw: str
    template_hash: str


DESCRIBE_TOKENS = 64      # one sentence per label
_PREAMBLE = re.compile(r"^\s*(?:here (?:are|is)[^\n:]*:|(?:new |improved |revised |combined )?"
                       r"instructions?\s*(?:[ab])?\s*:)\s*", re.IGNORECASE)


def clean_proposal(text: str, max_chars: int = 1200, min_words: int = 3) -> tuple[str | None, str | None]:
    """Return (clean text, None) or (None, reason it was dropped)."""
    t = text.replace("\r", "").strip()
    t = re.sub(r"^```[a-zA-Z]*\n?|\n?```$", "", t).strip()
    t = _PREAMBLE.sub("", t).strip()
    if not t:
        return None, "empty"
    if len(t) > max_chars:
        cut = t[:max_chars]
        end = max(cut.rfind(". "), cut.rfind(".\n"), cut.rfind("\n"))
        t = (cut[:end + 1] if end > max_chars // 2 else cut).strip()
    if len(t.split()) < min_words:
        return None, "too_short"
    letters = sum(ch.isalpha() for ch in t)
    if letters < 0.6 * len(t.replace(" ", "").replace("\n", "")):
        return None, "garbled"
    lines = [ln.strip().lower() for ln in t.splitlines() if ln.strip()]
    if len(lines) >= 4 and len(set(lines)) < 0.5 * len(lines):
        return None, "repetitive"
    words = t.lower().split()
    if len(words) >= 20 and Counter(words).most_common(1)[0][1] > 0.3 * len(words):
        return None, "repetitive"
    return t, None


class Proposer:
    def __init__(self, lm: LanguageModel, task: Task, templates: Mapping[str, Template] | None = None,
                 *, temperature: float = 0.8, top_p: float = 0.95, max_new_tokens: int = 160,
                 max_chars: int = 1200, n_examples: int = 8, n_errors: int = 4,
                 describe_examples: int = 6):
        self.lm, self.task = lm, task
        self.templates = {op: (templates or {}).get(op) or load_template(op) for op in OPERATORS}
        self.temperature, self.top_p = temperature, top_p
        self.max_new_tokens, self.max_chars = max_new_tokens, max_chars
        self.n_examples, self.n_errors = n_examples, n_errors
        self.describe_examples = describe_examples
        self._by_id = {e.id: e for e in task.train}

    def _vars(self, job: Job, rng: random.Random) -> dict:
        base = {"labels": list(self.task.labels or []), "task_description": self.task.description}
        if job.operator == "initial":
            sample = rng.sample(self.task.train, min(self.n_examples, len(self.task.train)))
            return {**base, "examples": [{"input": e.input, "label": e.label} for e in sample]}
        if job.operator == "crossover":
            return {**base, "z_a": job.parents[0].hypothesis.text,
                    "z_b": job.parents[1].hypothesis.text}
        parent = job.parents[0]
        if job.operator == "simplify":
            return {**base, "z": parent.hypothesis.text}
        wrong = sorted(i for i, ok in parent.example_correct.items() if not ok)
        if not wrong:   # nothing wrong: show the least likely examples instead
            wrong = sorted(parent.example_loglik, key=parent.example_loglik.get)[:self.n_errors]
        pick = rng.sample(wrong, min(self.n_errors, len(wrong)))
        errors = [{"input": self._by_id[i].input, "label": self._by_id[i].label,
                   "predicted": parent.example_pred.get(i, "?")} for i in pick]
        sample = rng.sample(self.task.train, min(self.n_examples // 2, len(self.task.train)))
        return {**base, "z": parent.hypothesis.text, "errors": errors,
                "examples": [{"input": e.input, "label": e.label} for e in sample]}

    def _describe_vars(self, job: Job, rng: random.Random) -> list[dict]:
        """The describe job's values for each label: a sample of D's examples of it."""
        base = {"labels": list(self.task.labels or []), "task_description": self.task.description}
        out = []
        for label in self.task.labels or ():
            mine = [e for e in self.task.train if e.label == label]
            sample = rng.sample(mine, min(self.describe_examples, len(mine)))
            out.append({**base, "label": label,
                        "examples": [{"input": e.input, "label": label} for e in sample]})
        return out

    def _request(self, job: Job, values: dict) -> GenerationRequest:
        prompt = self.templates[job.operator].render(**values)
        return GenerationRequest(messages=(("user", prompt),), max_new_tokens=self.max_new_tokens,
                                 temperature=self.temperature, top_p=self.top_p,
                                 sample_index=job.sample_index)

    def _fitted(self, job: Job, values: dict, context: int | None) -> GenerationRequest:
        """The job's request, with the examples and errors it shows cut from the end until
        the prompt and `max_new_tokens` fit the model's context; one that cannot fit even
        with one of each is refused, plainly."""
        req = self._request(job, values)
        while context and self.lm.count_tokens([req])[0] + self.max_new_tokens > context:
            longest = max(("examples", "errors"), key=lambda k: len(values.get(k) or []))
            if len(values.get(longest) or []) <= 1:
                raise InputError(
                    f"the {job.operator} prompt ({self.lm.count_tokens([req])[0]} tokens) and "
                    f"{self.max_new_tokens} new tokens do not fit the model's context of "
                    f"{context} tokens, even with one example; shorten the template, the "
                    f"task's inputs or proposer.max_new_tokens",
                    file=self.templates[job.operator].source, field="proposer")
            values = {**values, longest: values[longest][:len(values[longest]) // 2]}
            req = self._request(job, values)
        return req

    def propose(self, jobs: Sequence[Job], rng: random.Random) -> list[Proposal]:
        """Run all jobs in one LM batch. `rng` picks the examples shown in each prompt."""
        context = describe(self.lm).context_tokens
        reqs, spans = [], []
        for j in jobs:
            if j.operator == "describe":
                if not self.task.labels:
                    raise InputError("the describe operator needs a task with a label set",
                                     field="search.p_describe")
                values = self._describe_vars(j, rng)
                batch = [replace(self._fitted(j, v, context), sample_index=j.sample_index * 64 + i,
                                 max_new_tokens=min(self.max_new_tokens, DESCRIBE_TOKENS))
                         for i, v in enumerate(values)]
            else:
                batch = [self._fitted(j, self._vars(j, rng), context)]
            spans.append((len(reqs), len(reqs) + len(batch)))
            reqs += batch
        gens = self.lm.generate(reqs) if reqs else []
        out = []
        for job, (lo, hi) in zip(jobs, spans):
            tpl = self.templates[job.operator]
            if job.operator == "describe":
                raw = "\n".join(g.text for g in gens[lo:hi])
                text, why = self._assemble(gens[lo:hi])
            else:
                raw = gens[lo].text
                text, why = clean_proposal(raw, self.max_chars)
            hyp = None if text is None else Hypothesis(
                text=text, parents=tuple(p.id for p in job.parents), operator=job.operator,
                template_hash=tpl.hash, generation=job.generation)
            out.append(Proposal(job, hyp, why, raw, tpl.hash))
        return out

    def _assemble(self, gens) -> tuple[str | None, str | None]:
        """z from one description per label: each reply's first sentence, less a heading of
        its own ("husky:"), as "LABEL: description." on its own line."""
        lines = []
        for label, g in zip(self.task.labels, gens):
            text, why = clean_proposal(g.text, self.max_chars, min_words=2)
            if text is None:
                return None, why
            first = re.split(r"(?<=[.!?])\s|\n", text.strip(), maxsplit=1)[0].strip()
            first = re.sub(r"^(?:(?:an?|the)\s+)?" + re.escape(label) + r"(?:e?s)?\s*[:-]\s*",
                           "", first, flags=re.IGNORECASE).strip()
            if not first:
                return None, "too_short"
            lines.append(f"{label}: {first[0].upper()}{first[1:]}"
                         + ("" if first[-1] in ".!?" else "."))
        return clean_proposal("\n".join(lines), self.max_chars)
