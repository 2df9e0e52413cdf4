"""A run: a search on a task, checkpointed to a run directory and resumable.

RUNDIR/
    config.json       the full RunConfig
    task.json         the task as loaded (built-in tasks are frozen here)
    events.jsonl      one event per proposal, score, selection, checkpoint
    checkpoint.json   search state + usage + log offset, rewritten atomically
    result.json       written once, at the end
"""
from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from igtext.config import RunConfig
from igtext.data import Example, SearchResult, Task
from igtext.errors import BudgetExceeded, InputError, RunDirError
from igtext.likelihood import Likelihood, normalise_answer
from igtext.lm.base import LanguageModel, LogprobRequest
from igtext.lm.budget import Budget, Usage
from igtext.lm.cache import DiskCache, MeteredLM, default_cache_dir
from igtext.objective import Scorer
from igtext.prior import Prior, PriorWeights
from igtext.prompts import Template, load_template
from igtext.proposer import Proposer
from igtext.runlog import RunLog
from igtext.search import SearchContext, SearchState, run_search
from igtext.search.beam import BeamSearch
from igtext.search.evolution import EvolutionSearch


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def config(self) -> Path: return self.root / "config.json"
    @property
    def task(self) -> Path: return self.root / "task.json"
    @property
    def events(self) -> Path: return self.root / "events.jsonl"
    @property
    def checkpoint(self) -> Path: return self.root / "checkpoint.json"
    @property
    def result(self) -> Path: return self.root / "result.json"


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_templates(config: RunConfig) -> dict[str, Template]:
    """Every template the run uses, loaded and checked before anything is written."""
    out = {k: load_template(k, config.templates.get(k))
           for k in ("likelihood", "prior_judge", "prior_text")}
    for op in ("initial", "refine", "crossover", "simplify"):
        out[op] = load_template(op, config.proposer.templates.get(op))
    return out


def build_strategy(config: RunConfig, task: Task):
    s = config.search
    seeds = tuple(([task.initial_hypothesis] if task.initial_hypothesis else []) + list(s.seeds))
    if s.strategy == "beam":
        return BeamSearch(width=s.beam_width, expansions=s.expansions, minibatch=s.minibatch,
                          p_refine=s.p_refine / max(s.p_refine + s.p_simplify, 1e-9), seeds=seeds)
    return EvolutionSearch(population=s.population, offspring=s.offspring, elite=s.elite,
                           tournament=s.tournament, p_refine=s.p_refine,
                           p_crossover=s.p_crossover, p_simplify=s.p_simplify, seeds=seeds)


def scoring_examples(task: Task, config: RunConfig) -> tuple[Example, ...]:
    """The examples of D the search scores on: a seeded shuffle, cut to `search_examples`."""
    order = list(task.train)
    random.Random(f"scoring-{config.seed}").shuffle(order)
    n = config.likelihood.search_examples
    return tuple(order[:n] if n else order)


def check_run_dir_free(out: str | os.PathLike) -> RunDir:
    """Refuse a run directory that already holds something."""
    rd = RunDir(Path(out))
    if rd.root.exists() and any(rd.root.iterdir()):
        hint = " (use `igtext resume`)" if rd.config.exists() else ""
        raise RunDirError(f"run directory is not empty{hint}", file=str(rd.root))
    return rd


def prepare_run_dir(out: str | os.PathLike, task: Task, config: RunConfig) -> RunDir:
    rd = check_run_dir_free(out)
    rd.root.mkdir(parents=True, exist_ok=True)
    saved = json.loads(config.to_json())
    saved["api"]["base_url"] = None      # never stored: `resume --base-url` or OPENAI_BASE_URL
    write_json_atomic(rd.config, saved)
    write_json_atomic(rd.task, task.to_dict())
    return rd


