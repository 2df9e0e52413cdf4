"""M_L read rule by rule: a person following z reads its rules one at a time, asks of each
whether it speaks about x and what it then says x is, and labels x by the rules that
apply; where none applies they guess.

z is cut into rules (`split_rules`: sentences; a line or sentence headed by a label, "A
robin: has a red breast. Sings at dawn.", keeps the sentences after it that name no other
label). For each rule r and input x the language model gives a distribution over the task's
labels and one more answer, "none" (the rule does not apply), from the prompt
`igtext/templates/likelihood_rule.j2` (there `z` is the one rule and `labels` the labels
and "none"). Each label's evidence is the sum over rules of its probability, and

    M_L(y | x, z) = softmax_y(STRENGTH * sum_r P(y | r, x))

so one rule that clearly applies gives its label about 0.9 on four labels, two agreeing
rules more, and no applicable rule a uniform guess. A fitted follower carries its own
`Calibration` (fitted on the validation worlds, `igtext fit-follower --calibrate`): a
log-odds added to each rule's "none" before its answer is renormalised (on a new task most
rules of z do not apply to a given x, more than in the follower's training data, and a
model reading unseen wordings over-reads rules), and its own STRENGTH. The prompts are
short (one rule, one input), so a small model can learn the reading (the follower, `igtext
fit-follower`), and a rule kept from one draft of z to the next is a cache hit in the next.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

from igtext.data import Example
from igtext.choice import Question
from igtext.likelihood import Judgment, Likelihood, log_normalise
from igtext.lm.base import LanguageModel
from igtext.prompts import Template

STRENGTH = 3.5          # log-odds one applicable rule adds to its label
MAX_RULES = 16          # rules read per z (the rest of a longer z is not read)
MAX_RULE_CHARS = 400    # a longer sentence is cut here
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
_HEADING = re.compile(r"^\s*(?:[-*\u2022]\s*|\d+[.)]\s*)?([^:.!?;\n]{1,60}):(\s|$)")


def none_answer(labels: Sequence[str]) -> str:
    """The extra answer for "this rule does not apply" (not one of the labels)."""
    taken = {y.strip().lower() for y in labels}
    return next(a for a in ("none", "no rule", "not said") if a not in taken)


def _names(text: str, labels: Sequence[str]) -> bool:
    low = text.lower()
    return any(re.search(r"(?<![a-z0-9])" + re.escape(y.strip().lower()) + r"(?:e?s)?(?![a-z0-9])",
                         low) for y in labels if y.strip())


def split_rules(z: str, labels: Sequence[str]) -> list[str]:
    """The rules of z, in order: its sentences, except that a sentence or line headed by a
    label ("A robin:" or "robin:") keeps the sentences after it that name no other label,
    up to the next heading or blank line. Empty pieces and pure list markers are dropped."""
    rules: list[str] = []
    block: list[str] | None = None          # the open label-headed block
    for line in z.splitlines() + [""]:
        if not line.strip():
            if block:
                rules.append(" ".join(block))
            block = None
            continue
        for sentence in _SENTENCE_END.split(line.strip()):
            sentence = sentence.strip()
            if not re.search(r"[^\W\d_]", sentence):
                continue
            head = _HEADING.match(sentence)
            if head and _names(head.group(1), labels):
                if block:
                    rules.append(" ".join(block))
                block = [sentence]
            elif block is not None and not _names(sentence, labels):
                block.append(sentence)
            else:
                if block:
                    rules.append(" ".join(block))
                    block = None
                rules.append(sentence)
    return [r[:MAX_RULE_CHARS] for r in rules[:MAX_RULES]]


def rules_reserved(labels: Sequence[str], seeds: Sequence[str] = ()) -> int:
    """The rules a budget reserves for one z it has not seen (a final z*): one per label and
    two more, or as many as the longest seed z has, at most MAX_RULES."""
    return min(MAX_RULES, max([len(labels) + 2] + [len(split_rules(s, labels)) for s in seeds]))


@dataclass(frozen=True)
class Calibration:
    """How one input's rule answers combine into M_L: `none_bias`, the log-odds added to each
    rule's "none" before its answer is renormalised, and `strength`, the log-odds one
    applicable rule adds to its label. The defaults are the bare reading."""
    none_bias: float = 0.0
    strength: float = STRENGTH

    def combine(self, answers: Sequence[dict[str, float]], labels: Sequence[str],
                none: str) -> dict[str, float]:
        """log M_L(y | x, z) over `labels` from P(answer | rule, x) of each rule of z."""
        lift = math.exp(self.none_bias)
        evidence = dict.fromkeys(labels, 0.0)
        for a in answers:
            total = sum(a[y] for y in labels) + lift * a[none]
            for y in labels:
                evidence[y] += a[y] / total if total > 0 else 0.0
        return log_normalise({y: self.strength * v for y, v in evidence.items()})

    @classmethod
    def from_meta(cls, meta: dict) -> "Calibration":
        """The calibration an adapter's `igtext_adapter.json` records (none: the bare one)."""
        c = meta.get("calibration") or {}
        return cls(**{k: float(c[k]) for k in ("none_bias", "strength") if k in c})


