"""On-disk cache of LM calls (SQLite, safe under kill -9 and several processes).

The key is the sha256 of the whole request: model name, call kind, every sampling
parameter and the sample index. Credentials never go into `LanguageModel.name`.
A batch is written in one transaction after the backend returns it, so a batch is either
wholly cached or not at all.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Sequence

from igtext.errors import UnsupportedError
from igtext.lm.base import (Generation, GenerationRequest, LanguageModel, Logprob,
                            LogprobRequest)
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT)")

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


class MeteredLM:
    """Wraps a backend with the disk cache, the budget and the usage counters.

    It implements the same `LanguageModel` protocol, so scorers and proposers never know
    whether a call was cached. Raises `BudgetExceeded` before sending a batch that would
    go past a cap.
    """

    def __init__(self, inner: LanguageModel, cache: DiskCache | None, budget: Budget,
                 usage: Usage | None = None):
        self.inner, self.cache, self.budget = inner, cache, budget
        self.usage = usage if usage is not None else Usage()
        self.name = inner.name
        self.supports_logprobs = inner.supports_logprobs

    def count_tokens(self, items):
        return self.inner.count_tokens(items)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        keys = [DiskCache.key(self.name, "generate", r.key_dict()) for r in requests]
        hits = self.cache.get_many(keys) if self.cache else {}
        miss = [i for i, k in enumerate(keys) if k not in hits]
        need = sum(hits[k]["prompt_tokens"] + hits[k]["completion_tokens"]
                   for k in keys if k in hits)
        if miss:
            prompt_counts = self.inner.count_tokens([requests[i] for i in miss])
            need += sum(p + requests[i].max_new_tokens for p, i in zip(prompt_counts, miss))
        self.budget.check(self.usage, len(requests), need)
        fresh = self.inner.generate([requests[i] for i in miss]) if miss else []
        records = {keys[i]: g.__dict__ for i, g in zip(miss, fresh)}
        if self.cache and records:
            self.cache.put_many(records)
        hits.update(records)
        out = [Generation(**hits[k]) for k in keys]
        self._charge(len(requests), len(requests) - len(miss),
                     sum(g.prompt_tokens + g.completion_tokens for g in out))
        return out

    def logprob(self, requests: Sequence[LogprobRequest]) -> list[Logprob]:
        if not self.inner.supports_logprobs:
            raise UnsupportedError(f"model {self.name!r} gives no log-probabilities")
        keys = [DiskCache.key(self.name, "logprob", r.key_dict()) for r in requests]
        hits = self.cache.get_many(keys) if self.cache else {}
        miss = [i for i, k in enumerate(keys) if k not in hits]
        need = sum(hits[k]["context_tokens"] + len(hits[k]["token_logprobs"])
                   for k in keys if k in hits)
        if miss:
            need += sum(self.inner.count_tokens([requests[i] for i in miss]))
        self.budget.check(self.usage, len(requests), need)
        fresh = self.inner.logprob([requests[i] for i in miss]) if miss else []
        records = {keys[i]: {"token_logprobs": list(r.token_logprobs),
                             "context_tokens": r.context_tokens} for i, r in zip(miss, fresh)}
        if self.cache and records:
            self.cache.put_many(records)
        hits.update(records)
        out = [Logprob(tuple(hits[k]["token_logprobs"]), hits[k]["context_tokens"]) for k in keys]
        self._charge(len(requests), len(requests) - len(miss), sum(r.n_tokens for r in out))
        return out

    def _charge(self, calls: int, cached: int, tokens: int) -> None:
        self.usage.calls += calls
        self.usage.cached_calls += cached
        self.usage.tokens += tokens
