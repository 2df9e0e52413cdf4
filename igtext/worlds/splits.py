"""Domains split three ways: train (the follower M_L learns on them), validation (for
choosing), and held out (never seen in training; the evaluation reports them).

Held out and validation are named here; train is every other shipped domain, so a new
data file joins training by default. A held-out domain must share no phrase with any
train or validation domain (`leaks`), or a follower could memorise its way to it.
"""
from __future__ import annotations

import re

from igtext.worlds import domains, load_world
from igtext.worlds.spec import World, normal

HELD_OUT = ("dogs", "mushrooms", "tickets", "instruments", "cheeses", "clauses")
VALIDATION = ("flowers", "shoes", "bugs")
SPLITS = ("train", "validation", "held_out")


def split_of(domain: str) -> str:
    """"held_out", "validation" or "train"."""
    return "held_out" if domain in HELD_OUT else "validation" if domain in VALIDATION else "train"


def split_domains(split: str) -> tuple[str, ...]:
    """The shipped domains in `split` (a named domain with no file yet is left out)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    return tuple(d for d in domains() if split_of(d) == split)


def train_worlds() -> tuple[World, ...]:
    """Every train world: all that training data may be drawn from."""
    return tuple(load_world(d) for d in split_domains("train"))


def validation_worlds() -> tuple[World, ...]:
    return tuple(load_world(d) for d in split_domains("validation"))


def held_out_worlds() -> tuple[World, ...]:
    return tuple(load_world(d) for d in split_domains("held_out"))


def phrases(world: World) -> tuple[str, ...]:
    """Every trait wording, context value and distractor of `world`, in file order."""
    return (tuple(w for ts in world.traits.values() for t in ts for w in t)
            + tuple(v for per_class in world.contexts.values()
                    for values in per_class.values() for v in values)
            + world.distractors)


def leaks(held: World, others: tuple[World, ...]) -> list[tuple[str, str]]:
    """(phrase, domain of `others`) for each phrase of `held` found inside the text of
    another world (its phrases, thing and task), and each phrase of another world found
    inside a phrase of `held`: whole words, ignoring case."""
    out = []
    mine = "\n".join(normal(p) for p in phrases(held))
    for other in others:
        theirs = "\n".join(normal(p) for p in phrases(other) + (other.thing, other.task))
        out += [(p, other.domain) for p in phrases(held) if _inside(p, theirs)]
        out += [(p, other.domain) for p in phrases(other) if _inside(p, mine)]
    return out


def _inside(phrase: str, text: str) -> bool:
    return re.search(r"(?<![a-z0-9])" + re.escape(normal(phrase)) + r"(?![a-z0-9])",
                     text) is not None
