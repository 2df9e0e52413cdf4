"""Counterfactually-augmented IMDb sentiment (Kaushik et al. 2020): D = original reviews
(`sentiment/orig/train.tsv`), D' = reviews minimally edited by people to flip the label
(`sentiment/new/test.tsv`). Cues that merely co-occur with a label in the originals (genre,
actors, topic) stay in the edited reviews while the label flips."""
from __future__ import annotations

import csv
import os
import random
from pathlib import Path

from igtext.data import Example, Task
from igtext.errors import InputError
from igtext.tasks.datadir import data_dir

LABELS = ("Negative", "Positive")


def read_tsv(path: Path, prefix: str) -> list[Example]:
    """Rows of `Sentiment<TAB>Text` with a header; a bad row is an error naming its line."""
    try:
        f = open(path, encoding="utf-8", newline="")
    except FileNotFoundError:
        raise InputError("no such file (is the CAD copy complete?)", file=str(path)) from None
    out = []
    with f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:2]] != ["Sentiment", "Text"]:
            raise InputError("expected the header 'Sentiment<TAB>Text'", file=str(path), line=1)
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if len(row) < 2 or row[0] not in LABELS:
                raise InputError(f"expected a label in {LABELS} and a text", file=str(path),
                                 line=line, field="Sentiment")
            text = row[1].replace("<br /><br />", " ").strip()
            out.append(Example(f"{prefix}-{len(out):04d}", text, row[0]))
    return out


def cad_task(root: str | os.PathLike | None = None, n_train: int | None = None,
             n_test: int | None = None, seed: int = 0) -> Task:
    base = data_dir("cad", root) / "sentiment"
    train = read_tsv(base / "orig" / "train.tsv", "orig")
    test = read_tsv(base / "new" / "test.tsv", "new")
    rng = random.Random(seed)
    if n_train and n_train < len(train):
        train = rng.sample(train, n_train)
    if n_test and n_test < len(test):
        test = rng.sample(test, n_test)
    return Task(name="cad:sentiment", train=tuple(train), test=tuple(test), labels=LABELS,
                description="say whether the movie review is positive or negative")
