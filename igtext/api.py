"""The Python API, mirroring the CLI.

    >>> import igtext
    >>> result = igtext.search("builtin:husky", out_dir="runs/husky", max_calls=5000)
    >>> print(result.best.hypothesis.text, result.test_accuracy)
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from igtext import components
from igtext.config import RunConfig, load_config
from igtext.data import SearchResult, Task
from igtext.lm.base import LanguageModel
from igtext.run import execute
from igtext.rundir import prepare_run_dir, read_run_dir


def _task(task: Task | str | os.PathLike) -> Task:
    if isinstance(task, Task):
        return task
    from igtext.tasks import load_task
    return load_task(task)


def _model(config: RunConfig, model: LanguageModel | str | None) -> LanguageModel:
    if model is not None and not isinstance(model, str):
        return model
    return components.load_backend(config)


def search(task: Task | str | os.PathLike, *, config: RunConfig | str | os.PathLike | None = None,
           model: LanguageModel | str | None = None, out_dir: str | os.PathLike | None = None,
           cache_dir: str | os.PathLike | None = None, seed: int | None = None,
           strategy: str | None = None, max_calls: int | None = None,
           max_tokens: int | None = None, proposal_prompts: dict[str, str] | None = None,
           proposer_adapter: str | os.PathLike | None = None,
           generations: int | None = None, population: int | None = None,
           settings: dict[str, Any] | None = None, preset: str | None = None,
           progress: bool = False) -> SearchResult:
    """Search for z* on `task` and evaluate it on D and D'.

    Keyword settings (`seed`, `strategy`, `generations`, `population`, `max_calls`, ...)
    override `config`; `settings` maps any other config key, dotted, to its value
    (`{"likelihood.search_examples": 16}`, see docs/configuration.md). `preset` ("quick",
    "default", "thorough", `igtext.effort`) fills what neither sets.

    `model` is a CLI name (`smollm2-135m`, `gemma3-270m`, `hf:PATH`) or any object that
    implements `igtext.lm.LanguageModel`. `proposal_prompts` maps an operator
    (initial, refine, crossover, simplify) to a template file; `proposer_adapter` is a
    proposal model fine-tuned with `igtext train-proposer`.
    """
    cfg = config if isinstance(config, RunConfig) else load_config(config)
    overrides = {"seed": seed, "search.strategy": strategy, "budget.max_calls": max_calls,
                 "budget.max_tokens": max_tokens,
                 "search.generations": generations, "search.population": population,
                 "proposer.adapter": components.absolute(proposer_adapter),
                 **(settings or {})}
    if isinstance(model, str):
        overrides["model"] = model
    if proposal_prompts:
        overrides["proposer.templates"] = {**cfg.proposer.templates, **proposal_prompts}
    cfg = cfg.with_overrides("igtext.search", **overrides)
    from igtext import effort
    cfg = effort.apply(cfg, preset)
    t = _task(task)
    if isinstance(model, (str, type(None))):    # loaded by name: a preset brings its parts
        from igtext.presets import resolve
        cfg = resolve(cfg, t)
    components.preflight(t, cfg, out_dir, backend_given=not isinstance(model, (str, type(None))),
                         cache_dir=cache_dir)
    lm = _model(cfg, model)
    components.check_scoring(t, cfg, lm)
    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="igtext-run-"))
    rd = prepare_run_dir(out, t, cfg)
    return execute(rd, t, cfg, lm, cache_dir, progress=progress)


def resume(run_dir: str | os.PathLike, *, model: LanguageModel | None = None,
           cache_dir: str | os.PathLike | None = None, progress: bool = False) -> SearchResult:
    """Continue a run from its last checkpoint (it ends as an uninterrupted run would)."""
    rd, task, cfg = read_run_dir(run_dir)
    components.check_adapters(cfg)
    return execute(rd, task, cfg, _model(cfg, model), cache_dir, progress=progress)
