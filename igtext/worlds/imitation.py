"""What the simulated people of many worlds say, as data to imitate: label judgments
(z, x -> the person's label distribution) for the follower M_L, and comparisons (z_a vs z_b
-> the person's preference) for the prior.

Each record keeps its world and the kind of z it is about, so that an evaluation can report
kinds (thing, context, wrong rules, ...) separately. Only the worlds passed in are read:
training data is made from `splits.train_worlds()`, never from a held-out domain.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from igtext.worlds.generate import D_WORDINGS, SHIFTS, world_task
from igtext.worlds.hypotheses import KINDS, hypothesis_pool
from igtext.worlds.person import label_distribution, preference
from igtext.worlds.reading import Reader
from igtext.worlds.spec import World


@dataclass(frozen=True)
class WorldLabel:
    """One (z, x) of a world, with how its simulated person labels x under z."""
    domain: str
    kind: str                          # the kind of z (`hypotheses.KINDS`)
    z: str
    x: str
    labels: tuple[str, ...]
    distribution: dict[str, float]
    cross_worded: bool = False         # z's trait wordings and x's are disjoint sets

    @property
    def answer(self) -> str | None:
        """The person's label, or None where they only guess (no rule of z applies)."""
        top = max(self.distribution.values())
        best = [y for y, p in self.distribution.items() if p == top]
        return best[0] if len(best) == 1 else None

    def to_dict(self) -> dict:
        return {"domain": self.domain, "kind": self.kind, "z": self.z, "x": self.x,
                "labels": list(self.labels), "distribution": self.distribution,
                "cross_worded": self.cross_worded}


@dataclass(frozen=True)
class WorldComparison:
    """Two z's of a world and the probability its simulated person prefers the first."""
    domain: str
    z_a: str
    z_b: str
    p_a: float
    kinds: tuple[str, str]

    def to_dict(self) -> dict:
        return {"domain": self.domain, "z_a": self.z_a, "z_b": self.z_b, "p_a": self.p_a,
                "kinds": list(self.kinds)}


def _pools(world: World, seed: int, per_world: int) -> list[tuple[str, str]]:
    """z's of every kind, worded as in D and in the held-out wordings."""
    return [(kind, z) for kind, z, _ in _worded_pools(world, seed, per_world)]


