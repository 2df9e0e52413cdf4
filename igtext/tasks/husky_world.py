"""The husky world's ground truth about people: a pool of hypotheses people might write,
and a simulated person with a known prior over them and a known way of labelling under z.

The simulated person knows what each breed looks like in any wording (that "sapphire
irises" are blue eyes), so a rule about the animal carries over to D'. Their prior is about
the kind of rule, not its facts (the likelihood on D judges those):
    s(z) = 4.5 * (rules about the animal's traits) - 4.5 * (rules about the background)
           - 0.06 * words(z)
and P(a preferred to b) = sigmoid(s(a) - s(b)) (Bradley-Terry). Labelling x under z: each
sentence of z that names one breed is a rule; the breed whose rules share the most cues
with x (x's traits read in both wordings) gets the label with probability ~0.9; with no
rule that applies, the person guesses uniformly.
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

from igtext.tasks.husky import BACKGROUNDS, BREEDS, TRAITS_TEST, TRAITS_TRAIN
from igtext.worlds.person import following

# (train wording index, test wording index) of the same trait, per breed
CONCEPTS = {
    "husky": [(0, 1), (1, 0), (2, 2), (3, 3), (4, 4)],
    "labrador": [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)],
    "dalmatian": [(0, 0), (1, 1), (2, 3), (3, 2), (4, 4)],
    "poodle": [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)],
}
STOP = set("a an and the of with in on to is are its it his her by from for as at be this that "
           "dog dogs has have look looks like which what if or not any one all each their then "
           "when name breed label".split())
FILLERS = ["Read the whole description carefully.", "Think about what each word means.",
           "Take your time before you answer.", "Each description is about one dog.",
           "Answer with the breed only."]
# Where a search in this world may start: a background rule (fits D, fails D'), a trait rule
# (fits D, carries over to D') and a rule with the traits swapped (fits nothing).
SEED_HYPOTHESES = (
    "A dog in deep snow is a husky. A dog on green grass is a labrador. A dog inside a fire "
    "station is a dalmatian. A dog on a velvet sofa is a poodle.",
    "A husky has pale blue eyes and thick grey and white fur. A labrador has a short yellow "
    "coat and floppy ears. A dalmatian has a white coat covered in black spots. A poodle has "
    "tightly curled fur and a pom-pom haircut.",
    "A husky has a short yellow coat. A labrador has tightly curled fur. A dalmatian has pale "
    "blue eyes. A poodle has a white coat covered in black spots.",
)
INTROS = ["To name the breed, look at the dog itself.", "Name the breed from the description.",
          "Decide which breed the dog is.", ""]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in STOP}


def _phrase_words(breed: str) -> list[set[str]]:
    """Each trait of `breed` as the words of both its wordings (what a person knows)."""
    return [_words(TRAITS_TRAIN[breed][i]) | _words(TRAITS_TEST[breed][j])
            for i, j in CONCEPTS[breed]]


TRAIT_WORDS = {b: set().union(*_phrase_words(b)) for b in BREEDS}
BACKGROUND_WORDS = {b: set().union(*(_words(p) for p in BACKGROUNDS[b])) for b in BREEDS}


@dataclass(frozen=True)
class Rule:
    breed: str
    cues: frozenset[str]
    kind: str            # animal | wrong | background | other


def parse_rules(z: str) -> list[Rule]:
    """Sentences of z that name exactly one breed, with their cue words."""
    rules = []
    for sentence in re.split(r"(?<=[.!?;\n])\s+", z):
        low = sentence.lower()
        named = [b for b in BREEDS if re.search(rf"\b{b}s?\b", low)]
        if len(named) != 1:
            continue
        cues = frozenset(_words(sentence) - set(BREEDS) - {b + "s" for b in BREEDS})
        breed = named[0]
        own = len(cues & TRAIT_WORDS[breed])
        other = max(len(cues & TRAIT_WORDS[b]) for b in BREEDS if b != breed)
        bg = max(len(cues & BACKGROUND_WORDS[b]) for b in BREEDS)
        kind = ("animal" if own > max(other, bg) and own else
                "wrong" if other > max(own, bg) else
                "background" if bg else "other")
        rules.append(Rule(breed, cues, kind))
    return rules


def prior_score(z: str) -> float:
    kinds = [r.kind for r in parse_rules(z)]
    animal = kinds.count("animal") + kinds.count("wrong")
    return 4.5 * animal - 4.5 * kinds.count("background") - 0.06 * len(z.split())


def understood(x: str) -> set[str]:
    """x's words, plus both wordings of every trait x mentions and every wording of the
    place it shows (a person knows that a pelt is fur and a snowdrift is snow)."""
    words = _words(x)
    for b in BREEDS:
        if any(p.lower() in x.lower() for p in BACKGROUNDS[b]):
            words |= BACKGROUND_WORDS[b]
        for (i, j), both in zip(CONCEPTS[b], _phrase_words(b)):
            if TRAITS_TRAIN[b][i].lower() in x.lower() or TRAITS_TEST[b][j].lower() in x.lower():
                words |= both
    return words


def label_distribution(z: str, x: str, follow: float = 0.9) -> dict[str, float]:
    """How the simulated person labels x while following z."""
    seen = understood(x)
    score = {b: 0 for b in BREEDS}
    for r in parse_rules(z):
        score[r.breed] += len(r.cues & seen)
    return following(score, follow)


class SimulatedPerson:
    """A seeded annotator with the known prior and labelling above."""

    source = "simulated"

    def __init__(self, seed: int = 0, annotator: str = "sim-0"):
        self.rng = random.Random(seed)
        self.annotator = annotator

    def compare(self, pairs: list[tuple[str, str]]) -> list[str]:
        """'a' or 'b' for each pair (z_a, z_b), drawn from the Bradley-Terry prior."""
        out = []
        for a, b in pairs:
            d = prior_score(a) - prior_score(b)
            out.append("a" if self.rng.random() < 1 / (1 + math.exp(-d)) else "b")
        return out

    def label(self, items: list[tuple[str, str]]) -> list[tuple[str, dict[str, float]]]:
        """(answer, distribution) for each (z, x)."""
        out = []
        for z, x in items:
            dist = label_distribution(z, x)
            answer = self.rng.choices(list(dist), list(dist.values()))[0]
            out.append((answer, dist))
        return out


def hypothesis_pool(n: int, seed: int = 0) -> list[str]:
    """Hypotheses of the kinds people write: right, partial, wrong and background rules,
    mixtures and generic ones, in varied lengths, worded with D's words or plain synonyms."""
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        kind = rng.choice(["animal", "animal", "partial", "wrong", "background", "mixed",
                           "generic"])
        breeds = list(BREEDS)
        rng.shuffle(breeds)
        if kind == "partial":
            breeds = breeds[:rng.choice((1, 2, 3))]
        sentences = []
        if kind in ("animal", "partial", "mixed", "wrong"):
            shift = breeds[1:] + breeds[:1]
            for b, other in zip(breeds, shift):
                src = other if kind == "wrong" else b
                k = rng.choice((1, 2))
                traits = rng.sample(TRAITS_TRAIN[src], k)
                sentences.append(f"A {b} has {' and '.join(traits)}.")
        if kind in ("background", "mixed"):
            for b in breeds[: rng.choice((2, 4))]:
                sentences.append(f"A dog {rng.choice(BACKGROUNDS[b])} is a {b}.")
        if kind == "generic":
            sentences.append(rng.choice(["Name the breed of the dog.",
                                         "Say which breed the dog is.",
                                         "Guess the breed from the description."]))
        rng.shuffle(sentences)
        parts = [rng.choice(INTROS)] + sentences + rng.sample(FILLERS, rng.choice((0, 1, 2)))
        z = " ".join(p for p in parts if p)
        if z not in seen:
            seen.add(z)
            out.append(z)
    return out
