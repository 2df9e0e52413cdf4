"""The simulated person of any world: a known prior over hypotheses and a known way of
labelling an input while following one. This generalises `igtext.tasks.husky_world`.

Prior (about the kind of rule, not its facts; the likelihood on D judges those):
    s(z) = 4.5 * (classes given a rule about traits: thing or wrong)
         - 4.5 * (classes given a rule about context)
         - 3.0 * (concepts assigned to two or more classes)
         - 0.06 * words(z)
and P(a preferred to b) = sigmoid(s(a) - s(b)) (Bradley-Terry). Classes are counted rather
than rules, so splitting one rule into several sentences earns nothing.

Labelling x under z: each class scores the number of concepts its rules share with the
concepts present in x (in any wording); the best classes share `follow` of the mass and
every class gets an equal share of the rest (label noise); with no rule that applies, the
person guesses uniformly. The person follows z, not the truth: under a context rule they
label by context, under a wrong rule they give the wrong label.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Sequence

from igtext.worlds.reading import Reader, Rule
from igtext.worlds.spec import World

TRAIT_RULE = 4.5
CONTEXT_RULE = -4.5
CONTRADICTION = -3.0
PER_WORD = -0.06


def prior_parts(reader: Reader, z: str, rules: list[Rule] | None = None) -> dict[str, float]:
    """The terms of s(z), each already weighted; s(z) is their sum."""
    rules = reader.rules(z) if rules is None else rules
    trait_classes = {r.label for r in rules if r.kind in ("thing", "wrong")}
    context_classes = {r.label for r in rules if r.kind == "context"}
    owners = defaultdict(set)
    for r in rules:
        for c in r.concepts:
            owners[c].add(r.label)
    contradictions = sum(len(labels) > 1 for labels in owners.values())
    return {"traits": TRAIT_RULE * len(trait_classes),
            "context": CONTEXT_RULE * len(context_classes),
            "contradictions": CONTRADICTION * contradictions,
            "length": PER_WORD * len(z.split())}


def prior_score(reader: Reader, z: str) -> float:
    """s(z): the simulated person's log-odds scale of plausibility."""
    return sum(prior_parts(reader, z).values())


def preference(reader: Reader, a: str, b: str) -> float:
    """P(the person prefers a to b) = sigmoid(s(a) - s(b))."""
    return 1 / (1 + math.exp(-(prior_score(reader, a) - prior_score(reader, b))))


def label_distribution(reader: Reader, z: str, x: str, follow: float = 0.9,
                       rules: list[Rule] | None = None) -> dict[str, float]:
    """How the person labels `x` while following `z` (pass `rules` to reuse a parse)."""
    labels = reader.world.labels
    rules = reader.rules(z) if rules is None else rules
    seen = reader.present(x)
    score = dict.fromkeys(labels, 0)
    for r in rules:
        score[r.label] += len(r.concepts & seen)
    return following(score, follow)


def following(score: dict[str, int], follow: float) -> dict[str, float]:
    """The label distribution of a person whose rules gave each label `score` matches: the
    best-matched labels share `follow`, the rest is spread evenly (label noise); with no
    match at all they guess uniformly."""
    labels = list(score)
    top = max(score.values())
    if top == 0:
        return {y: 1 / len(labels) for y in labels}
    winners = [y for y in labels if score[y] == top]
    rest = (1 - follow) / len(labels)
    return {y: rest + (follow / len(winners) if y in winners else 0.0) for y in labels}


class SimulatedPerson:
    """A seeded annotator of `world` with the known prior and labelling above; the same
    `compare`/`label` methods as every annotator (`igtext.judgments.annotators.Annotator`).

        >>> from igtext.worlds import load_world
        >>> p = SimulatedPerson(load_world("dogs"), seed=0)
        >>> p.label([("A husky has pale blue eyes.", "A dog with a cerulean stare.")])[0][1]["husky"]
        0.925
    """

    source = "simulated"

    def __init__(self, world: World, seed: int = 0, annotator: str = "sim-0",
                 follow: float = 0.9):
        self.reader = Reader(world)
        self.rng = random.Random(seed)
        self.annotator = annotator
        self.follow = follow

    def prior_score(self, z: str) -> float:
        return prior_score(self.reader, z)

    def label_distribution(self, z: str, x: str) -> dict[str, float]:
        return label_distribution(self.reader, z, x, self.follow)

    def compare(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        """'a' or 'b' for each pair (z_a, z_b), drawn from the Bradley-Terry prior."""
        scores = {z: prior_score(self.reader, z) for pair in pairs for z in pair}
        return ["a" if self.rng.random() < 1 / (1 + math.exp(scores[b] - scores[a])) else "b"
                for a, b in pairs]

    def label(self, items: Sequence[tuple[str, str]]) -> list[tuple[str, dict[str, float]]]:
        """(answer, distribution) for each (z, x); each distinct z is parsed once."""
        parsed = {z: self.reader.rules(z) for z, _ in items}
        out = []
        for z, x in items:
            dist = label_distribution(self.reader, z, x, self.follow, parsed[z])
            out.append((self.rng.choices(list(dist), list(dist.values()))[0], dist))
        return out


def rule_kind(reader: Reader, z: str) -> str:
    """What z's rules are about, as the person reads them: "thing" (only the thing itself:
    each class's own traits), "context", "wrong" (traits given to another class), "mixed"
    (more than one of these) or "none" (no rule the person can use)."""
    kinds = {r.kind for r in reader.rules(z)} - {"other"}
    if not kinds:
        return "none"
    return kinds.pop() if len(kinds) == 1 else "mixed"
