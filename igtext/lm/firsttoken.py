"""Options read from the first token of a chat answer: a server that gives the top k
log-probabilities of the answer's first token, and nothing about the prompt, still says how
likely each option is as the start of the answer.

A top token counts for an option when, stripped of spaces and punctuation and lowercased,
it is a prefix of exactly one option (so " Hus" counts for "husky", "B." for option key
"B"); a token that starts several options counts for none. An option that no top token
starts gets the k-th (smallest) value shown: an upper bound on its log-probability, never
an invented exact number, and counted.
"""
from __future__ import annotations

import math
from typing import Sequence

_PUNCT = " \t\r\n\"'*`.:;,()[]"


def option_logprobs(top: Sequence[tuple[str, float]],
                    options: Sequence[str]) -> tuple[tuple[float, ...], int]:
    """(log-probability of each option as the start of the answer, how many of them are the
    top-k bound) from `top`, the (token, log-probability) pairs of the first answer token."""
    if not top:
        raise ValueError("no top tokens to read options from")
    starts = [o.strip().lower() for o in options]
    mass = [0.0] * len(options)
    for token, logprob in top:
        t = token.strip(_PUNCT).lower()
        if not t:
            continue
        hits = [i for i, o in enumerate(starts) if o.startswith(t)]
        if len(hits) == 1:
            mass[hits[0]] += math.exp(logprob)
    floor = min(float(lp) for _, lp in top)
    values = tuple(math.log(m) if m > 0 else floor for m in mass)
    return values, sum(1 for m in mass if m <= 0)