def read_run_dir(out: str | os.PathLike) -> tuple[RunDir, Task, RunConfig]:
    rd = RunDir(Path(out))
    if not rd.root.is_dir():
        raise RunDirError("no such run directory", file=str(rd.root))
    for p in (rd.config, rd.task):
        if not p.exists():
            raise RunDirError(f"incomplete run directory: {p.name} missing", file=str(rd.root))
    try:
        config = RunConfig.model_validate(json.loads(rd.config.read_text()))
        task = Task.from_dict(json.loads(rd.task.read_text()))
    except (ValueError, KeyError) as e:
        raise RunDirError(f"unreadable run files: {e}", file=str(rd.root)) from None
    return rd, task, config


def _eval_sets(task: Task) -> list[list[Example]]:
    """What the final evaluation of z* scores: D and D', and for open-ended tasks only the
    examples with a gold answer (they get greedy answers, nothing else does)."""
    sets = [list(task.train), list(task.test)]
    if not task.labels:
        sets = [[e for e in s if e.label is not None] for s in sets]
    return [s for s in sets if s]


def _eval_calls(task: Task) -> int:
    """LM calls of the final evaluation (+1: the content-free calibration row of a batch)."""
    if task.labels:
        return sum((len(s) + 1) * len(task.labels) for s in _eval_sets(task))
    return sum(len(s) for s in _eval_sets(task))


def min_calls_needed(task: Task, config: RunConfig) -> int:
    """LM calls that scoring one hypothesis and evaluating it on D and D' take."""
    n_search = len(scoring_examples(task, config))
    search = (n_search + 1) * len(task.labels) if task.labels else n_search
    prior = 2 if config.prior.judge_weight else 0
    prior += 1 if (config.prior.lm_weight or config.prior.token_cost) else 0
    return search + prior + _eval_calls(task)


def check_budget(task: Task, config: RunConfig) -> None:
    """Refuse, before anything is written, a call cap too small to do anything useful."""
    cap = config.budget.max_calls
    need = min_calls_needed(task, config)
    if cap is not None and cap < need:
        raise InputError(f"{cap} LM calls cannot score even one hypothesis and evaluate it on "
                         f"D and D' ({need} calls needed for this task)", field="budget.max_calls")


def answer_tokens(lm: LanguageModel, task: Task) -> int:
    """Greedy-answer length for open-ended tasks: the longest label in D plus a margin."""
    return max(lm.count_tokens([e.label for e in task.train if e.label] or [""])) + 8


def _eval_reserve(lm: LanguageModel, likelihood: Likelihood, task: Task, config: RunConfig,
                  seeds: tuple[str, ...]) -> tuple[int, int]:
    """Calls and tokens that the final evaluation of z* on D and D' can cost at most."""
    sets, labels = _eval_sets(task), task.labels
    calls = _eval_calls(task)
    if config.budget.max_tokens is None and config.budget.max_dollars is None:
        return calls, 0
    endings = [likelihood.continuation(y) for y in labels] if labels else [""]
    reqs = [LogprobRequest(likelihood.prompt("", e.input), y)
            for exs in sets for e in exs for y in endings]
    z_max = max([config.proposer.max_new_tokens] + lm.count_tokens(list(seeds))) + 16
    n_cf = len(labels or []) * len(sets)
    if not labels:
        z_max += answer_tokens(lm, task)
    return calls, sum(lm.count_tokens(reqs)) + (len(reqs) + n_cf) * (z_max + 8)


def logprob_method(lm: LanguageModel) -> str:
    """How M_L's numbers were obtained, for the log and result.json."""
    return getattr(lm, "logprob_method", "exact (local forward pass)")


def token_counting(lm: LanguageModel) -> str:
    from igtext.lm.openai_api import ENCODING
    return f"tiktoken {ENCODING}" if hasattr(lm, "bind_meter") else f"{lm.name} tokenizer"


def api_stats(lm: LanguageModel) -> dict | None:
    stats = getattr(lm, "stats", None)
    return stats.to_dict() if stats is not None else None


