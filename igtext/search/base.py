"""What every search strategy shares: its state, its context, and the generation loop.

`SearchState` is the search's working memory and the body of each checkpoint: it is the
one mutable record here, and it round-trips through JSON exactly (the RNG state included),
which is what lets `resume` continue a killed run to the same z*.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from igtext.data import Hypothesis, Scored
from igtext.errors import BudgetExceeded
from igtext.objective import Scorer
from igtext.proposer import Job, Proposer
from igtext.records import BudgetExhausted, Propose, Score, Select
from igtext.runlog import RunLog


@dataclass
class SearchState:
    generation: int = 0
    population: list[str] = field(default_factory=list)
    scored: dict[str, Scored] = field(default_factory=dict)
    rng_state: list | None = None
    dropped: Counter = field(default_factory=Counter)
    exhausted: str | None = None        # why the budget stopped the search, if it did
    initialized: bool = False
    adapters: dict = field(default_factory=dict)   # fitted models in use (step 3), by kind

    def best(self) -> Scored | None:
        done = [s for s in self.scored.values() if s.complete]
        return max(done, key=lambda s: (s.objective, s.id)) if done else None

    def to_dict(self) -> dict:
        return {"generation": self.generation, "population": self.population,
                "scored": {k: v.to_dict() for k, v in self.scored.items()},
                "rng_state": self.rng_state, "dropped": dict(self.dropped),
                "exhausted": self.exhausted, "initialized": self.initialized,
                "adapters": self.adapters}

    @classmethod
    def from_dict(cls, d: dict) -> "SearchState":
        return cls(generation=d["generation"], population=list(d["population"]),
                   scored={k: Scored.from_dict(v) for k, v in d["scored"].items()},
                   rng_state=d["rng_state"], dropped=Counter(d.get("dropped", {})),
                   exhausted=d.get("exhausted"), initialized=d.get("initialized", False),
                   adapters=d.get("adapters", {}))


def _rng_to_json(state) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _rng_from_json(data) -> tuple:
    version, internal, gauss = data
    return (version, tuple(internal), gauss)


class SearchContext:
    """The objects a strategy works with; nothing global. Proposals and scores are logged."""

    def __init__(self, scorer: Scorer, proposer: Proposer, log: RunLog, state: SearchState,
                 rng: random.Random):
        self.scorer, self.proposer, self.log, self.state, self.rng = (scorer, proposer, log,
                                                                      state, rng)

    def propose(self, jobs: Sequence[Job]) -> list[Hypothesis]:
        """New, not yet seen hypotheses from `jobs` (duplicates and dropped outputs removed)."""
        fresh: dict[str, Hypothesis] = {}
        for p in self.proposer.propose(jobs, self.rng):
            h = p.hypothesis
            if h is None:
                self.state.dropped[p.dropped] += 1
            self.log.emit(Propose(generation=p.job.generation, operator=p.job.operator,
                                  parents=[s.id for s in p.job.parents],
                                  template_hash=p.template_hash, id=h.id if h else None,
                                  text=h.text if h else None, dropped=p.dropped,
                                  raw=p.raw if h is None else None))
            if h is not None and h.id not in self.state.scored and h.id not in fresh:
                fresh[h.id] = h
        return list(fresh.values())

    def score(self, hyps: Sequence[Hypothesis], n_examples: int | None = None) -> list[Scored]:
        """Score (or extend the scoring of) hypotheses; records them in the state."""
        out = []
        for h in hyps:      # one z per LM batch: its prompt prefix is shared by all rows
            s = self.scorer.score([h], n_examples, previous=self.state.scored)[0]
            self.state.scored[s.id] = s
            self.log.emit(Score(
                generation=self.state.generation, id=s.id, text=s.hypothesis.text,
                parents=list(s.hypothesis.parents), operator=s.hypothesis.operator,
                template_hash=s.hypothesis.template_hash, prior=s.prior,
                prior_parts=dict(s.prior_parts), loglik=s.loglik, objective=s.objective,
                accuracy=s.accuracy, n_scored=len(s.example_loglik), complete=s.complete,
                example_loglik={k: round(v, 4) for k, v in s.example_loglik.items()},
                wrong=sorted(k for k, ok in s.example_correct.items() if not ok)))
            out.append(s)
        return out

    def scored(self, ids: Sequence[str]) -> list[Scored]:
        return [self.state.scored[i] for i in ids]


class Strategy(Protocol):
    """A search strategy: seed the population once, then improve it one generation a step.
    `seeds` are the hypotheses it starts from (the task's initial z, the config's seeds)."""
    seeds: tuple[str, ...]

    def initialize(self, ctx: SearchContext) -> None: ...

    def step(self, ctx: SearchContext) -> None: ...


def initial_population(ctx: SearchContext, size: int, seeds: Sequence[str],
                       describe: int = 0) -> None:
    """Given seeds (e.g. the task's initial z) plus proposals, scored in full: `describe`
    of them by the describe operator, the rest by `initial`."""
    given = [Hypothesis(text=t.strip(), operator="given") for t in seeds if t and t.strip()]
    jobs = [Job("describe" if k < describe else "initial", (), sample_index=k, generation=0)
            for k in range(max(0, size - len(given)))]
    hyps = {h.id: h for h in given}
    for h in ctx.propose(jobs):
        hyps.setdefault(h.id, h)
    ctx.score(list(hyps.values()))
    ranked = sorted(ctx.scored(list(hyps)), key=lambda s: (-s.objective, s.id))
    ctx.state.population = [s.id for s in ranked[:size]]


def run_search(ctx: SearchContext, strategy: Strategy, generations: int,
               checkpoint: Callable[[], None],
               after_step: Callable[[SearchContext], None] | None = None) -> SearchState:
    """Run (or continue) the search until `generations` or the budget runs out.

    `after_step` runs after each generation, before its checkpoint (the step-3 refresh)."""
    state = ctx.state
    if state.rng_state is not None:
        ctx.rng.setstate(_rng_from_json(state.rng_state))

    def guarded(fn) -> bool:
        try:
            fn(ctx)
            return True
        except BudgetExceeded as e:
            state.exhausted = str(e)
            ctx.log.emit(BudgetExhausted(generation=state.generation, reason=str(e)))
            return False

    if not state.initialized:
        guarded(strategy.initialize)
        state.initialized = True
        _select_event(ctx)
        state.rng_state = _rng_to_json(ctx.rng.getstate())
        checkpoint()
    while state.generation < generations and not state.exhausted:
        state.generation += 1
        if guarded(strategy.step) and after_step is not None:
            guarded(after_step)
        _select_event(ctx)
        state.rng_state = _rng_to_json(ctx.rng.getstate())
        checkpoint()
    return state


def _select_event(ctx: SearchContext) -> None:
    best = ctx.state.best()
    ctx.log.emit(Select(generation=ctx.state.generation, population=list(ctx.state.population),
                        best=best.id if best else None,
                        best_objective=best.objective if best else None))