def _worded_pools(world: World, seed: int, per_world: int) -> list[tuple[str, str, bool]]:
    """`_pools` with whether each z words traits as D does (False: held-out wordings)."""
    half = max(1, per_world // 2)
    return ([(k, z, k != "paraphrased") for k, z in hypothesis_pool(world, half, seed, D_WORDINGS)]
            + [(k, z, False) for k, z in hypothesis_pool(
                world, per_world - half, seed + 1, tuple(range(2, 3)),
                tuple(k for k in KINDS if k != "paraphrased"))])


def label_data(worlds: Sequence[World], n: int, seed: int = 0, kinds: Sequence[str] = KINDS,
               z_per_world: int = 60, x_per_z: int = 4,
               guesses: float = 0.2, cross_share: float = 0.0) -> list[WorldLabel]:
    """`n` label judgments spread evenly over `worlds`: z's of `kinds` (half worded as D,
    half in held-out wordings), each with `x_per_z` inputs drawn from D and from D' of all
    three shifts (so that under a context rule D' inputs, whose contexts moved, get the
    context's label, not the true one). About `guesses` of them are inputs no rule of z
    applies to (the person guesses uniformly); the rest are inputs z speaks about. For
    about `cross_share` of the z's, the inputs are only those worded unlike z (D's wordings
    against held-out ones: the case of a z* written from D labelling D'); the others draw
    from all inputs."""
    rng = random.Random(f"label-data:{seed}")
    out: list[WorldLabel] = []
    per_world = -(-n // max(1, len(worlds)))
    for w in worlds:
        reader = Reader(w)
        inputs = [(e.input, shift == "context") for shift in SHIFTS
                  for e in world_task(w, seed, n_train=40, n_test=40, shift=shift).test]
        inputs += [(e.input, True) for e in world_task(w, seed, n_train=60, n_test=0).train]
        unlike = {as_d: [i for i in inputs if i[1] != as_d] for as_d in (True, False)}
        pool = [(k, z, d) for k, z, d in _worded_pools(w, seed, z_per_world) if k in kinds]
        made = []
        while len(made) < per_world and pool:
            kind, z, z_as_d = rng.choice(pool)
            rules = reader.rules(z)
            drawn = inputs
            if cross_share and rng.random() < cross_share:
                drawn = unlike[z_as_d]
            seen = [(x, label_distribution(reader, z, x, rules=rules), x_as_d != z_as_d)
                    for x, x_as_d in rng.sample(drawn, min(len(drawn), 6 * x_per_z))]
            applies = [s for s in seen if len(set(s[1].values())) > 1]
            blind = [s for s in seen if len(set(s[1].values())) == 1]
            for _ in range(x_per_z):
                pick = blind if (rng.random() < guesses or not applies) and blind else applies
                if not pick:
                    break
                x, d, cross = pick.pop(rng.randrange(len(pick)))
                made.append(WorldLabel(w.domain, kind, z, x, w.labels, d, cross))
        out += made[:per_world]
    rng.shuffle(out)
    return out[:n]


def comparison_data(worlds: Sequence[World], n: int, seed: int = 0,
                    z_per_world: int = 60) -> list[WorldComparison]:
    """`n` pairs of z's of one world each, with the person's preference probability."""
    rng = random.Random(f"comparison-data:{seed}")
    out: list[WorldComparison] = []
    per_world = -(-n // max(1, len(worlds)))
    for w in worlds:
        reader = Reader(w)
        pool = _pools(w, seed, z_per_world)
        for _ in range(per_world):
            (ka, a), (kb, b) = rng.sample(pool, 2)
            out.append(WorldComparison(w.domain, a, b, preference(reader, a, b), (ka, kb)))
    rng.shuffle(out)
    return out[:n]


def rule_data(worlds: Sequence[World], n: int, seed: int = 0, none_share: float = 0.4,
              near_share: float = 0.5, **label_kwargs) -> list[WorldLabel]:
    """`n` judgments of one rule each, for M_L read rule by rule (`igtext.rulewise`): the
    z's of `label_data` cut into rules as that M_L cuts them, each rule with one input and
    what the person says under that rule alone, over the labels and "none" (the rule does
    not apply: the person would only guess). About `none_share` of them are "none", and
    about `near_share` of those are near misses: inputs of the class the rule names, or of
    the class whose traits it names, that lack every trait it names (the "none" a reader
    who labels by resemblance, not by z's words, gets wrong)."""
    from igtext.rulewise import none_answer, split_rules
    rng = random.Random(f"rule-data:{seed}")
    readers = {w.domain: Reader(w) for w in worlds}
    applies: list[WorldLabel] = []
    near: list[WorldLabel] = []
    blind: list[WorldLabel] = []
    for r in label_data(worlds, n, seed, **label_kwargs):
        reader = readers[r.domain]
        none = none_answer(r.labels)
        classes = {c.label for c in reader.present(r.x) if c.kind == "trait"}
        for rule in split_rules(r.z, r.labels):
            parsed = reader.rules(rule)
            d = label_distribution(reader, rule, r.x, rules=parsed)
            if len(set(d.values())) == 1:
                dist = {**dict.fromkeys(r.labels, 0.1 / len(r.labels)), none: 0.9}
                one = WorldLabel(r.domain, r.kind, rule, r.x, r.labels + (none,), dist,
                                 r.cross_worded)
                named = {p.label for p in parsed} | {c.label for p in parsed for c in p.concepts}
                (near if classes & named else blind).append(one)
            else:
                applies.append(WorldLabel(r.domain, r.kind, rule, r.x, r.labels + (none,),
                                          {**d, none: 0.0}, r.cross_worded))
    for pool in (applies, near, blind):
        rng.shuffle(pool)
    k_none = min(len(near) + len(blind), round(n * none_share))
    k_near = min(len(near), round(k_none * near_share))
    nones = near[:k_near] + blind[:k_none - k_near]
    nones += near[k_near:k_near + k_none - len(nones)]       # too few far ones: more near
    out = applies[:n - len(nones)] + nones
    rng.shuffle(out)
    return out