def _dollars(lm: LanguageModel, tokens: int, calls: int) -> float:
    """Worst-case dollars of `tokens` prompt tokens plus one output token per call."""
    price = getattr(lm, "price", None)
    return price.cost(tokens, calls) if price is not None else 0.0


def _accuracy(judgements, examples, calibrated: bool) -> float | None:
    gold = {e.id: e.label for e in examples if e.label is not None}
    preds = [(j.predicted(calibrated), gold[j.example_id]) for j in judgements
             if j.example_id in gold]
    if not preds or preds[0][0] is None:
        return None
    return sum(p == g for p, g in preds) / len(preds)


def _open_accuracy(likelihood: Likelihood, z: str, examples, max_new_tokens: int) -> float | None:
    """Exact-match accuracy of greedy answers under z (open-ended tasks)."""
    gold = [e for e in examples if e.label is not None]
    if not gold:
        return None
    answers = likelihood.answers(z, gold, max_new_tokens)
    hits = sum(normalise_answer(a) == normalise_answer(e.label) for a, e in zip(answers, gold))
    return hits / len(gold)


def _prior(lm, templates, task: Task, config: RunConfig):
    if config.prior.adapter:
        from igtext.lm.registry import base_model_dir
        from igtext.training.reward import RewardPrior
        return RewardPrior(config.prior.adapter, base_model_dir(config.model),
                           weight=config.prior.reward_weight)
    return Prior(lm, templates["prior_judge"], templates["prior_text"],
                 PriorWeights(config.prior.judge_weight, config.prior.lm_weight,
                              config.prior.token_cost), task.labels, task.description)


def _likelihood_lm(lm: MeteredLM, config: RunConfig) -> MeteredLM:
    if not config.likelihood.adapter:
        return lm
    from igtext.lm.registry import base_model_dir
    from igtext.training.likelihood_ft import load_tuned_lm
    tuned = load_tuned_lm(config.likelihood.adapter, base_model_dir(config.model), config.model)
    return MeteredLM(tuned, lm.cache, lm.budget, lm.usage)


def check_adapters(config: RunConfig) -> None:
    """Each adapter the config names exists, is of the right kind and was made for this
    base model (before anything is written or loaded)."""
    from igtext.training.adapters import check_adapter
    for kind, path in (("prior", config.prior.adapter), ("likelihood", config.likelihood.adapter),
                       ("proposer", config.proposer.adapter)):
        if path:
            check_adapter(path, kind, config.model, f"{kind}.adapter")


def _proposer_lm(lm: MeteredLM, config: RunConfig) -> MeteredLM:
    if not config.proposer.adapter:
        return lm
    from igtext.lm.registry import base_model_dir
    from igtext.training.adapters import load_adapter_lm
    tuned = load_adapter_lm(config.proposer.adapter, "proposer", base_model_dir(config.model),
                            config.model)
    return MeteredLM(tuned, lm.cache, lm.budget, lm.usage)


def _refresher(rd: RunDir, task: Task, config: RunConfig, lm: MeteredLM, annotator, progress):
    if not config.refresh.every:
        return None
    from igtext.judgments.annotators import ProxyAnnotator, simulated_for
    from igtext.judgments.store import JudgmentStore
    from igtext.lm.registry import base_model_dir
    from igtext.refresh import Refresher
    if annotator is None:
        judge = config.refresh.judge
        if judge == "simulated":
            annotator = simulated_for(task.name, config.seed)
        elif judge == "proxy":
            annotator = ProxyAnnotator(lm, task.labels)
        else:
            raise InputError(f"refresh.judge {judge!r} needs a person: run it from the "
                             f"command line", field="refresh.judge")
    store = JudgmentStore(rd.root / "judgments.sqlite")
    return Refresher(rd.root, task, config, annotator, store, base_model_dir(config.model),
                     config.model, lm, progress=progress)


