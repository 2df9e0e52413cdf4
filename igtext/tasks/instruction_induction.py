"""Instruction Induction (Honovich et al. 2022): 24 tasks, demonstrations (`raw/induce`), a
held-out execution set (`raw/execute`) and 4-10 instructions people wrote per task
(`annotations`).

The data are not shipped with igtext: they are read from `IGTEXT_II_DIR`, else from
`instruction_induction/` of the data directory (`igtext.tasks.datadir`); any copy of the
upstream `data/` layout works. Field quirks follow APE's loader
(cause_and_effect, common_concept, and the tasks with several acceptable answers), and so
does the metric (`score`).
"""
from __future__ import annotations

import os
import random
import re
import string
from dataclasses import dataclass
from pathlib import Path

from igtext.data import Example, Task
from igtext.errors import InputError
from igtext.tasks.datadir import data_dir, read_json

F1_TASKS = {"common_concept", "informal_to_formal"}
SET_TASKS = {"orthography_starts_with", "taxonomy_animal"}
CONTAINS_TASKS = {"synonyms"}
ANSWER_FIELDS = ("possible_outputs", "possible_translations", "other_rhymes",
                 "all_common_concepts")


@dataclass(frozen=True)
class IIExample:
    input: str
    output: str
    answers: tuple[str, ...]       # every acceptable answer (output first)


def _data(root: str | os.PathLike | None) -> Path:
    root = data_dir("instruction_induction", root or os.environ.get("IGTEXT_II_DIR"))
    data = root / "data" if (root / "data" / "annotations").is_dir() else root
    if not (data / "annotations").is_dir():
        raise InputError("not an Instruction Induction copy (no data/annotations/); set "
                         "IGTEXT_II_DIR or pass its directory", file=str(root))
    return data


def task_names(root: str | os.PathLike | None = None) -> list[str]:
    return sorted(p.stem for p in (_data(root) / "annotations").glob("*.json"))


def annotations(name: str, root: str | os.PathLike | None = None) -> list[str]:
    """The instructions people wrote for `name`."""
    path = _data(root) / "annotations" / f"{name}.json"
    got = read_json(path).get("annotations")
    if not isinstance(got, list) or not all(isinstance(a, str) for a in got):
        raise InputError("expected a list of strings", file=str(path), field="annotations")
    return [a.strip() for a in got if a.strip()]


def _example(name: str, raw: dict, rng: random.Random) -> IIExample:
    if name == "cause_and_effect":
        pair = [raw["cause"], raw["effect"]]
        rng.shuffle(pair)
        return IIExample(f"Sentence 1: {pair[0]} Sentence 2: {pair[1]}", raw["cause"],
                         (raw["cause"],))
    if name == "common_concept":
        answers = tuple(raw.get("all_common_concepts") or [raw["concept"]])
        return IIExample(", ".join(raw["items"]), raw["concept"], answers)
    extra = next((raw[k] for k in ANSWER_FIELDS if isinstance(raw.get(k), list)), [])
    answers = tuple(dict.fromkeys([str(raw["output"])] + [str(a) for a in extra]))
    return IIExample(str(raw["input"]), str(raw["output"]), answers)


def examples(name: str, split: str = "induce", root: str | os.PathLike | None = None,
             seed: int = 0) -> list[IIExample]:
    """The examples of `split` (induce | execute), in file order."""
    if split not in ("induce", "execute"):
        raise InputError(f"unknown split {split!r} (induce or execute)", field="split")
    path = _data(root) / "raw" / split / f"{name}.json"
    raw = read_json(path).get("examples")
    if not isinstance(raw, dict):
        raise InputError("expected an object of examples", file=str(path), field="examples")
    rng = random.Random(f"{name}-{seed}")
    out = []
    for key, r in raw.items():
        try:
            out.append(_example(name, r, rng))
        except (KeyError, TypeError) as e:
            raise InputError(f"example {key}: missing {e}", file=str(path),
                             field="examples") from None
    return out


def ii_task(name: str, root: str | os.PathLike | None = None, n_train: int = 20,
            n_test: int = 50, seed: int = 0) -> Task:
    """D: `n_train` demonstrations drawn from `induce`; D': the first `n_test` of `execute`."""
    pool = examples(name, "induce", root, seed)
    rng = random.Random(seed)
    train = rng.sample(pool, min(n_train, len(pool)))
    test = examples(name, "execute", root, seed)[:n_test]
    return Task(name=f"ii:{name}",
                train=tuple(Example(f"induce-{i:04d}", e.input, e.output)
                            for i, e in enumerate(train)),
                test=tuple(Example(f"execute-{i:04d}", e.input, e.output)
                           for i, e in enumerate(test)),
                labels=None, description="")


def _norm(text: str) -> str:
    text = text.strip().split("\n")[0].lower()
    text = text.translate(str.maketrans("", "", string.punctuation))
    return " ".join(text.split())


def token_f1(pred: str, gold: str) -> float:
    """Token-level F1 of two texts after normalisation (SQuAD-style)."""
    p, g = _norm(pred).split(), _norm(gold).split()
    common = sum(min(p.count(w), g.count(w)) for w in set(p))
    if not common:
        return 0.0
    prec, rec = common / len(p), common / len(g)
    return 2 * prec * rec / (prec + rec)


def score(name: str, prediction: str, answers: tuple[str, ...] | list[str]) -> float:
    """APE's metric for the task: F1, exact set, 'contains', or normalised exact match;
    the best over the acceptable answers."""
    first = prediction.strip().split("\n")[0]
    if name in F1_TASKS:
        return max(token_f1(first, a) for a in answers)
    if name in SET_TASKS:
        words = set(re.findall(r"[a-z]+", first.lower()))
        return float(any(words == set(re.findall(r"[a-z]+", a.lower())) for a in answers))
    if name in CONTAINS_TASKS:
        return float(any(_norm(a) and _norm(a) in _norm(first) for a in answers))
    return float(any(_norm(first) == _norm(a) for a in answers))
