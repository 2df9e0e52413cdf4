"""How the simulated person of a world reads: which of the world's concepts a text mentions,
and which rules a hypothesis z states.

A concept is one trait of one class (all its wordings: the person knows that "sapphire
irises" are "pale blue eyes") or one context value of one class (a place, a sender: a rule
naming one of a class's senders says nothing about its other senders). A rule is a
sentence or clause of z that names exactly one class label, or a per-label paragraph
("A robin: has a red breast. ..."); its concepts are those its words mention, and its kind
says whose concepts they are:
    thing    the named class's own traits
    wrong    another class's traits
    context  context values (a place, a time, a sender)
    other    none of the world's concepts (or a tie between own and other traits)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from igtext.worlds.spec import World, normal

STOP = frozenset("""a an and the of with in on to is are was were be been its it it's his
her their they them this that these those has have had from for as at by or not no any one
all each then than when if else which what who whose where while whereas but so also only
just very more most less some other such there here into onto over under out up down can
could may might must should will would do does did usually often always never sometimes
likely probably generally typically look looks looking like seem seems answer label labels
call called name named say choose pick guess read description described describe item
instance example kind type sort class category thing""".split())
CONDITION = ("if ", "when ", "where ", "whenever ", "for ", "given ")
KINDS = ("thing", "wrong", "context", "other")


def words(text: str) -> list[str]:
    """Lower-case tokens, each cut to a rough stem ("spotted", "spots" -> "spot")."""
    return [stem(w) for w in re.findall(r"[a-z0-9]+", text.lower())]


def stem(w: str) -> str:
    """A small suffix stripper: enough to read "curly"/"curled"/"curls" as one word.
    It is applied alike to z, inputs and the world's phrases, so it needs only be
    consistent, not linguistically right."""
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith(("ses", "xes", "zes", "ches", "shes")) and len(w) > 4:
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        w = w[:-1]
    for suffix, least in (("ing", 3), ("ed", 3), ("ly", 4), ("y", 3)):
        if w.endswith(suffix) and len(w) - len(suffix) >= least:
            w = w[:-len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeioulsfz":
                w = w[:-1]          # spott -> spot, but not fluff -> flu
            break
    return w


@dataclass(frozen=True)
class Concept:
    kind: str                     # "trait" | "context"
    label: str                    # the class it belongs to
    key: str                      # "trait 2" or the context kind ("place")
    phrases: tuple[str, ...]      # every wording or value


@dataclass(frozen=True)
class Rule:
    label: str
    concepts: frozenset[Concept]
    kind: str                     # one of KINDS
    text: str


class Reader:
    """The concept index of one world; build once, read many texts (batch-friendly)."""

    def __init__(self, world: World):
        self.world = world
        self.concepts = tuple(
            [Concept("trait", label, f"trait {i}", wordings)
             for label, traits in world.traits.items() for i, wordings in enumerate(traits)]
            + [Concept("context", label, f"{kind}: {value}", (value,))
               for kind, per_class in world.contexts.items()
               for label, values in per_class.items() for value in values])
        self._by_phrase = {normal(p): c for c in self.concepts for p in c.phrases}
        ordered = sorted(self._by_phrase, key=len, reverse=True)
        self._phrase_re = re.compile(
            r"(?<![a-z0-9])(" + "|".join(map(re.escape, ordered)) + r")(?![a-z0-9])")
        self._raw_phrase_re = re.compile(     # the same, in z as written (for masking)
            r"(?<![a-z0-9])(?:" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in ordered)
            + r")(?![a-z0-9])", re.IGNORECASE)
        ignore = STOP | {stem(w) for w in STOP} | set(words(world.thing))
        self._ignore = ignore
        self._wording_words = [(c, frozenset(words(p)) - ignore)
                               for c in self.concepts for p in c.phrases]
        forms = {}
        for label in world.labels:
            plural = label[:-1] + "ies" if label.endswith("y") else label + "s"
            forms.update({label: label, plural: label, label + "es": label})
        self._label_of = forms
        alt = "|".join(map(re.escape, sorted(forms, key=len, reverse=True)))
        self._label_re = re.compile(r"(?<![a-z0-9])(" + alt + r")(?![a-z0-9])")
        self._heading_re = re.compile(
            r"(?:^|(?<=[.!?\n]))\s*(?:(?:an?|the)\s+)?(" + alt + r")\s*:", re.IGNORECASE)
        self._label_words = {w for form in forms for w in words(form)}

    # ---- concepts in a text ----

    def present(self, x: str) -> frozenset[Concept]:
        """The concepts whose phrases (any wording) occur in the input `x`."""
        return frozenset(self._by_phrase[m.group(1)]
                         for m in self._phrase_re.finditer(normal(x)))

    def mentioned(self, text: str) -> frozenset[Concept]:
        """The concepts a piece of z mentions: any wording verbatim; then, in what is left,
        at least half the content words (and at least two, where it has two) of a wording
        ("blue eyes" for "pale blue eyes"), best-covered first, each word used once."""
        low = normal(text)
        found = {self._by_phrase[m.group(1)] for m in self._phrase_re.finditer(low)}
        rest = set(words(self._phrase_re.sub(" | ", low))) - self._ignore - self._label_words
        while True:
            hits = [(len(rest & ws) / len(ws), c, ws) for c, ws in self._wording_words
                    if ws and 2 * len(rest & ws) >= len(ws) and len(rest & ws) >= min(2, len(ws))]
            if not hits:
                return frozenset(found)
            _, concept, ws = max(hits, key=lambda h: h[0])
            found.add(concept)
            rest -= ws

    def labels_in(self, text: str) -> list[str]:
        """The class labels `text` names, in order (plurals included)."""
        return [self._label_of[m.group(1)] for m in self._label_re.finditer(normal(text))]

    # ---- rules in z ----

    def rules(self, z: str) -> list[Rule]:
        """The rules z states, in order."""
        return [self._rule(label, text) for label, text in self.rule_texts(z)]

    def rule_texts(self, z: str) -> list[tuple[str, str]]:
        """(label, text) of each rule: per-label paragraphs ("A robin: ...") where z has
        them, and sentences or clauses naming exactly one label elsewhere."""
        # the world's phrases are masked first, so that "Vol. 3" in one is no sentence end
        kept: list[str] = []

        def mask(m: re.Match) -> str:
            kept.append(m.group(0))
            return f"\x00{len(kept) - 1}\x00"

        z = self._raw_phrase_re.sub(mask, z)
        heads = list(self._heading_re.finditer(z))
        if not heads:
            out = self._sentence_rules(z)
        else:
            out = self._sentence_rules(z[:heads[0].start()])
            for h, nxt in zip(heads, heads[1:] + [None]):
                body = z[h.end(): nxt.start() if nxt else len(z)]
                out.append((self._label_of[h.group(1).lower()], body))
        return [(label, re.sub("\x00(\\d+)\x00", lambda m: kept[int(m.group(1))], text))
                for label, text in out]

    def _sentence_rules(self, text: str) -> list[tuple[str, str]]:
        out = []
        for sentence in re.split(r"(?<=[.!?;])\s+|\n+", text):
            named = set(self.labels_in(sentence))
            if len(named) == 1:
                out.append((named.pop(), sentence))
            elif len(named) > 1:
                out += self._clause_rules(sentence)
        return out

    def _clause_rules(self, sentence: str) -> list[tuple[str, str]]:
        """A sentence naming several labels: each clause naming one label is a rule; a
        clause naming none joins the next rule if it states a condition ("if ...") or no
        rule came before, else the rule before it."""
        out: list[list] = []
        pending: list[str] = []
        for clause in re.split(r",\s*|\s+(?:while|whereas|but)\s+", sentence):
            named = set(self.labels_in(clause))
            if len(named) == 1:
                out.append([named.pop(), " ".join(pending + [clause])])
                pending = []
            elif not named:
                if out and not clause.lower().lstrip().startswith(CONDITION):
                    out[-1][1] += " " + clause
                else:
                    pending.append(clause)
        return [(label, text) for label, text in out]

    def _rule(self, label: str, text: str) -> Rule:
        concepts = self.mentioned(text)
        own = sum(c.kind == "trait" and c.label == label for c in concepts)
        other = sum(c.kind == "trait" and c.label != label for c in concepts)
        ctx = sum(c.kind == "context" for c in concepts)
        kind = ("thing" if own > max(other, ctx) else
                "wrong" if other > max(own, ctx) else
                "context" if ctx else "other")
        return Rule(label, concepts, kind, text.strip())
