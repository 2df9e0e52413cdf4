"""On-disk cache of LM calls (SQLite, safe under kill -9 and several processes).

The key is the sha256 of the whole request: model name, call kind, every sampling
parameter and the sample index. Credentials never go into `LanguageModel.name`.
A batch is written in parts of at most `COMMIT_EVERY` requests, one transaction each, as
the backend returns them: a part is either wholly cached or not at all.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Sequence

from igtext.errors import InputError, UnsupportedError
from igtext.lm.base import (Choice, ChoiceRequest, Generation, GenerationRequest,
                            LanguageModel, Logprob, LogprobRequest, ModelInfo, describe,
                            self_metered)
from igtext.lm.budget import Budget, Usage


def default_cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """`--cache-dir`, else `IGTEXT_CACHE_DIR`, else `~/.cache/igtext`."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("IGTEXT_CACHE_DIR")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "igtext"


class DiskCache:
    def __init__(self, directory: str | os.PathLike):
        self.path = Path(directory) / "lm_cache.sqlite"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, "
                             "value TEXT)")
            self._db.execute("SELECT key, value FROM calls LIMIT 1").fetchall()
        except (sqlite3.DatabaseError, OSError) as e:
            raise InputError(f"the LM cache cannot be used ({e}); move it aside (mv "
                             f"{self.path} {self.path}.bad) or pass another --cache-dir",
                             file=str(self.path)) from None

    @staticmethod
    def key(model: str, kind: str, request: dict) -> str:
        blob = json.dumps({"model": model, "kind": kind, "request": request},
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for i in range(0, len(keys), 500):
            part = list(keys[i:i + 500])
            q = f"SELECT key, value FROM calls WHERE key IN ({','.join('?' * len(part))})"
            for k, v in self._db.execute(q, part):
                found[k] = json.loads(v)
        return found

    def put_many(self, items: dict[str, dict]) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO calls VALUES (?, ?)",
                                 [(k, json.dumps(v)) for k, v in items.items()])

    def close(self) -> None:
        self._db.close()


COMMIT_EVERY = 256          # requests per cache transaction (see MeteredLM)


class MeteredLM:
    """Wraps a backend with the disk cache, the budget and the usage counters.

    It implements the same `LanguageModel` protocol, so scorers and proposers never know
    whether a call was cached. A batch goes to the backend in parts of at most
    `COMMIT_EVERY` requests, each written to the cache as soon as it returns, so a kill
    loses at most one part (a search's batches fit in one; the final evaluation of z* on
    all of D and D' takes several). Calls are checked per batch, before it is sent. Tokens are
    checked per batch too, except for backends that make several HTTP calls per request
    (`bind_meter`): those check and charge tokens and dollars before every HTTP call.
    A cached call is charged the tokens it cost when it was made (so the search follows
    the same path warm or cold) and no dollars (nothing was spent).
    """

    def __init__(self, inner: LanguageModel, cache: DiskCache | None, budget: Budget,
                 usage: Usage | None = None):
        self.inner, self.cache, self.budget = inner, cache, budget
        self.usage = usage if usage is not None else Usage()
        self.name = inner.name
        self.supports_logprobs = inner.supports_logprobs
        self.self_metered = self_metered(inner)
        if self.self_metered:
            inner.bind_meter(self._reserve)

    def _reserve(self, tokens: int, dollars: float):
        """Reserve one HTTP call's worst case; the returned function settles the actual."""
        self.budget.check(self.usage, 0, tokens, dollars)
        self.usage.tokens += tokens
        self.usage.dollars += dollars

        def settle(actual_tokens: int, actual_dollars: float) -> None:
            self.usage.tokens += actual_tokens - tokens
            self.usage.dollars += actual_dollars - dollars
        return settle

    def count_tokens(self, items):
        return self.inner.count_tokens(items)

    def describe(self) -> ModelInfo:
        return describe(self.inner)

    def _through_cache(self, kind: str, requests, estimate, run, to_record, from_record):
        keys = [DiskCache.key(self.name, kind, r.key_dict()) for r in requests]
        hits = self.cache.get_many(keys) if self.cache else {}
        miss = [i for i, k in enumerate(keys) if k not in hits]
        cached_tokens = sum(_n_tokens(from_record(hits[k])) for k in keys if k in hits)
        need = cached_tokens
        if miss and not self.self_metered:
            need += sum(estimate([requests[i] for i in miss]))
        self.budget.check(self.usage, len(requests), need)
        fresh = []
        for start in range(0, len(miss), COMMIT_EVERY):
            part = miss[start:start + COMMIT_EVERY]
            got = run([requests[i] for i in part])
            records = {keys[i]: to_record(r) for i, r in zip(part, got)}
            if self.cache and records:
                self.cache.put_many(records)
            hits.update(records)
            fresh += got
        out = [from_record(hits[k]) for k in keys]
        fresh_tokens = sum(_n_tokens(r) for r in fresh)
        self.usage.calls += len(requests)
        self.usage.cached_calls += len(requests) - len(miss)
        self.usage.tokens += cached_tokens + (0 if self.self_metered else fresh_tokens)
        return out

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return self._through_cache(
            "generate", requests, self._generation_estimate, self.inner.generate,
            lambda g: dict(g.__dict__), lambda d: Generation(**d))

    def _generation_estimate(self, requests) -> list[int]:
        prompts = self.inner.count_tokens(requests)
        return [p + r.max_new_tokens for p, r in zip(prompts, requests)]

    def logprob(self, requests: Sequence[LogprobRequest]) -> list[Logprob]:
        if not self.inner.supports_logprobs:
            raise UnsupportedError(f"model {self.name!r} gives no log-probabilities")
        return self._through_cache(
            "logprob", requests, self.inner.count_tokens, self.inner.logprob,
            lambda r: {"token_logprobs": list(r.token_logprobs),
                       "context_tokens": r.context_tokens, "billed_tokens": r.billed_tokens},
            lambda d: Logprob(tuple(d["token_logprobs"]), d["context_tokens"],
                              d.get("billed_tokens")))

    def choose(self, requests: Sequence[ChoiceRequest]) -> list[Choice]:
        """A chat backend's `choose` (`igtext.choice`), cached like the rest: a re-run costs
        nothing. The cache key holds the messages and options (and the model's name); the
        backend's top-k is not in it."""
        choose = getattr(self.inner, "choose", None)
        if choose is None:
            raise UnsupportedError(f"model {self.name!r} scores no chat choices")
        return self._through_cache(
            "choose", requests, lambda rs: [n + 1 for n in self.inner.count_tokens(rs)],
            choose, lambda c: {"logprobs": list(c.logprobs), "bounded": c.bounded,
                               "prompt_tokens": c.prompt_tokens,
                               "completion_tokens": c.completion_tokens},
            lambda d: Choice(tuple(d["logprobs"]), d["bounded"], d["prompt_tokens"],
                             d["completion_tokens"]))


def _n_tokens(result) -> int:
    if isinstance(result, (Generation, Choice)):
        return result.prompt_tokens + result.completion_tokens
    return result.n_tokens
