"""The search objective: M_prior(z) + sum over D of M_L(y | x, z), scored incrementally.

A `Scorer` keeps nothing between calls: pass the earlier `Scored` of a hypothesis and
only the examples it has not seen yet are sent to the model (successive halving scores
a hypothesis on growing prefixes of one fixed example order).
"""
from __future__ import annotations

from typing import Sequence

from igtext.data import Example, Hypothesis, Scored
from igtext.likelihood import Likelihood
from igtext.prior import Prior


class Scorer:
    def __init__(self, likelihood: Likelihood, prior: Prior, examples: Sequence[Example],
                 n_total: int, prior_weight: float = 1.0, calibrate: bool = False):
        self.likelihood, self.prior = likelihood, prior
        self.examples = tuple(examples)      # the scoring order; minibatches are its prefixes
        self.n_total, self.prior_weight, self.calibrate = n_total, prior_weight, calibrate

    def score(self, hyps: Sequence[Hypothesis], n_examples: int | None = None,
              previous: dict[str, Scored] | None = None) -> list[Scored]:
        """Score each hypothesis on the first `n_examples` examples (all by default)."""
        previous = previous or {}
        subset = self.examples[:n_examples] if n_examples else self.examples
        need_prior = [h for h in hyps if h.id not in previous]
        priors = dict(zip([h.id for h in need_prior],
                          self.prior.score([h.text for h in need_prior]) if self.prior_weight
                          else [(0.0, {})] * len(need_prior)))
        out = []
        for h in hyps:
            old = previous.get(h.id)
            prior, parts = (old.prior, dict(old.prior_parts)) if old else priors[h.id]
            ll = dict(old.example_loglik) if old else {}
            correct = dict(old.example_correct) if old else {}
            pred = dict(old.example_pred) if old else {}
            todo = [e for e in subset if e.id not in ll]
            if todo:
                for e, j in zip(todo, self.likelihood.judge(h.text, todo)):
                    ll[e.id] = j.gold_loglik(self.calibrate)
                    p = j.predicted(self.calibrate)
                    if p is not None:
                        pred[e.id] = p
                        correct[e.id] = p == e.label
            out.append(Scored(old.hypothesis if old else h, prior, parts, ll, correct, self.n_total,
                              self.prior_weight, pred))
        return out