class RulewiseLikelihood:
    """M_L with the same interface as `Likelihood` (`judge`, `with_lm`, `with_labels`), read
    rule by rule (module docstring). Classification only: open-ended tasks need the whole
    z in one prompt."""

    reading = "rules"

    def __init__(self, lm: LanguageModel, template: Template, labels: Sequence[str],
                 chat: Template | None = None, calibration: Calibration = Calibration()):
        if not labels:
            raise ValueError("M_L read rule by rule needs a label set")
        self.lm, self.template, self.chat = lm, template, chat
        self.calibration = calibration
        self.labels = tuple(labels)
        self.none = none_answer(self.labels)
        self.options = self.labels + (self.none,)
        self._rule = Likelihood(lm, template, self.options, chat=chat)

    def with_lm(self, lm: LanguageModel) -> "RulewiseLikelihood":
        return RulewiseLikelihood(lm, self.template, self.labels, self.chat, self.calibration)

    def with_labels(self, labels: Sequence[str]) -> "RulewiseLikelihood":
        return RulewiseLikelihood(self.lm, self.template, labels, self.chat, self.calibration)

    def with_calibration(self, calibration: Calibration) -> "RulewiseLikelihood":
        return RulewiseLikelihood(self.lm, self.template, self.labels, self.chat, calibration)

    @staticmethod
    def continuation(answer: str) -> str:
        return Likelihood.continuation(answer)

    def prompt(self, rule: str, x: str) -> str:
        """The prompt that asks what one rule says about x."""
        return self._rule.prompt(rule, x)

    def rule_answers(self, rules: Sequence[str], xs: Sequence[str]) -> list[list[dict[str, float]]]:
        """P(answer | rule, x) over the labels and "none", as [rule][input], in one batch."""
        dists = iter(self._rule.chooser.ask([Question(self.prompt(r, x), self.options)
                                             for r in rules for x in xs]))
        return [[{o: math.exp(v) for o, v in next(dists).items()} for _ in xs] for _ in rules]

    def judge(self, z: str, examples: Sequence[Example]) -> list[Judgment]:
        """Label distributions for `examples` under z (raw; the calibrated one is the same:
        a rule that does not apply already says "none")."""
        rules = split_rules(z, self.labels)
        answers = self.rule_answers(rules, [e.input for e in examples])
        out = []
        for j, e in enumerate(examples):
            dist = self.calibration.combine([a[j] for a in answers], self.labels, self.none)
            gold = dist.get(e.label) if e.label is not None else None
            out.append(Judgment(e.id, dist, dist, gold, gold))
        return out
