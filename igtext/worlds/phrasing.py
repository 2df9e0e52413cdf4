"""How a world's phrases slot into sentences: articles, lists, and whether its traits read
as noun phrases ("a red breast": "a bird with ...") or as verb phrases ("mentions a double
charge": "a ticket that ...")."""
from __future__ import annotations

from igtext.worlds.spec import World

DETERMINERS = frozenset("a an the one two three four some no its their his her this".split())


def article(noun: str) -> str:
    """`noun` with "a" or "an" before it (by its first letter; good enough for labels)."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def join(parts: list[str]) -> str:
    """"x", "x and y", "x, y and z"."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def trait_style(world: World) -> str:
    """"verb" if most of the world's trait wordings start with a verb ("mentions ...",
    "asks ..."), else "noun". A verb is guessed from a final -s on a first word that is
    not a determiner and not a -ss/-us/-is/-ous word."""
    votes = [_starts_with_verb(w) for ts in world.traits.values() for t in ts for w in t]
    return "verb" if sum(votes) * 2 > len(votes) else "noun"


def _starts_with_verb(phrase: str) -> bool:
    first = phrase.split()[0].lower()
    return (first not in DETERMINERS and first.endswith("s")
            and not first.endswith(("ss", "us", "is", "ous")))
