"""M_L(y | x, z): how likely a person following z gives label y to input x.

Read from a language model as the log-probability of the label after a prompt built from
z and x (`igtext/templates/likelihood.j2`), normalised over the label set for
classification: exact where the model gives continuation log-probabilities, else from a
chat answer's first token or from sampled answers (`igtext.choice`). All examples for one z
go to the model in one batch, z at the start of each prompt, so the backend (or a server's
prefix cache) runs the z part once.

Small models have a strong label bias (they name one label whatever z says). With
`calibrate=True` the label distribution is divided by the one the model gives for a
content-free input ("N/A") under the same z and renormalised (contextual calibration,
Zhao et al. 2021). Both the raw and the calibrated distributions are returned.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from igtext.choice import Chooser, Question, continuation, log_normalise, normalise_answer
from igtext.data import Example
from igtext.lm.base import LanguageModel
from igtext.prompts import Template

__all__ = ["Judgment", "Likelihood", "log_normalise", "normalise_answer"]


@dataclass(frozen=True)
class Judgment:
    """M_L's view of one example under one z."""
    example_id: str
    raw: dict[str, float] | None            # label -> normalised log-prob (classification)
    calibrated: dict[str, float] | None
    gold_loglik_raw: float | None           # log M_L(gold | x, z); None without a gold label
    gold_loglik_calibrated: float | None

    def predicted(self, calibrated: bool) -> str | None:
        dist = self.calibrated if calibrated else self.raw
        return max(dist, key=dist.get) if dist else None

    def gold_loglik(self, calibrated: bool) -> float | None:
        return self.gold_loglik_calibrated if calibrated else self.gold_loglik_raw


class Likelihood:
    def __init__(self, lm: LanguageModel, template: Template, labels: Sequence[str] | None,
                 content_free: str = "N/A", chat: Template | None = None):
        self.lm, self.template, self.chat = lm, template, chat
        self.labels = tuple(labels) if labels is not None else None
        self.content_free = content_free
        self.chooser = Chooser(lm, chat)

    def with_lm(self, lm: LanguageModel) -> "Likelihood":
        """The same M_L (template, labels, content-free input) read from another model."""
        return Likelihood(lm, self.template, self.labels, self.content_free, self.chat)

    def with_labels(self, labels: Sequence[str] | None) -> "Likelihood":
        """The same M_L over another label set (another task)."""
        return Likelihood(self.lm, self.template, labels, self.content_free, self.chat)

    def prompt(self, z: str, x: str) -> str:
        return self.template.render(z=z, input=x, labels=list(self.labels or []))

    continuation = staticmethod(continuation)

    def judge(self, z: str, examples: Sequence[Example]) -> list[Judgment]:
        """Label distributions (raw and calibrated) for `examples` under z, in one LM batch."""
        if self.labels is None:
            return self._judge_open(z, examples)
        labels = self.labels
        dists = self.chooser.ask([Question(self.prompt(z, x), labels)
                                  for x in [e.input for e in examples] + [self.content_free]])
        cf = dists[-1]
        out = []
        for e, raw in zip(examples, dists):
            cal = log_normalise({y: raw[y] - cf[y] for y in labels})
            out.append(Judgment(e.id, raw, cal,
                                 raw.get(e.label) if e.label is not None else None,
                                 cal.get(e.label) if e.label is not None else None))
        return out

    def _judge_open(self, z: str, examples: Sequence[Example]) -> list[Judgment]:
        """Open-ended outputs: the exact log-probability of the whole gold string."""
        gold = [e for e in examples if e.label is not None]
        res = self.chooser.gold_logprobs([self.prompt(z, e.input) for e in gold],
                                         [e.label for e in gold])
        by_id = {e.id: r for e, r in zip(gold, res)}
        return [Judgment(e.id, None, None, by_id.get(e.id), by_id.get(e.id)) for e in examples]

    def answers(self, z: str, examples: Sequence[Example], max_new_tokens: int = 32) -> list[str]:
        """Greedy answers of the model following z, first line only (open-ended tasks)."""
        return self.chooser.answers([self.prompt(z, e.input) for e in examples], max_new_tokens)
