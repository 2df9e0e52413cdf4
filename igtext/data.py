"""Frozen records that flow through the method: examples, tasks, hypotheses, scores."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from igtext.records import RunResult


@dataclass(frozen=True)
class Example:
    id: str
    input: str
    label: str | None = None


@dataclass(frozen=True)
class Task:
    """A labelled set D (`train`), a shifted set D' (`test`), and what to predict.

    `labels` is the closed label set for classification, or None for open-ended outputs.
    `world` names the simulated world that generated the task, if one did: its simulated
    person can then answer step-3 questions (`refresh.judge: simulated`).
    """
    name: str
    train: tuple[Example, ...]
    test: tuple[Example, ...]
    labels: tuple[str, ...] | None = None
    initial_hypothesis: str | None = None
    description: str = ""
    world: str | None = None

    @property
    def is_classification(self) -> bool:
        return self.labels is not None

    def to_dict(self) -> dict:
        return {
            "name": self.name, "description": self.description,
            "labels": list(self.labels) if self.labels is not None else None,
            "initial_hypothesis": self.initial_hypothesis,
            **({"world": self.world} if self.world else {}),
            "train": [_example_dict(e) for e in self.train],
            "test": [_example_dict(e) for e in self.test],
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> "Task":
        return cls(
            name=d["name"], description=d.get("description", ""),
            labels=tuple(d["labels"]) if d.get("labels") is not None else None,
            initial_hypothesis=d.get("initial_hypothesis"), world=d.get("world"),
            train=tuple(Example(**e) for e in d["train"]),
            test=tuple(Example(**e) for e in d["test"]),
        )


def _example_dict(e: Example) -> dict:
    d = {"id": e.id, "input": e.input}
    if e.label is not None:
        d["label"] = e.label
    return d


def hypothesis_id(text: str) -> str:
    """Ids are derived from the text, never assigned: the same z has the same id everywhere."""
    return "h" + hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True)
class Hypothesis:
    """A candidate instruction document z and how it was made."""
    text: str
    parents: tuple[str, ...] = ()
    operator: str = "given"          # given | initial | refine | crossover | simplify
    template_hash: str | None = None
    generation: int = 0

    @property
    def id(self) -> str:
        return hypothesis_id(self.text)

    def to_dict(self) -> dict:
        return {"id": self.id, "text": self.text, "parents": list(self.parents),
                "operator": self.operator, "template_hash": self.template_hash,
                "generation": self.generation}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Hypothesis":
        return cls(text=d["text"], parents=tuple(d.get("parents", ())),
                   operator=d.get("operator", "given"), template_hash=d.get("template_hash"),
                   generation=d.get("generation", 0))


@dataclass(frozen=True)
class Scored:
    """A hypothesis with its prior and its per-example log-likelihoods on D.

    `example_loglik` maps example id -> log M_L(y|x,z) (calibrated if the scorer calibrates);
    `example_correct` maps example id -> whether argmax_y M_L(y|x,z) equals the label.
    The objective estimate scales the mean log-likelihood to `n_total` examples, so scores
    on a minibatch and on the full set are comparable; with full coverage it is exact.
    """
    hypothesis: Hypothesis
    prior: float
    prior_parts: Mapping[str, float]
    example_loglik: Mapping[str, float]
    example_correct: Mapping[str, bool]
    n_total: int
    prior_weight: float = 1.0
    example_pred: Mapping[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.hypothesis.id

    @property
    def loglik(self) -> float:
        """Sum of log-likelihoods over the scored examples, scaled to all `n_total`."""
        n = len(self.example_loglik)
        if n == 0:
            return float("-inf")
        return sum(self.example_loglik.values()) * (self.n_total / n)

    @property
    def objective(self) -> float:
        return self.prior_weight * self.prior + self.loglik

    @property
    def accuracy(self) -> float | None:
        if not self.example_correct:
            return None
        return sum(self.example_correct.values()) / len(self.example_correct)

    @property
    def complete(self) -> bool:
        return len(self.example_loglik) >= self.n_total

    def to_dict(self) -> dict:
        return {"hypothesis": self.hypothesis.to_dict(), "prior": self.prior,
                "prior_parts": dict(self.prior_parts),
                "example_loglik": dict(self.example_loglik),
                "example_correct": dict(self.example_correct),
                "n_total": self.n_total, "prior_weight": self.prior_weight,
                "example_pred": dict(self.example_pred)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Scored":
        return cls(hypothesis=Hypothesis.from_dict(d["hypothesis"]), prior=d["prior"],
                   prior_parts=d["prior_parts"], example_loglik=d["example_loglik"],
                   example_correct=d["example_correct"], n_total=d["n_total"],
                   prior_weight=d.get("prior_weight", 1.0),
                   example_pred=d.get("example_pred", {}))


@dataclass(frozen=True)
class SearchResult:
    """What a search returns: the best hypothesis, every scored candidate (best first), and
    the run's `RunResult` record (what result.json holds)."""
    best: Scored
    candidates: tuple[Scored, ...]
    record: "RunResult"

    @property
    def train_accuracy(self) -> float | None:
        return self.record.train_accuracy

    @property
    def test_accuracy(self) -> float | None:
        return self.record.test_accuracy
