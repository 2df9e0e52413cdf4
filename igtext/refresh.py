"""Seed step 3: while the search moves, ask about the z's it is looking at now, and refit.

Every `refresh.every` generations: take the current top z's, make comparisons (every pair
of the top z's, then each top z against others the search has scored) and label items
(each top z with inputs from D and D'), collect the answers into the run's judgment store,
refit the prior and M_L with LoRA on everything collected so far, swap them into the
scorer, and rescore the population. When the run starts from fitted adapters
(`prior.adapter`, `likelihood.adapter`), each refit continues from them, at a quarter of the
learning rate, rather than from the base model: a few dozen new judgments then adjust the
fitted models to the z's and inputs the search is looking at instead of replacing
them. The refits use the run config's LoRA recipes (`lora.prior`, `lora.likelihood`) with
the run's seed and `refresh.prior_epochs` / `refresh.likelihood_epochs`. Each refresh is one
`refresh` event in the run log; the adapters live under RUNDIR/adapters/ and the checkpoint
names the current ones.
"""
from __future__ import annotations

import itertools
import random

from igtext import components
from igtext.data import Task
from igtext.judgments.annotators import ask
from igtext.judgments.store import JudgmentStore
from igtext.lm.cache import MeteredLM
from igtext.lm.registry import base_model_dir
from igtext.records import Refresh
from igtext.rundir import RunDir
from igtext.search.base import SearchContext
from igtext.training.likelihood_ft import fit_likelihood
from igtext.training.lora import LoraSettings
from igtext.training.reward import fit_prior

WARM_LR_SCALE = 0.25      # learning rate of a refit that continues from a fitted adapter


class Refresher:
    def __init__(self, rd: RunDir, task: Task, config, annotator, store: JudgmentStore,
                 metered: MeteredLM, progress: bool = False):
        self.rd, self.task, self.cfg, self.annotator = rd, task, config, annotator
        self.store, self.metered, self.progress = store, metered, progress
        self.base_name = config.model
        self.base_dir = base_model_dir(config.model)

    def __call__(self, ctx: SearchContext) -> None:
        r = self.cfg.refresh
        state = ctx.state
        if not r.every or state.generation % r.every:
            return
        rng = random.Random(f"refresh-{self.cfg.seed}-{state.generation}")
        ranked = sorted((s for s in state.scored.values() if s.complete),
                        key=lambda s: (-s.objective, s.id))
        top = [s.hypothesis.text for s in ranked[:r.top]]
        others = [s.hypothesis.text for s in ranked[r.top:]] or top
        pairs = list(itertools.combinations(top, 2))[:r.comparisons]
        while len(pairs) < r.comparisons and len(top) > 0:
            pairs.append((rng.choice(top), rng.choice(others)))
        pairs = [(a, b) if rng.random() < 0.5 else (b, a) for a, b in pairs if a != b]
        inputs = [e.input for e in self.task.train + self.task.test]
        items = [(rng.choice(top), rng.choice(inputs)) for _ in range(r.labels)] if top else []
        self.store.add(ask(self.annotator, pairs, items))
        src, who = self.annotator.source, self.annotator.annotator
        adapters = self._refit(state.generation)
        self.install(ctx, adapters)
        keep = [state.scored[i].hypothesis for i in state.population]
        state.scored = {}
        ctx.score(keep)
        counts = self.store.counts()
        ctx.log.emit(Refresh(generation=state.generation, judge=src, annotator=who,
                             new_comparisons=len(pairs), new_labels=len(items), store=counts,
                             adapters={k: v["path"] for k, v in adapters.items()},
                             fit={k: v["report"] for k, v in adapters.items()}))
        state.adapters = {k: v["path"] for k, v in adapters.items()}

    def _refit(self, generation: int) -> dict:
        r = self.cfg.refresh
        out = {}
        comps = [(c.z_a, c.z_b, c.winner) for c in self.store.comparisons()]
        if sum(w in ("a", "b") for _, _, w in comps) >= 4:
            path = self.rd.adapter("prior", generation)
            init = self.cfg.prior.adapter
            rep = fit_prior(comps, self.base_dir, path,
                            refit_settings(self.cfg.lora.prior, r.prior_epochs,
                                           self.cfg.seed, bool(init)),
                            base_name=self.base_name, progress=self.progress, init=init)
            out["prior"] = {"path": self.rd.relative(path), "report": rep}
        labels = self.store.labels()
        if self.task.labels and len(labels) >= 4:
            path = self.rd.adapter("likelihood", generation)
            init = self.cfg.likelihood.adapter
            rep = fit_likelihood(labels, self.task.labels, self.base_dir, path,
                                 refit_settings(self.cfg.lora.likelihood, r.likelihood_epochs,
                                                self.cfg.seed, bool(init)),
                                 base_name=self.base_name, progress=self.progress, init=init)
            out["likelihood"] = {"path": self.rd.relative(path), "report": rep}
        return out

    def install(self, ctx: SearchContext, adapters: dict) -> None:
        """Put fitted models into the scorer (also used when a run resumes)."""
        paths = {k: (v["path"] if isinstance(v, dict) else v) for k, v in adapters.items()}
        scorer = ctx.scorer
        if "prior" in paths:
            scorer.prior = components.reward_prior(self.rd.resolve(paths["prior"]), self.cfg)
        if "likelihood" in paths:
            scorer.likelihood = scorer.likelihood.with_lm(components.adapter_lm(
                self.metered, "likelihood", self.rd.resolve(paths["likelihood"]),
                self.base_name))


def refit_settings(recipe, epochs: int, seed: int, warm: bool) -> LoraSettings:
    """A refit's LoRA settings: the run's recipe (`lora.prior` or `lora.likelihood`) with the
    run's seed and `refresh.*_epochs`, at `WARM_LR_SCALE` of its learning rate when it
    continues a fitted adapter (`warm`)."""
    from dataclasses import replace
    settings = recipe.settings()
    return replace(settings, epochs=epochs, seed=seed,
                   lr=settings.lr * (WARM_LR_SCALE if warm else 1))
