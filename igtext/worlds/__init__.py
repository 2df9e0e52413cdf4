"""Labelling worlds generated from authored data files, one per domain (docs/worlds.md).

A world is a domain's classes, their traits in several wordings, contexts that predict the
class in D but not in D', and distractors (`spec`). From it: tasks (`generate`), a
simulated person with a known prior and a known way of labelling under z (`reading`,
`person`), hypotheses of every kind (`hypotheses`), and the split of domains into train,
validation and held out (`splits`).

    >>> from igtext.worlds import load_world
    >>> load_world("dogs").labels
    ('husky', 'labrador', 'dalmatian', 'poodle')
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from igtext.errors import InputError
from igtext.worlds.spec import World, parse_world, read_world

DATA = "data"


def domains() -> tuple[str, ...]:
    """The shipped domains (files `igtext/worlds/data/*.yaml`), sorted."""
    data = resources.files("igtext.worlds").joinpath(DATA)
    return tuple(sorted(f.name[:-5] for f in data.iterdir() if f.name.endswith(".yaml")))


def load_world(source: str | Path) -> World:
    """A shipped domain by name (`"dogs"`), or a world file by path (`"my/birds.yaml"`)."""
    s = str(source)
    if s.endswith((".yaml", ".yml")) or "/" in s or "\\" in s:
        return read_world(s)
    if s not in domains():
        raise InputError(f"unknown world {s!r}; shipped: {', '.join(domains())}", field="task")
    text = resources.files("igtext.worlds").joinpath(DATA, s + ".yaml").read_text("utf-8")
    return parse_world(text, name=f"igtext/worlds/data/{s}.yaml", stem=s)


__all__ = ["World", "domains", "load_world", "read_world"]
