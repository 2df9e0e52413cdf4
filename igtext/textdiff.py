"""Word-level differences between two drafts (difflib over words, whitespace kept)."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    op: str          # "equal" | "delete" | "insert"
    text: str


def word_diff(a: str, b: str) -> list[Piece]:
    """The pieces that turn `a` into `b`, word by word; joined, the equal and delete pieces
    give `a` back, and the equal and insert pieces give `b`."""
    ta, tb = re.findall(r"\s+|\S+", a), re.findall(r"\s+|\S+", b)
    out: list[Piece] = []

    def add(op: str, tokens: list[str]) -> None:
        text = "".join(tokens)
        if not text:
            return
        if out and out[-1].op == op:
            out[-1] = Piece(op, out[-1].text + text)
        else:
            out.append(Piece(op, text))
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        if tag == "equal":
            add("equal", ta[i1:i2])
        else:
            add("delete", ta[i1:i2])
            add("insert", tb[j1:j2])
    return out


def changed_words(pieces: list[Piece]) -> tuple[int, int]:
    """(words removed, words added)."""
    def count(op: str) -> int:
        return sum(len(p.text.split()) for p in pieces if p.op == op)
    return count("delete"), count("insert")
