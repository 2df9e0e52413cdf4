"""A scripted language model for fast tests: deterministic, no weights, honest about itself.

Generations come from a user function of the request; log-probabilities from a user
function of (context, continuation). It is a fake and is used only in unit tests.
"""
from __future__ import annotations

from typing import Callable, Sequence

from igtext.lm.base import Generation, GenerationRequest, Logprob, LogprobRequest


class ScriptedLM:
    def __init__(self, generate_fn: Callable[[GenerationRequest], str],
                 logprob_fn: Callable[[str, str], float] | None = None, name: str = "scripted"):
        self.name = name
        self.generate_fn, self.logprob_fn = generate_fn, logprob_fn
        self.supports_logprobs = logprob_fn is not None
        self.calls = 0

    def count_tokens(self, items) -> list[int]:
        out = []
        for it in items:
            if isinstance(it, GenerationRequest):
                text = it.prompt if it.prompt is not None else " ".join(c for _, c in it.messages)
                out.append(len(text.split()))
            elif isinstance(it, LogprobRequest):
                out.append(len(it.context.split()) + max(1, len(it.continuation.split())))
            else:
                out.append(len(str(it).split()))
        return out

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.calls += len(requests)
        out = []
        for r, n in zip(requests, self.count_tokens(requests)):
            text = self.generate_fn(r)
            out.append(Generation(text, n, min(len(text.split()), r.max_new_tokens)))
        return out

    def logprob(self, requests: Sequence[LogprobRequest]) -> list[Logprob]:
        from igtext.errors import UnsupportedError
        if self.logprob_fn is None:
            raise UnsupportedError("scripted model has no log-probabilities")
        self.calls += len(requests)
        return [Logprob((self.logprob_fn(r.context, r.continuation),), len(r.context.split()))
                for r in requests]
