"""Beam search with successive halving.

Each step expands every beam member into `expansions` children (refine or simplify).
Children are scored on a minibatch (a prefix of the fixed example order); the better half
by estimated objective goes on to a minibatch twice as large, until at most `width`
remain or the minibatch covers every example. The finalists are then scored in full, and
the new beam is the best `width` of old beam and finalists.
"""
from __future__ import annotations

from dataclasses import dataclass

from igtext.proposer import Job
from igtext.records import Halving
from igtext.search.base import SearchContext, initial_population


@dataclass(frozen=True)
class BeamSearch:
    width: int = 3
    expansions: int = 2
    minibatch: int = 8
    p_refine: float = 0.7
    initial_describe: int = 0
    seeds: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, s, seeds: tuple[str, ...]) -> "BeamSearch":
        """From a `SearchConfig`; refine and simplify keep their ratio (no crossover here)."""
        return cls(width=s.beam_width, expansions=s.expansions, minibatch=s.minibatch,
                   p_refine=s.p_refine / max(s.p_refine + s.p_simplify, 1e-9),
                   initial_describe=s.initial_describe, seeds=seeds)

    def initialize(self, ctx: SearchContext) -> None:
        initial_population(ctx, self.width, self.seeds, self.initial_describe)

    def step(self, ctx: SearchContext) -> None:
        state = ctx.state
        beam = ctx.scored(state.population)
        if not beam:
            return
        jobs = []
        for i, parent in enumerate(beam):
            for k in range(self.expansions):
                op = "refine" if ctx.rng.random() < self.p_refine else "simplify"
                jobs.append(Job(op, (parent,), sample_index=state.generation * 1000 + i * 50 + k,
                                generation=state.generation))
        candidates = ctx.propose(jobs)
        total = len(ctx.scorer.examples)
        n = min(self.minibatch, total)
        while candidates and len(candidates) > self.width and n < total:
            rung = ctx.score(candidates, n_examples=n)
            rung.sort(key=lambda s: (-s.objective, s.id))
            keep = max(self.width, (len(rung) + 1) // 2)
            ctx.log.emit(Halving(generation=state.generation, n_examples=n,
                                 kept=[s.id for s in rung[:keep]],
                                 cut=[s.id for s in rung[keep:]]))
            candidates = [s.hypothesis for s in rung[:keep]]
            n = min(2 * n, total)
        finalists = ctx.score(candidates)
        pool = sorted(beam + finalists, key=lambda s: (-s.objective, s.id))
        state.population = [s.id for s in pool[:self.width]]
