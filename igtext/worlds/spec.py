"""A world file: one labelling domain (classes, their traits in several wordings, contexts
that predict the class in D, distractors), read and validated. The format is in
docs/worlds.md.

Every problem is one `InputError` naming the file, the line and the field, e.g.
`birds.yaml:14: field 'classes.robin.traits.2': needs at least 3 wordings, has 2`.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from igtext.errors import InputError

FIELDS = ("domain", "thing", "task", "classes", "contexts", "distractors")
N_CLASSES = (3, 5)
MIN_TRAITS = 5
MIN_WORDINGS = 3
N_CONTEXT_KINDS = (1, 3)
MIN_CONTEXT_VALUES = 3
MIN_DISTRACTORS = 6
MAX_FILE_BYTES = 1 << 20
DOMAIN_RE = re.compile(r"[a-z0-9_]+")
LABEL_RE = re.compile(r"[a-z][a-z0-9'-]*( [a-z0-9'-]+){0,3}")
KIND_RE = re.compile(r"[a-z][a-z0-9_]*")
# words of a multi-word label that may appear in phrases ("bird of paradise": "of")
LABEL_STOP = frozenset("a an and the of in on to for with by or".split())


@dataclass(frozen=True)
class World:
    """One domain. `traits[label][t]` are the wordings of trait t of class `label` (0 and 1
    are D's, 2 and later are held out for D'); `contexts[kind][label]` are that class's own
    values of one kind of context (a place, a time, a sender), which predict the class in D.
    """
    domain: str
    thing: str
    task: str
    traits: Mapping[str, tuple[tuple[str, ...], ...]]
    contexts: Mapping[str, Mapping[str, tuple[str, ...]]]
    distractors: tuple[str, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.traits)

    def __hash__(self) -> int:          # the mappings are read-only views, hashed by content
        return hash((self.domain, self.thing, self.task, self.distractors,
                     tuple(self.traits.items()),
                     tuple((k, tuple(v.items())) for k, v in self.contexts.items())))


def read_world(path: str | Path, *, shown: str | None = None) -> World:
    """Read and validate one world file; `shown` is the file name errors give (default the
    path as given). Any problem raises one `InputError` with file, line and field."""
    p = Path(path)
    name = shown or str(path)
    if not p.is_file():
        raise InputError("world file not found", file=name)
    if p.stat().st_size > MAX_FILE_BYTES:
        raise InputError(f"file larger than {MAX_FILE_BYTES >> 10} KiB", file=name)
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"not valid UTF-8 (byte {e.start})", file=name) from None
    return parse_world(text, name=name, stem=p.stem)


def parse_world(text: str, *, name: str, stem: str | None = None) -> World:
    """Validate the YAML `text` of a world file called `name` (its domain must be `stem`)."""
    data, lines = _load_yaml(text, name)
    return _Checker(name, lines).world(data, stem)


# ---- YAML with the line of every field, and duplicate keys refused ----

def _load_yaml(text: str, name: str):
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError("file is empty", file=name)
        lines: dict[tuple, int] = {(): node.start_mark.line + 1}
        data = _build(loader, node, (), lines, name)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(f"not valid YAML: {getattr(e, 'problem', None) or e}", file=name,
                         line=mark.line + 1 if mark else None) from None
    except RecursionError:          # a world nests 4 deep; "[[[[..." is no world file
        raise InputError("nested too deep to be a world file", file=name) from None
    finally:
        loader.dispose()
    return data, lines


def _build(loader, node, path: tuple, lines: dict, name: str):
    import yaml

    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise InputError(f"key {key!r} must be text (quote it)", file=name, line=line,
                                 field=_dotted(path + (str(key),)))
            if key in out:
                raise InputError(f"duplicate key {key!r} (first on line {lines[path + (key,)]})",
                                 file=name, line=line, field=_dotted(path + (key,)))
            lines[path + (key,)] = line
            out[key] = _build(loader, value_node, path + (key,), lines, name)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            items.append(_build(loader, item, path + (i,), lines, name))
        return items
    return loader.construct_object(node, deep=True)


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def normal(phrase: str) -> str:
    """How phrases are compared: case and spacing do not matter."""
    return " ".join(phrase.lower().split())


# ---- the checks ----

class _Checker:
    def __init__(self, name: str, lines: dict):
        self.name, self.lines = name, lines

    def error(self, path: tuple, message: str) -> InputError:
        at = path
        while at not in self.lines and at:
            at = at[:-1]
        return InputError(message, file=self.name, line=self.lines.get(at),
                          field=_dotted(path) or None)

    def where(self, path: tuple) -> str:
        return f"line {self.lines[path]}" if path in self.lines else _dotted(path)

    def world(self, data, stem: str | None) -> World:
        if not isinstance(data, dict):
            raise self.error((), "the file must hold one mapping with " + ", ".join(FIELDS))
        for key in data:
            if key not in FIELDS:
                raise self.error((key,), f"unknown field (known: {', '.join(FIELDS)})")
        for key in FIELDS:
            if key not in data:
                raise self.error((), f"missing field '{key}'")
        domain = self.text(data["domain"], ("domain",))
        if not DOMAIN_RE.fullmatch(domain):
            raise self.error(("domain",), f"must be lowercase letters, digits and _, got {domain!r}")
        if stem is not None and domain != stem:
            raise self.error(("domain",), f"must be the file's name {stem!r}, got {domain!r}")
        thing = self.text(data["thing"], ("thing",))
        task = self.text(data["task"], ("task",))
        traits = self.classes(data["classes"])
        contexts = self.contexts(data["contexts"], tuple(traits))
        distractors = self.phrase_list(data["distractors"], ("distractors",), MIN_DISTRACTORS,
                                       "distractors")
        self.phrases_apart(traits, contexts, distractors)
        return World(domain, thing, task, MappingProxyType(traits),
                     MappingProxyType({k: MappingProxyType(v) for k, v in contexts.items()}),
                     distractors)

    def text(self, value, path: tuple) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(path, f"must be a non-empty string, got {value!r}")
        for ch in value:
            if ord(ch) > 127 and unicodedata.category(ch)[0] in "PSZC":
                raise self.error(path, f"non-ASCII character {ch!r} (U+{ord(ch):04X}): use "
                                 "plain ASCII punctuation")
            if unicodedata.category(ch) == "Cc":
                raise self.error(path, f"control character U+{ord(ch):04X}")
        return " ".join(value.split())

    def mapping(self, value, path: tuple, what: str) -> dict:
        if not isinstance(value, dict):
            raise self.error(path, f"must be a mapping of {what}")
        return value

    def phrase_list(self, value, path: tuple, least: int, what: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.error(path, f"must be a list of {what}")
        if len(value) < least:
            raise self.error(path, f"needs at least {least} {what}, has {len(value)}")
        out = tuple(self.text(v, path + (i,)) for i, v in enumerate(value))
        seen: dict[str, int] = {}
        for i, v in enumerate(out):
            if normal(v) in seen:
                raise self.error(path + (i,), f"repeats {v!r} (also item {seen[normal(v)]})")
            seen[normal(v)] = i
        return out

    def classes(self, value) -> dict[str, tuple[tuple[str, ...], ...]]:
        classes = self.mapping(value, ("classes",), "class label -> traits")
        lo, hi = N_CLASSES
        if not lo <= len(classes) <= hi:
            raise self.error(("classes",), f"needs {lo} to {hi} classes, has {len(classes)}")
        out = {}
        for label, spec in classes.items():
            path = ("classes", label)
            if not LABEL_RE.fullmatch(label):
                raise self.error(path, "a label must be a lowercase word or a short phrase "
                                 f"(at most 4 words), got {label!r}")
            spec = self.mapping(spec, path, "'traits'")
            for key in spec:
                if key != "traits":
                    raise self.error(path + (key,), "unknown field (known: traits)")
            if "traits" not in spec:
                raise self.error(path, "missing field 'traits'")
            traits = spec["traits"]
            if not isinstance(traits, list):
                raise self.error(path + ("traits",), "must be a list of traits, each a list "
                                 "of wordings")
            if len(traits) < MIN_TRAITS:
                raise self.error(path + ("traits",), f"needs at least {MIN_TRAITS} traits, "
                                 f"has {len(traits)}")
            out[label] = tuple(
                self.phrase_list(t, path + ("traits", i), MIN_WORDINGS, "wordings")
                for i, t in enumerate(traits))
        return out

    def contexts(self, value, labels: tuple[str, ...]) -> dict[str, dict[str, tuple[str, ...]]]:
        kinds = self.mapping(value, ("contexts",), "context kind -> class -> values")
        lo, hi = N_CONTEXT_KINDS
        if not lo <= len(kinds) <= hi:
            raise self.error(("contexts",), f"needs {lo} to {hi} kinds of context, has "
                             f"{len(kinds)}")
        out = {}
        for kind, per_class in kinds.items():
            path = ("contexts", kind)
            if not KIND_RE.fullmatch(kind):
                raise self.error(path, f"a context kind must be a lowercase word, got {kind!r}")
            per_class = self.mapping(per_class, path, "class -> values")
            for label in per_class:
                if label not in labels:
                    raise self.error(path + (label,), f"unknown class {label!r} (classes: "
                                     f"{', '.join(labels)})")
            for label in labels:
                if label not in per_class:
                    raise self.error(path, f"class {label!r} has no values: a context must "
                                     "give every class its own values")
            out[kind] = {label: self.phrase_list(per_class[label], path + (label,),
                                                 MIN_CONTEXT_VALUES, "values")
                         for label in labels}
        return out

    def phrases_apart(self, traits, contexts, distractors) -> None:
        """No phrase twice in the file (a trait of two classes, a context value of two
        classes, a trait that is also a context) and no label word inside a phrase."""
        placed: dict[str, tuple[tuple, str | None, str]] = {}   # phrase -> (path, label, role)
        for path, label, role, phrase in _all_phrases(traits, contexts, distractors):
            key = normal(phrase)
            if key in placed:
                first, other, other_role = placed[key]
                if role == other_role == "trait" and label != other:
                    why = f"is also a trait of class {other!r} ({self.where(first)}): a " \
                          "trait must belong to one class"
                elif role == other_role == "context" and label != other:
                    why = f"is also a value of class {other!r} ({self.where(first)}): a " \
                          "context must differ between classes"
                else:
                    why = f"also appears at {_dotted(first)} ({self.where(first)})"
                raise self.error(path, f"{phrase!r} {why}")
            placed[key] = (path, label, role)
        words = _label_words(tuple(traits))
        for path, _, _, phrase in _all_phrases(traits, contexts, distractors):
            for word, label in words.items():
                if re.search(rf"\b{re.escape(word)}(s|es)?\b", phrase.lower()):
                    raise self.error(path, f"{phrase!r} contains {word!r}, a word of the "
                                     f"label {label!r}: labels must not appear in phrases")


def _label_words(labels: tuple[str, ...]) -> dict[str, str]:
    return {w: label for label in labels for w in label.split() if w not in LABEL_STOP}


def _all_phrases(traits, contexts, distractors):
    for label, ts in traits.items():
        for i, wordings in enumerate(ts):
            for j, w in enumerate(wordings):
                yield ("classes", label, "traits", i, j), label, "trait", w
    for kind, per_class in contexts.items():
        for label, values in per_class.items():
            for j, v in enumerate(values):
                yield ("contexts", kind, label, j), label, "context", v
    for j, d in enumerate(distractors):
        yield ("distractors", j), None, "distractor", d