def execute(rd: RunDir, task: Task, config: RunConfig, backend: LanguageModel,
            cache_dir: str | os.PathLike | None = None, progress: bool = True,
            annotator=None) -> SearchResult:
    """Run the search in `rd`, continuing from its checkpoint if there is one.

    `annotator` answers the step-3 questions when `refresh.every` > 0 (by default the one
    `refresh.judge` names)."""
    t_start = time.time()
    templates = load_templates(config)
    if rd.checkpoint.exists():
        ck = json.loads(rd.checkpoint.read_text())
        state = SearchState.from_dict(ck["state"])
        usage = Usage.from_dict(ck["usage"])
        offset, elapsed = ck["log_offset"], ck.get("wall_s", 0.0)
    else:
        state, usage, offset, elapsed = SearchState(), Usage(), 0, 0.0
    cache = DiskCache(default_cache_dir(cache_dir))
    full = Budget(config.budget.max_calls, config.budget.max_tokens, config.budget.max_dollars)
    lm = MeteredLM(backend, cache, full, usage)
    likelihood = Likelihood(_likelihood_lm(lm, config), templates["likelihood"], task.labels,
                            config.likelihood.content_free)
    prior = _prior(lm, templates, task, config)
    examples = scoring_examples(task, config)
    scorer = Scorer(likelihood, prior, examples, len(examples), config.prior.weight,
                    config.likelihood.calibrate)
    p = config.proposer
    proposer_lm = _proposer_lm(lm, config)
    proposer = Proposer(proposer_lm, task, {k: templates[k] for k in ("initial", "refine", "crossover",
                                                             "simplify")},
                        temperature=p.temperature, top_p=p.top_p, max_new_tokens=p.max_new_tokens,
                        max_chars=p.max_chars, n_examples=p.n_examples, n_errors=p.n_errors)
    strategy = build_strategy(config, task)
    res_calls, res_tokens = _eval_reserve(backend, likelihood, task, config, strategy.seeds)
    res_dollars = _dollars(backend, res_tokens, res_calls)
    lm.budget = Budget(None if full.max_calls is None else max(0, full.max_calls - res_calls),
                       None if full.max_tokens is None else max(0, full.max_tokens - res_tokens),
                       None if full.max_dollars is None else
                       max(0.0, full.max_dollars - res_dollars))
    log = RunLog(rd.events, usage, truncate_at=offset)
    if offset == 0:
        log.emit("run_start", task=task.name, model=backend.name, seed=config.seed,
                 strategy=config.search.strategy, n_train=len(task.train), n_test=len(task.test),
                 n_search_examples=len(examples),
                 templates={k: t.hash for k, t in templates.items()},
                 logprob_method=logprob_method(backend), proposer_model=proposer_lm.name,
                 eval_reserve={"calls": res_calls, "tokens": res_tokens, "dollars": res_dollars})
    else:
        log.emit("resume", generation=state.generation)
    ctx = SearchContext(scorer, proposer, log, state, random.Random(config.seed))
    refresher = _refresher(rd, task, config, lm, annotator, progress)
    if refresher is not None and state.adapters:
        refresher.install(ctx, state.adapters)        # resuming after a refresh

    def checkpoint() -> None:
        log.emit("checkpoint", generation=state.generation, api=api_stats(backend))
        write_json_atomic(rd.checkpoint, {"state": state.to_dict(), "usage": usage.to_dict(),
                                          "log_offset": log.offset(),
                                          "wall_s": elapsed + time.time() - t_start})

    with _progress(progress, config.search.generations) as on_event:
        log.listeners.append(on_event)
        run_search(ctx, strategy, config.search.generations, checkpoint, refresher)
        log.listeners.remove(on_event)

    best = state.best()
    if best is None:
        log.close()
        raise InputError(f"the budget ran out before any hypothesis was scored in full "
                         f"({state.exhausted}); raise budget.max_calls or budget.max_tokens",
                         field="budget")
    likelihood = scorer.likelihood          # a refresh may have swapped in a fitted M_L
    lm.budget = likelihood.lm.budget = full
    acc: dict[str, dict[str, float | None]] = {}
    eval_note = None
    try:
        for split, exs in (("train", task.train), ("test", task.test)):
            if task.labels:
                js = likelihood.judge(best.hypothesis.text, exs) if exs else []
                acc[split] = {"raw": _accuracy(js, exs, False),
                              "calibrated": _accuracy(js, exs, True)}
            else:
                a = _open_accuracy(likelihood, best.hypothesis.text, exs,
                                   answer_tokens(backend, task))
                acc[split] = {"raw": a, "calibrated": a}
    except BudgetExceeded as e:
        eval_note = str(e)
    mode = "calibrated" if config.likelihood.calibrate else "raw"
    log.emit("evaluate", id=best.id, accuracy=acc, note=eval_note)
    wall = elapsed + time.time() - t_start
    result = {
        "task": task.name, "model": backend.name, "strategy": config.search.strategy,
        "seed": config.seed,
        "best": {"id": best.id, "text": best.hypothesis.text, "prior": best.prior,
                 "prior_parts": dict(best.prior_parts), "loglik": best.loglik,
                 "objective": best.objective, "operator": best.hypothesis.operator,
                 "parents": list(best.hypothesis.parents),
                 "search_accuracy": best.accuracy},
        "train_accuracy": acc.get("train", {}).get(mode),
        "test_accuracy": acc.get("test", {}).get(mode),
        "accuracy": acc, "accuracy_mode": mode,
        "lm_calls": usage.calls, "lm_calls_cached": usage.cached_calls, "lm_tokens": usage.tokens,
        "lm_dollars": round(usage.dollars, 6), "logprob_method": logprob_method(backend),
        "token_count": token_counting(backend), "api": api_stats(backend),
        "budget": config.budget.model_dump(), "budget_exhausted": state.exhausted,
        "evaluation_note": eval_note, "adapters": dict(state.adapters),
        "likelihood_model": likelihood.lm.name, "proposer_model": proposer_lm.name,
        "generations": state.generation, "hypotheses_scored": len(state.scored),
        "proposals_dropped": dict(state.dropped), "n_search_examples": len(examples),
        "templates": {k: t.hash for k, t in templates.items()},
        "wall_s": round(wall, 2),
    }
    log.emit("run_end", best=best.id, objective=best.objective, wall_s=round(wall, 2))
    log.close()
    write_json_atomic(rd.result, result)
    cache.close()
    ranked = sorted(state.scored.values(), key=lambda s: (-s.objective, s.id))
    return SearchResult(best=best, candidates=tuple(ranked),
                        train_accuracy=result["train_accuracy"],
                        test_accuracy=result["test_accuracy"], extra=result)


