"""The seam every language model plugs into: batch-first `generate` and `logprob`."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable


@dataclass(frozen=True)
class GenerationRequest:
    """A prompt to complete: chat `messages`, or a plain-text `prompt` continued as is.

    `sample_index` makes repeated samples differ (and cache apart). Temperature 0 is greedy.
    """
    messages: tuple[tuple[str, str], ...] = ()      # ((role, content), ...)
    max_new_tokens: int = 256
    temperature: float = 0.8
    top_p: float = 0.95
    sample_index: int = 0
    prompt: str | None = None                        # plain text; overrides messages

    def key_dict(self) -> dict:
        d = {"messages": [list(m) for m in self.messages],
             "max_new_tokens": self.max_new_tokens, "temperature": self.temperature,
             "top_p": self.top_p, "sample_index": self.sample_index}
        if self.prompt is not None:
            d["prompt"] = self.prompt
        return d

    def seed(self, hex_digits: int = 8) -> int:
        """The sampling seed of this request: a hash of everything it asks (prompt, sampling
        parameters, sample_index), `hex_digits` hex digits long."""
        digest = hashlib.sha256(repr(self.key_dict()).encode()).hexdigest()
        return int(digest[:hex_digits], 16)


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class LogprobRequest:
    """Score `continuation` after `context` (plain text, no chat template)."""
    context: str
    continuation: str

    def key_dict(self) -> dict:
        return {"context": self.context, "continuation": self.continuation}


@dataclass(frozen=True)
class Logprob:
    """Log-probabilities (natural log) of each continuation token; exact, never estimated."""
    token_logprobs: tuple[float, ...]
    context_tokens: int
    billed_tokens: int | None = None     # tokens it cost where that differs (several API calls)

    @property
    def total(self) -> float:
        return float(sum(self.token_logprobs))

    @property
    def n_tokens(self) -> int:
        if self.billed_tokens is not None:
            return self.billed_tokens
        return self.context_tokens + len(self.token_logprobs)


@dataclass(frozen=True)
class ChoiceRequest:
    """Which of `options` a chat model answers to `messages`: read from the first answer
    token's top log-probabilities (`logprob_method: chat`). Options are matched to the
    answer's first token by prefix, so they must differ in their first tokens (`igtext.choice`
    shows option keys A, B, ... where they might not)."""
    messages: tuple[tuple[str, str], ...]
    options: tuple[str, ...]

    def key_dict(self) -> dict:
        return {"messages": [list(m) for m in self.messages], "options": list(self.options)}


@dataclass(frozen=True)
class Choice:
    """Log-probabilities (natural log, not normalised) of each option of a `ChoiceRequest`, in
    its order. An option not among the top k answer tokens gets the k-th value, an upper
    bound; `bounded` says how many did."""
    logprobs: tuple[float, ...]
    bounded: int
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class ModelInfo:
    """How a backend's numbers are obtained, for the run log and `result.json`, how many
    tokens its context holds (None: unknown), and for `logprob_method` chat or sample how
    many answers estimate one distribution (chat samples open-ended questions only)."""
    logprob_method: str
    token_counting: str
    context_tokens: int | None = None
    samples: int = 0

    @property
    def exact(self) -> bool:
        """Whether `logprob` gives exact continuation log-probabilities (chat and sample
        backends answer `choose` or `generate` instead)."""
        return self.logprob_method not in ("chat", "sample")


@runtime_checkable
class LanguageModel(Protocol):
    """A language model. `name` identifies the weights (it keys the cache; no secrets in it).

    Backends that cannot give exact log-probabilities set `supports_logprobs = False` and
    raise `UnsupportedError` from `logprob` rather than inventing numbers.

    Optional members, read through the functions below, which supply the defaults a
    backend gets when it leaves them out (a local model needs none of them):

        describe() -> ModelInfo     default: exact local forward pass, its own tokenizer,
                                    a context of `max_positions` tokens if it says so
        price                       an object with `cost(prompt_tokens, completion_tokens)`
                                    in US dollars; default: free
        bind_meter(reserve)         for backends that make several paid calls per request:
                                    `reserve(tokens, dollars)` before each call returns
                                    `settle(tokens, dollars)`; default: metered per batch
        api_stats() -> dict         call, retry and failure counts; default: None
        choose(requests) -> list[Choice]
                                    chat servers (`describe().logprob_method == "chat"`):
                                    each `ChoiceRequest`'s options scored by one chat call
    """
    name: str
    supports_logprobs: bool

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]: ...

    def logprob(self, requests: Sequence[LogprobRequest]) -> list[Logprob]: ...

    def count_tokens(self, items: Sequence["str | GenerationRequest | LogprobRequest"]) -> list[int]:
        """Exact tokens each item costs: a text; a generation's prompt (chat template included,
        generated tokens not); a logprob request's context plus continuation."""
        ...


def describe(lm: LanguageModel) -> ModelInfo:
    """`lm.describe()`, or the default of a local model."""
    own = getattr(lm, "describe", None)
    if own is not None:
        return own()
    return ModelInfo("exact (local forward pass)", f"{lm.name} tokenizer",
                     getattr(lm, "max_positions", None))


def dollars(lm: LanguageModel, prompt_tokens: int, completion_tokens: int) -> float:
    """What `prompt_tokens` and `completion_tokens` cost on `lm` (0 for a free model)."""
    price = getattr(lm, "price", None)
    return price.cost(prompt_tokens, completion_tokens) if price is not None else 0.0


def self_metered(lm: LanguageModel) -> bool:
    """Whether `lm` checks the budget before each of its own calls (`bind_meter`)."""
    return callable(getattr(lm, "bind_meter", None))


def api_stats(lm: LanguageModel) -> dict | None:
    """`lm.api_stats()`, or None for a backend that makes no API calls."""
    own = getattr(lm, "api_stats", None)
    return own() if own is not None else None
