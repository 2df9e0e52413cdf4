"""Hard caps on LM calls and tokens, and the running counts they are checked against.

Counts are *logical*: a request served from the disk cache still counts as a call, so a
search follows the same path whether or not the cache is warm (that is what makes a
resumed run end where an uninterrupted one does). `cached_calls` says how many were free.
"""
from __future__ import annotations

from dataclasses import dataclass

from igtext.errors import BudgetExceeded


@dataclass
class Usage:
    calls: int = 0
    cached_calls: int = 0
    tokens: int = 0
    dollars: float = 0.0       # real spend: only calls that reached a priced API

    def to_dict(self) -> dict:
        return {"calls": self.calls, "cached_calls": self.cached_calls, "tokens": self.tokens,
                "dollars": self.dollars}

    @classmethod
    def from_dict(cls, d: dict) -> "Usage":
        return cls(**{k: int(d.get(k, 0)) for k in ("calls", "cached_calls", "tokens")},
                   dollars=float(d.get("dollars", 0.0)))


@dataclass(frozen=True)
class Budget:
    """Caps; None means no cap. Checked before every call is sent, never exceeded."""
    max_calls: int | None = None
    max_tokens: int | None = None
    max_dollars: float | None = None

    def check(self, usage: Usage, calls: int, tokens: int, dollars: float = 0.0) -> None:
        if self.max_calls is not None and usage.calls + calls > self.max_calls:
            raise BudgetExceeded("LM calls", usage.calls, calls, self.max_calls)
        if self.max_tokens is not None and usage.tokens + tokens > self.max_tokens:
            raise BudgetExceeded("LM tokens", usage.tokens, tokens, self.max_tokens)
        if self.max_dollars is not None and usage.dollars + dollars > self.max_dollars + 1e-12:
            raise BudgetExceeded("dollars", round(usage.dollars, 6), round(dollars, 6),
                                 self.max_dollars)