class _progress:
    """A rich progress bar over generations, fed by run-log events (silent when disabled)."""

    def __init__(self, enabled: bool, generations: int):
        self.enabled, self.total = enabled, generations + 1

    def __enter__(self):
        if not self.enabled:
            return lambda event: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
        from rich.progress import TimeElapsedColumn
        self.p = Progress(TextColumn("[bold]search"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("{task.description}"), TimeElapsedColumn(),
                          transient=False)
        self.p.start()
        self.t = self.p.add_task("proposing the initial population", total=self.total)
        seen = {"best": None, "scored": 0}

        def on_event(e: dict) -> None:
            kind, gen = e["event"], e.get("generation", 0)
            if kind == "score":
                seen["scored"] += 1
                if e["complete"] and (seen["best"] is None or e["objective"] > seen["best"]):
                    seen["best"] = e["objective"]
            elif kind != "checkpoint":
                return
            best = "" if seen["best"] is None else f", best objective {seen['best']:.2f}"
            self.p.update(self.t, completed=gen + (1 if kind == "checkpoint" else 0),
                          description=f"generation {gen}: {seen['scored']} scored{best}, "
                                      f"{e['lm_calls']} LM calls")
        return on_event

    def __exit__(self, *exc):
        if self.enabled:
            self.p.stop()
        return False
