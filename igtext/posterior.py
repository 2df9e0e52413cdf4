"""A weighted set of hypotheses instead of one: the posterior over z's.

The objective of z is log M_prior(z) + sum log M_L(y|x,z), i.e. an unnormalised log
posterior. Keeping the top k z's by objective and weighting them by exp(objective) gives a
posterior over those z's; labelling x' by the mixture sum_z w_z M_L(y|x',z) is the posterior
predictive. With every hypothesis kept, an exact likelihood, and M_prior(z) = -KL(delta_z ||
p_ref) = log p_ref(z) (`ReferencePrior`), this is exactly Bayes' rule; the test on an
enumerable world checks it. Where the weighted z's disagree on x', the prediction is
flagged, and abstains below a chosen agreement.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from igtext.data import Example, Scored


@dataclass(frozen=True)
class Posterior:
    texts: tuple[str, ...]
    ids: tuple[str, ...]
    weights: tuple[float, ...]           # sum to 1

    @classmethod
    def from_objectives(cls, items: Sequence[tuple[str, str, float]], k: int | None = None,
                        temperature: float = 1.0, min_weight: float = 0.0) -> "Posterior":
        """From (id, text, objective): the top `k` (all if None), weighted by
        exp(objective / temperature), normalised; z's whose weight is below `min_weight` are
        then left out (each moves the mixture's probabilities by less than its weight; the
        best z stays whatever its weight) and the rest normalised again."""
        if not items:
            raise ValueError("no hypotheses to weight")
        from scipy.special import softmax
        ranked = sorted(items, key=lambda t: (-t[2], t[0]))[:k or None]
        weights = softmax([o / temperature for _, _, o in ranked])
        kept = [(t, float(w)) for n, (t, w) in enumerate(zip(ranked, weights))
                if w >= min_weight or n == 0]                  # the MAP z always stays
        norm = sum(w for _, w in kept)
        return cls(tuple(t for (_, t, _), _ in kept), tuple(i for (i, _, _), _ in kept),
                   tuple(w / norm for _, w in kept))

    @classmethod
    def from_scored(cls, scored: Sequence[Scored], k: int | None = None,
                    temperature: float = 1.0) -> "Posterior":
        return cls.from_objectives([(s.id, s.hypothesis.text, s.objective) for s in scored
                                    if s.complete], k, temperature)

    def entropy(self) -> float:
        return -sum(w * math.log(w) for w in self.weights if w > 0)

    def predict(self, likelihood, examples: Sequence[Example], calibrated: bool = False,
                abstain_below: float = 0.0) -> list["MixturePrediction"]:
        """The posterior predictive for each example (classification tasks)."""
        per_z = [likelihood.judge(z, examples) for z in self.texts]
        out = []
        for n, e in enumerate(examples):
            dists = [{y: math.exp(v) for y, v in
                      (js[n].calibrated if calibrated else js[n].raw).items()} for js in per_z]
            out.append(mix(e.id, dists, self.weights, abstain_below))
        return out


@dataclass(frozen=True)
class MixturePrediction:
    example_id: str
    probs: Mapping[str, float]          # sum_z w_z P(y | x, z)
    label: str | None                   # None when it abstains
    agreement: float                    # weight of the z's whose own answer is the mixture's
    disagree: bool                      # some z with weight answers otherwise


def mix(example_id: str, dists: Sequence[Mapping[str, float]], weights: Sequence[float],
        abstain_below: float = 0.0) -> MixturePrediction:
    labels = list(dists[0])
    probs = {y: sum(w * d[y] for w, d in zip(weights, dists)) for y in labels}
    best = max(labels, key=lambda y: probs[y])
    agree = sum(w for w, d in zip(weights, dists) if max(d, key=d.get) == best)
    return MixturePrediction(example_id, probs, None if agree < abstain_below else best, agree,
                             agree < 1 - 1e-12)


def coverage_accuracy(preds: Sequence[MixturePrediction],
                      examples: Sequence[Example]) -> dict:
    """Share answered, accuracy on what was answered, on everything (abstain = wrong), and
    of the posterior predictive's most probable label on everything (no abstention)."""
    gold = {e.id: e.label for e in examples}
    answered = [p for p in preds if p.label is not None]
    right = sum(p.label == gold.get(p.example_id) for p in answered)
    argmax = sum(max(p.probs, key=p.probs.get) == gold.get(p.example_id) for p in preds)
    return {"n": len(preds), "coverage": len(answered) / len(preds) if preds else None,
            "accuracy_answered": right / len(answered) if answered else None,
            "accuracy_all": right / len(preds) if preds else None,
            "accuracy_predictive": argmax / len(preds) if preds else None,
            "flagged": sum(p.disagree for p in preds)}


class ReferencePrior:
    """M_prior(z) = -KL(delta_z || p_ref) = log p_ref(z), for a reference distribution over
    an enumerable set of hypotheses (the Bayesian reading of the objective)."""

    def __init__(self, reference: Mapping[str, float]):
        total = sum(reference.values())
        self.logp = {z: math.log(p / total) for z, p in reference.items()}

    def score(self, zs: Sequence[str]) -> list[tuple[float, dict[str, float]]]:
        return [(self.logp[z], {"log_p_ref": self.logp[z]}) for z in zs]
