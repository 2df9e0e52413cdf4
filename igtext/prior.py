"""M_prior(z): an LM-based estimate of how plausible a person finds z (log scale).

    M_prior(z) = judge_weight * log P("Yes" | judge prompt with z)       (normalised over Yes/No,
                                                                            `igtext.choice`)
               + lm_weight    * log P_LM(z | "instructions a person wrote:")
               - token_cost   * tokens(z)

The judge term asks the model whether z is a sensible instruction a person would write;
the other two are description-length terms, which need exact log-probabilities (a chat
or sampling server has only the judge). With all weights 0 the prior is 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from igtext.choice import Chooser, Question
from igtext.lm.base import LanguageModel, LogprobRequest
from igtext.prompts import Template


@dataclass(frozen=True)
class PriorWeights:
    judge_weight: float = 1.0
    lm_weight: float = 0.0
    token_cost: float = 0.0


class Prior:
    def __init__(self, lm: LanguageModel, judge: Template, text: Template, weights: PriorWeights,
                 labels: Sequence[str] | None = None, task_description: str = "",
                 chat: Template | None = None):
        self.lm, self.judge_t, self.text_t, self.w = lm, judge, text, weights
        self.vars = {"labels": list(labels or []), "task_description": task_description}
        self.chooser = Chooser(lm, chat)

    def score(self, zs: Sequence[str]) -> list[tuple[float, dict[str, float]]]:
        """(M_prior(z), its parts) for each z, one LM batch a term."""
        if not zs:
            return []
        judged = self.chooser.ask([Question(self.judge_t.render(z=z, **self.vars), ("Yes", "No"))
                                   for z in zs]) if self.w.judge_weight else []
        text: list = []
        if self.w.lm_weight or self.w.token_cost:
            head = self.text_t.render(**self.vars)
            text = self.lm.logprob([LogprobRequest(head, "\n" + z) for z in zs])
        out = []
        for i, z in enumerate(zs):
            parts: dict[str, float] = {}
            if judged:
                parts["judge_logp_yes"] = judged[i]["Yes"]
            if text:
                r = text[i]
                parts["lm_logp"] = r.total
                parts["tokens"] = float(len(r.token_logprobs))
            total = (self.w.judge_weight * parts.get("judge_logp_yes", 0.0)
                     + self.w.lm_weight * parts.get("lm_logp", 0.0)
                     - self.w.token_cost * parts.get("tokens", 0.0))
            out.append((total, parts))
        return out
