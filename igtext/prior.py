"""M_prior(z): an LM-based estimate of how plausible a person finds z (log scale).

    M_prior(z) = judge_weight * log P(" Yes" | judge prompt with z)      (normalised over Yes/No)
               + lm_weight    * log P_LM(z | "instructions a person wrote:")
               - token_cost   * tokens(z)

The judge term asks the model whether z is a sensible instruction a person would write;
the other two are description-length terms. With all weights 0 the prior is 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from igtext.likelihood import log_normalise
from igtext.lm.base import LanguageModel, LogprobRequest
from igtext.prompts import Template


@dataclass(frozen=True)
class PriorWeights:
    judge_weight: float = 1.0
    lm_weight: float = 0.0
    token_cost: float = 0.0


class Prior:
    def __init__(self, lm: LanguageModel, judge: Template, text: Template, weights: PriorWeights,
                 labels: Sequence[str] | None = None, task_description: str = ""):
        self.lm, self.judge_t, self.text_t, self.w = lm, judge, text, weights
        self.vars = {"labels": list(labels or []), "task_description": task_description}

    def score(self, zs: Sequence[str]) -> list[tuple[float, dict[str, float]]]:
        """(M_prior(z), its parts) for each z, in one LM batch."""
        if not zs:
            return []
        reqs: list[LogprobRequest] = []
        if self.w.judge_weight:
            for z in zs:
                ctx = self.judge_t.render(z=z, **self.vars)
                reqs += [LogprobRequest(ctx, " Yes"), LogprobRequest(ctx, " No")]
        if self.w.lm_weight or self.w.token_cost:
            head = self.text_t.render(**self.vars)
            reqs += [LogprobRequest(head, "\n" + z) for z in zs]
        res = self.lm.logprob(reqs) if reqs else []
        out = []
        for i, z in enumerate(zs):
            parts: dict[str, float] = {}
            j = 0
            if self.w.judge_weight:
                parts["judge_logp_yes"] = log_normalise(
                    {"yes": res[2 * i].total, "no": res[2 * i + 1].total})["yes"]
                j = 2 * len(zs)
            if self.w.lm_weight or self.w.token_cost:
                r = res[j + i]
                parts["lm_logp"] = r.total
                parts["tokens"] = float(len(r.token_logprobs))
            total = (self.w.judge_weight * parts.get("judge_logp_yes", 0.0)
                     + self.w.lm_weight * parts.get("lm_logp", 0.0)
                     - self.w.token_cost * parts.get("tokens", 0.0))
            out.append((total, parts))
        return out
