"""How the simulated people write hypotheses, as traces to imitate (`igtext.traces`): for the
describe operator, shown a few of D's inputs of one label, the person writes one sentence
about the thing itself, naming the traits those inputs share in the words they use ("A
husky has pale blue eyes and a thick double coat."), never their context.

    igtext traces worlds --out TRACES.jsonl [--n 2000]  (training worlds only)

The proposer fitted on these (`igtext train-proposer`) learns to pick out what examples of
one label have in common and to say it as a rule about the thing; `splits.train_worlds()`
are the only worlds read, so held-out domains stay unseen.
"""
from __future__ import annotations

import random
from collections import Counter
from typing import Sequence

from igtext.traces import Trace
from igtext.worlds.generate import world_task
from igtext.worlds.phrasing import article, capital, join, trait_style
from igtext.worlds.reading import Reader, normal
from igtext.worlds.spec import World

MOST_TRAITS = 4
SHOWN = 6             # inputs of one label per trace (the search's proposer.describe_examples)


def describe_target(reader: Reader, label: str, inputs: Sequence[str],
                    most: int = MOST_TRAITS) -> str | None:
    """What the person writes about `label` from `inputs`: its traits that most of them
    show (at least two of them, where there are two; at most `most`), each in the
    wording the inputs use most; None if they share none."""
    world = reader.world
    counts: Counter = Counter()
    wording: dict = {}
    for x in inputs:
        low = normal(x)
        for c in reader.present(x):
            if c.kind == "trait" and c.label == label:
                counts[c] += 1
                used = [p for p in c.phrases if normal(p) in low]
                wording.setdefault(c, Counter()).update(used[:1])
    least = min(2, len(inputs))
    shared = [c for c, k in counts.most_common() if k >= least][:most]
    if not shared:
        return None
    phrases = [wording[c].most_common(1)[0][0] for c in shared]
    verb = trait_style(world) == "verb"
    return capital(article(label)) + (" " if verb else " has ") + join(phrases) + "."


def describe_traces(worlds: Sequence[World], n: int, seed: int = 0,
                    shown: int = SHOWN) -> list[Trace]:
    """`n` describe traces spread over `worlds`, each with `shown` of D's inputs of one
    label (D of a seeded world task: contexts predict the class there, and the person still
    writes about the thing)."""
    rng = random.Random(f"describe-traces:{seed}")
    out: list[Trace] = []
    per_world = -(-n // max(1, len(worlds)))
    for w in worlds:
        reader = Reader(w)
        task = world_task(w, seed, n_train=12 * len(w.labels), n_test=0)
        made = 0
        for _ in range(4 * per_world):
            if made == per_world:
                break
            label = rng.choice(w.labels)
            mine = [e for e in task.train if e.label == label]
            sample = rng.sample(mine, min(shown, len(mine)))
            target = describe_target(reader, label, [e.input for e in sample])
            if target is None:
                continue
            out.append(Trace(task=f"world:{w.domain}", operator="describe", label=label,
                             examples=tuple({"input": e.input, "label": label} for e in sample),
                             target=target, labels=w.labels, task_description=w.task,
                             source="worlds", annotator="simulated"))
            made += 1
    rng.shuffle(out)
    return out[:n]
