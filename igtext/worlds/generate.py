"""Tasks from a world: D, where each thing's context predicts its class perfectly, and a
shifted D', where contexts are reassigned to other classes and/or traits are worded with
wordings D never uses.

D uses trait wordings 0 and 1 of the world file; the held-out wordings (2 and later) appear
only in D' (shift "wording" or "both"). A reader who matches D's words, or its contexts,
fails D'; a reader who knows what each class is like does not.
"""
from __future__ import annotations

import random

from igtext.data import Example, Task
from igtext.errors import InputError
from igtext.worlds.phrasing import article, capital, join, trait_style
from igtext.worlds.spec import World

SHIFTS = ("both", "context", "wording")
D_WORDINGS = (0, 1)
P_DISTRACTOR = 0.3

# Sentence frames: {a_thing} "a bird", {thing} "bird", {traits} joined, {ctx} the context
# phrase(s). Their words say nothing about the class.
FRAMES = {
    "noun": ("{A_thing} with {traits}, {ctx}.",
             "{Ctx}: {a_thing} with {traits}.",
             "This {thing} has {traits}. It was {ctx}.",
             "{A_thing} {ctx}. It has {traits}.",
             "{A_thing} {ctx}: {traits}."),
    "verb": ("{A_thing} {ctx} that {traits}.",
             "{Ctx}: {a_thing} that {traits}.",
             "This {thing} {traits}. It was {ctx}.",
             "{A_thing} {ctx}. It {traits}.",
             "{A_thing} {ctx}: {traits}."),
}


def world_task(world: World, seed: int = 0, n_train: int = 160, n_test: int = 160,
               shift: str = "both") -> Task:
    """A task from `world`; the same arguments always give the same task, and D depends
    only on (`world`, `seed`, `n_train`), so the three shifts of one seed share D.

    shift "context": D' reassigns contexts to other classes (a seeded derangement, the
    same for every kind of context) and words traits as D does; "wording": D' words traits
    with held-out wordings and keeps each class's own context; "both": both.
    """
    if shift not in SHIFTS:
        raise InputError(f"unknown shift {shift!r} (known: {', '.join(SHIFTS)})", field="shift")
    if n_train < 1 or n_test < 0:
        raise InputError("n_train must be >= 1 and n_test >= 0", field="n_train")
    labels, frames = world.labels, FRAMES[trait_style(world)]
    rng = random.Random(f"{world.domain}:{seed}:train")
    train = []
    for i in range(n_train):
        label = labels[i % len(labels)]
        text = describe(world, label, D_WORDINGS, label, frames, rng)
        train.append(Example(f"train-{i:04d}", text, label))
    rng.shuffle(train)

    rng = random.Random(f"{world.domain}:{seed}:test:{shift}")
    moved = derangement(labels, rng) if shift in ("context", "both") else dict(zip(labels, labels))
    test = []
    for i in range(n_test):
        label = labels[i % len(labels)]
        held = tuple(range(2, max(len(t) for t in world.traits[label])))
        wordings = held if shift in ("wording", "both") else D_WORDINGS
        text = describe(world, label, wordings, moved[label], frames, rng)
        test.append(Example(f"test-{i:04d}", text, label))
    rng.shuffle(test)
    return Task(name=world.domain, labels=labels, train=tuple(train), test=tuple(test),
                description=world.task, initial_hypothesis=capital(world.task) + ".",
                world=world.domain)


def describe(world: World, label: str, wordings: tuple[int, ...], context_of: str,
             frames: tuple[str, ...], rng: random.Random) -> str:
    """One input: 2-3 traits of `label`, each in one of `wordings` (those it has), the
    context values of class `context_of` (one per kind), in one of `frames`, sometimes
    with a distractor."""
    traits = world.traits[label]
    chosen = rng.sample(range(len(traits)), rng.choice((2, 3)))
    phrases = [traits[t][rng.choice([w for w in wordings if w < len(traits[t])])]
               for t in chosen]
    ctx = ", ".join(rng.choice(per_class[context_of]) for per_class in world.contexts.values())
    frame = rng.choice(frames)
    a_thing = article(world.thing)
    text = frame.format(traits=join(phrases), ctx=ctx, Ctx=capital(ctx), thing=world.thing,
                        a_thing=a_thing, A_thing=capital(a_thing))
    if rng.random() < P_DISTRACTOR:
        d = rng.choice(world.distractors)
        text = f"{text} {d}" if rng.random() < 0.5 else f"{d} {text}"
    return text


def derangement(labels: tuple[str, ...], rng: random.Random) -> dict[str, str]:
    """label -> another label, a permutation with no fixed point (uniform by rejection)."""
    while True:
        perm = list(labels)
        rng.shuffle(perm)
        if all(a != b for a, b in zip(labels, perm)):
            return dict(zip(labels, perm))
