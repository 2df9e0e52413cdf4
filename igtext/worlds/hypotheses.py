"""Hypotheses z of every kind a person (or a proposer) might write about a world, each
tagged with its kind so that an evaluation can report kinds separately:

    thing         a rule about its own traits for every class
    context       a rule about its context for every class (fits D, fails D')
    wrong         traits swapped between classes (fits nothing)
    partial       thing rules for some classes only
    paraphrased   thing rules worded with wordings other than `wordings`
    long          many traits per class, an intro and filler sentences
    short         one trait per class, nothing else
    per_label     "A robin: has a red breast and a thin yellow bill. A crow: ..."
    mixed         thing rules for every class plus context rules for some
    contradictory thing rules plus the same trait given to a second class
    generic       no rule at all ("Name the species of the bird described.")
"""
from __future__ import annotations

import random

from igtext.worlds.generate import D_WORDINGS, derangement
from igtext.worlds.phrasing import article, capital, join, trait_style
from igtext.worlds.spec import World

KINDS = ("thing", "context", "wrong", "partial", "paraphrased", "long", "short", "per_label",
         "mixed", "contradictory", "generic")
RULES = {
    "noun": ("{A_label} has {traits}.",
             "{A_thing} with {traits} is {a_label}.",
             "If the {thing} has {traits}, answer {label}."),
    "verb": ("{A_label} {thing} {traits}.",
             "If the {thing} {traits}, answer {label}.",
             "When {a_thing} {traits}, label it {label}."),
}
CONTEXT_RULES = ("{A_thing} {ctx} is {a_label}.",
                 "If the {thing} is {ctx}, answer {label}.",
                 "Answer {label} for any {thing} {ctx}.")
FILLERS = ("Read the whole description carefully.", "Take your time before you answer.",
           "Each description is about one {thing}.", "Go by what the text says.",
           "Give exactly one answer per description.")
INTROS = ("Look at the {thing} itself.", "Read each description of a {thing} closely.",
          "{Task}.")
GENERIC = ("{Task}.", "Read about the {thing} and give its label.",
           "Decide which class the {thing} belongs to.", "Guess from the description.")


def hypothesis_pool(world: World, n: int, seed: int = 0, wordings: tuple[int, ...] = D_WORDINGS,
                    kinds: tuple[str, ...] = KINDS) -> list[tuple[str, str]]:
    """`n` distinct (kind, z), kinds drawn uniformly from `kinds`; trait phrases use the
    wording indices `wordings` (D's by default), except "paraphrased" which uses the
    others. Deterministic for the same arguments. A kind with few distinct z's (generic)
    stops being drawn once exhausted; if every kind is, fewer than `n` come back."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown hypothesis kinds {sorted(unknown)} (known: {KINDS})")
    rng = random.Random(f"{world.domain}:{seed}:hypotheses")
    maker = _Maker(world, rng, wordings)
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    misses = dict.fromkeys(kinds, 0)
    while len(out) < n and any(m < 50 for m in misses.values()):
        kind = rng.choice([k for k in kinds if misses[k] < 50])
        z = getattr(maker, kind)()
        if z in seen:
            misses[kind] += 1
            continue
        seen.add(z)
        out.append((kind, z))
    return out


class _Maker:
    """One method per kind, each returning one z."""

    def __init__(self, world: World, rng: random.Random, wordings: tuple[int, ...]):
        self.world, self.rng, self.wordings = world, rng, wordings
        self.style = trait_style(world)
        a_thing = article(world.thing)
        self.names = {"thing": world.thing, "a_thing": a_thing, "A_thing": capital(a_thing),
                      "Task": capital(world.task)}

    # -- pieces --

    def phrases(self, label: str, k: int, wordings: tuple[int, ...] | None = None) -> list[str]:
        traits = self.world.traits[label]
        use = wordings if wordings is not None else self.wordings
        out = []
        for t in self.rng.sample(range(len(traits)), min(k, len(traits))):
            choices = [w for w in use if w < len(traits[t])] or [0]
            out.append(traits[t][self.rng.choice(choices)])
        return out

    def rule(self, label: str, traits: list[str]) -> str:
        frame = self.rng.choice(RULES[self.style])
        return frame.format(traits=join(traits), label=label, a_label=article(label),
                            A_label=capital(article(label)), **self.names)

    def context_rule(self, label: str) -> str:
        ctx = ", ".join(self.rng.choice(values[label]) for values in self.world.contexts.values())
        return self.rng.choice(CONTEXT_RULES).format(ctx=ctx, label=label,
                                                     a_label=article(label), **self.names)

    def classes(self) -> list[str]:
        labels = list(self.world.labels)
        self.rng.shuffle(labels)
        return labels

    def text(self, sentences: list[str], intro: bool = True, fillers: int = 0) -> str:
        head = [self.rng.choice(INTROS).format(**self.names)] if intro and self.rng.random() < 0.5 else []
        tail = [f.format(**self.names) for f in self.rng.sample(FILLERS, fillers)]
        return " ".join(head + sentences + tail)

    # -- kinds --

    def thing(self) -> str:
        return self.text([self.rule(y, self.phrases(y, self.rng.choice((1, 2))))
                          for y in self.classes()])

    def context(self) -> str:
        return self.text([self.context_rule(y) for y in self.classes()])

    def wrong(self) -> str:
        moved = derangement(self.world.labels, self.rng)
        return self.text([self.rule(y, self.phrases(moved[y], self.rng.choice((1, 2))))
                          for y in self.classes()])

    def partial(self) -> str:
        some = self.classes()[:self.rng.randrange(1, len(self.world.labels))]
        return self.text([self.rule(y, self.phrases(y, self.rng.choice((1, 2)))) for y in some])

    def paraphrased(self) -> str:
        most = max(len(t) for ts in self.world.traits.values() for t in ts)
        others = tuple(w for w in range(most) if w not in self.wordings)
        return self.text([self.rule(y, self.phrases(y, self.rng.choice((1, 2)), others))
                          for y in self.classes()])

    def long(self) -> str:
        return self.text([self.rule(y, self.phrases(y, self.rng.choice((3, 4))))
                          for y in self.classes()], intro=True, fillers=self.rng.choice((2, 3)))

    def short(self) -> str:
        return " ".join(self.rule(y, self.phrases(y, 1)) for y in self.classes())

    def per_label(self) -> str:
        verb = "" if self.style == "verb" else "has "
        return self.text([f"{capital(article(y))}: {verb}{join(self.phrases(y, self.rng.choice((2, 3))))}."
                          for y in self.classes()])

    def mixed(self) -> str:
        labels = self.classes()
        rules = [self.rule(y, self.phrases(y, self.rng.choice((1, 2)))) for y in labels]
        rules += [self.context_rule(y) for y in labels[:self.rng.randrange(2, len(labels) + 1)]]
        self.rng.shuffle(rules)
        return self.text(rules)

    def contradictory(self) -> str:
        labels = self.classes()
        traits = {y: self.phrases(y, self.rng.choice((1, 2))) for y in labels}
        a, b = labels[0], labels[1]
        traits[b] = traits[b] + [traits[a][0]]       # a's trait given to b as well
        return self.text([self.rule(y, traits[y]) for y in labels])

    def generic(self) -> str:
        return self.rng.choice(GENERIC).format(**self.names)
