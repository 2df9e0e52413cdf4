"""Evolutionary search: tournament selection, elitism, mutation (refine, simplify), crossover."""
from __future__ import annotations

from dataclasses import dataclass

from igtext.data import Scored
from igtext.proposer import Job
from igtext.search.base import SearchContext, initial_population


@dataclass(frozen=True)
class EvolutionSearch:
    population: int = 6
    offspring: int = 6
    elite: int = 2
    tournament: int = 3
    p_refine: float = 0.5
    p_crossover: float = 0.25
    p_simplify: float = 0.25
    p_describe: float = 0.0
    initial_describe: int = 0
    seeds: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, s, seeds: tuple[str, ...]) -> "EvolutionSearch":
        """From a `SearchConfig`."""
        return cls(population=s.population, offspring=s.offspring, elite=s.elite,
                   tournament=s.tournament, p_refine=s.p_refine, p_crossover=s.p_crossover,
                   p_simplify=s.p_simplify, p_describe=s.p_describe,
                   initial_describe=s.initial_describe, seeds=seeds)

    def initialize(self, ctx: SearchContext) -> None:
        initial_population(ctx, self.population, self.seeds, self.initial_describe)

    def _tournament(self, ctx: SearchContext, pool: list[Scored]) -> Scored:
        entrants = ctx.rng.sample(pool, min(self.tournament, len(pool)))
        return max(entrants, key=lambda s: (s.objective, s.id))

    def step(self, ctx: SearchContext) -> None:
        state = ctx.state
        pop = ctx.scored(state.population)
        if not pop:
            return
        jobs = []
        for k in range(self.offspring):
            # (with p_describe 0, the same draws as before the describe operator existed)
            op = ctx.rng.choices(("refine", "crossover", "simplify", "describe"),
                                 (self.p_refine, self.p_crossover, self.p_simplify,
                                  self.p_describe))[0]
            if op == "describe":
                jobs.append(Job(op, (), sample_index=state.generation * 1000 + k,
                                generation=state.generation))
                continue
            a = self._tournament(ctx, pop)
            if op == "crossover" and len(pop) > 1:
                b = self._tournament(ctx, [s for s in pop if s.id != a.id])
                parents = (a, b)
            else:
                op = "refine" if op == "crossover" else op
                parents = (a,)
            jobs.append(Job(op, parents, sample_index=state.generation * 1000 + k,
                            generation=state.generation))
        children = ctx.score(ctx.propose(jobs))
        # (mu + lambda) with elitism: the best `elite` always survive, the rest by tournament.
        pool = sorted(pop + children, key=lambda s: (-s.objective, s.id))
        survivors = pool[:self.elite]
        rest = pool[self.elite:]
        while len(survivors) < self.population and rest:
            pick = self._tournament(ctx, rest)
            survivors.append(pick)
            rest = [s for s in rest if s.id != pick.id]
        state.population = [s.id for s in sorted(survivors, key=lambda s: (-s.objective, s.id))]
