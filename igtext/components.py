"""The one assembly point: from a config, a task and a backend, the parts a run is made of.

    metered LM    the backend behind the disk cache, the budget and the usage counters
    likelihood    M_L(y | x, z), on a fitted adapter when the config names one
    prior         M_prior(z): the LM judge, or a fitted Bradley-Terry adapter
    proposer      the LM (or its fitted proposal adapter) that writes and edits z's
    scorer        prior + likelihood on the scoring examples of D
    strategy      evolutionary or beam search

`run`, `label`, `distil`, the step-3 refresh and the scripts under eval/ build these here,
and nowhere else. `preflight` holds the checks that run before anything is written, shared
by the command line and the Python API.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from igtext.config import RunConfig
from igtext.data import Example, Task
from igtext.errors import InputError
from igtext.likelihood import Likelihood
from igtext.lm.base import LanguageModel, LogprobRequest, describe, dollars
from igtext.lm.budget import Budget, Usage
from igtext.lm.cache import DiskCache, MeteredLM, default_cache_dir
from igtext.objective import Scorer
from igtext.prior import Prior, PriorWeights
from igtext.prompts import OPERATORS, Template, load_template
from igtext.proposer import Proposer
from igtext.rulewise import Calibration, RulewiseLikelihood
from igtext.rundir import RunDir, check_run_dir_free
from igtext.search.base import Strategy

SCORING_TEMPLATES = ("likelihood", "likelihood_rule", "prior_judge", "prior_text",
                     "chat_choice")


def load_templates(config: RunConfig) -> dict[str, Template]:
    """Every template the run uses, loaded and checked before anything is written."""
    out = {k: load_template(k, config.templates.get(k)) for k in SCORING_TEMPLATES}
    for op in OPERATORS:
        out[op] = load_template(op, config.proposer.templates.get(op))
    return out


# ---- the LM stack ------------------------------------------------------------------------

def load_backend(config: RunConfig) -> LanguageModel:
    """The config's model; any failure to load or reach it is bad input (`InputError`), and
    so is a server that can score nothing (no log-probabilities, no chat answers)."""
    from igtext.errors import ModelError
    from igtext.lm.registry import load_model
    try:
        lm = load_model(config.model, config.api)
    except ModelError as e:
        raise InputError(str(e), field="model") from None
    if not lm.supports_logprobs and describe(lm).exact:
        raise InputError(f"{lm.name} gives no log-probabilities and is not read by chat or "
                         f"sampling, and the search scores M_L(y|x,z)", field="model")
    return lm


def answers(task: Task, config: RunConfig) -> tuple[str, ...]:
    """The answers M_L chooses among for one question: the labels, and "none" when z is read
    rule by rule (`rulewise.none_answer`); none for an open-ended task."""
    if not task.labels:
        return ()
    if config.likelihood.reading == "rules":
        from igtext.rulewise import none_answer
        return tuple(task.labels) + (none_answer(task.labels),)
    return tuple(task.labels)


def check_scoring(task: Task, config: RunConfig, backend: LanguageModel) -> None:
    """What the loaded model's method can score (before the run directory is made): labels
    it can name, and prior terms it can read."""
    from igtext.choice import check_options
    info = describe(backend)
    if task.labels:
        check_options(task.labels, info.logprob_method)
        check_options(answers(task, config), info.logprob_method)
    if not info.exact and not config.prior.adapter and (config.prior.lm_weight
                                                        or config.prior.token_cost):
        raise InputError(f"prior.lm_weight and prior.token_cost need exact log-probabilities; "
                         f"{backend.name} is read by {info.logprob_method!r}: set them to 0",
                         field="prior.lm_weight")
    check_budget(task, config, backend)


def open_cache(cache_dir: str | os.PathLike | None = None) -> DiskCache:
    """The LM call cache: `cache_dir`, else `IGTEXT_CACHE_DIR`, else ~/.cache/igtext."""
    return DiskCache(default_cache_dir(cache_dir))


def metered(backend: LanguageModel, cache: DiskCache | None, budget: Budget | None = None,
            usage: Usage | None = None) -> MeteredLM:
    """`backend` behind the cache, a budget (none: unlimited) and usage counters."""
    return MeteredLM(backend, cache, budget or Budget(), usage)


def adapter_lm(lm: MeteredLM, kind: str, adapter: str | os.PathLike, model: str) -> MeteredLM:
    """The base model `model` with the fitted `kind` adapter merged in, behind the same
    cache, budget and usage counters as `lm` (its name carries the adapter's hash, so the
    cache never mixes it up with the base model)."""
    from igtext.lm.registry import base_model_dir, base_name
    from igtext.training.adapters import load_adapter_lm
    tuned = load_adapter_lm(adapter, kind, base_model_dir(model), base_name(model))
    return MeteredLM(tuned, lm.cache, lm.budget, lm.usage)


def adapters_used(config: RunConfig) -> dict:
    """What the run log's `run_start` names: each fitted adapter the config starts with
    (kind -> path, and kind -> hash of its weights) and how M_L reads z."""
    from igtext.training.lora import adapter_hash
    paths = {kind: path for kind, path in (("likelihood", config.likelihood.adapter),
                                           ("prior", config.prior.adapter),
                                           ("proposer", config.proposer.adapter)) if path}
    return {"adapters": paths, "adapter_hashes": {k: adapter_hash(p) for k, p in paths.items()},
            "reading": config.likelihood.reading}


def check_adapters(config: RunConfig) -> None:
    """Each adapter the config names exists, is of the right kind and was made for this
    base model (before anything is written or loaded)."""
    from igtext.training.adapters import check_adapter
    for kind, path in (("prior", config.prior.adapter), ("likelihood", config.likelihood.adapter),
                       ("proposer", config.proposer.adapter)):
        if path:
            check_adapter(path, kind, config.model, f"{kind}.adapter")


# ---- the models of the person, the proposer, the search ----------------------------------

def likelihood(lm: MeteredLM, config: RunConfig, task: Task,
               templates: Mapping[str, Template] | None = None,
               adapter: str | os.PathLike | None = None) -> Likelihood | RulewiseLikelihood:
    """M_L on `lm`, or on the fitted `adapter` (default: the config's `likelihood.adapter`),
    reading z whole or rule by rule (`likelihood.reading`; an adapter fitted for the other
    reading is refused). `templates`: the run's, else loaded from the config."""
    adapter = adapter or config.likelihood.adapter
    reading = config.likelihood.reading
    if adapter:
        fitted = fitted_reading(adapter)
        if fitted != reading:
            raise InputError(f"this M_L adapter was fitted to read z {_READINGS[fitted]}, and "
                             f"the run reads z {_READINGS[reading]}: set likelihood.reading: "
                             f"{fitted}", file=str(adapter), field="likelihood.reading")
        lm = adapter_lm(lm, "likelihood", adapter, config.model)
    kind = "likelihood_rule" if reading == "rules" else "likelihood"
    template, chat = ((templates[kind], templates["chat_choice"]) if templates is not None
                      else (load_template(kind, config.templates.get(kind)),
                            load_template("chat_choice", config.templates.get("chat_choice"))))
    if reading == "rules":
        if not task.labels:
            raise InputError("M_L read rule by rule needs a label set; this task is "
                             "open-ended", field="likelihood.reading")
        return RulewiseLikelihood(lm, template, task.labels, chat,
                                  follower_calibration(adapter) if adapter else Calibration())
    return Likelihood(lm, template, task.labels, config.likelihood.content_free, chat)


_READINGS = {"whole": "whole", "rules": "rule by rule"}


def fitted_reading(adapter: str | os.PathLike) -> str:
    """How a fitted M_L adapter reads z: "rules" (the follower) or "whole" (older ones)."""
    from igtext.training.lora import read_meta
    return read_meta(adapter, "likelihood").get("reading", "whole")


def follower_calibration(adapter: str | os.PathLike) -> Calibration:
    """How a follower adapter's rule answers combine (`igtext fit-follower --calibrate`);
    the bare reading where it records none."""
    from igtext.training.lora import read_meta
    return Calibration.from_meta(read_meta(adapter, "likelihood"))


def reward_prior(adapter: str | os.PathLike, config: RunConfig):
    """M_prior from a fitted Bradley-Terry adapter."""
    from igtext.lm.registry import base_model_dir
    from igtext.training.reward import RewardPrior
    return RewardPrior(adapter, base_model_dir(config.model), weight=config.prior.reward_weight)


def prior(lm: MeteredLM, config: RunConfig, task: Task, templates: dict[str, Template]):
    """M_prior: the fitted `prior.adapter` if there is one, else the LM judge and terms."""
    if config.prior.adapter:
        return reward_prior(config.prior.adapter, config)
    p = config.prior
    return Prior(lm, templates["prior_judge"], templates["prior_text"],
                 PriorWeights(p.judge_weight, p.lm_weight, p.token_cost), task.labels,
                 task.description, templates["chat_choice"])


def proposer(lm: MeteredLM, config: RunConfig, task: Task,
             templates: dict[str, Template]) -> Proposer:
    """The proposal model: `lm`, or the fitted `proposer.adapter` on the same meter."""
    p = config.proposer
    if p.adapter:
        lm = adapter_lm(lm, "proposer", p.adapter, config.model)
    return Proposer(lm, task, {op: templates[op] for op in OPERATORS},
                    temperature=p.temperature, top_p=p.top_p, max_new_tokens=p.max_new_tokens,
                    max_chars=p.max_chars, n_examples=p.n_examples, n_errors=p.n_errors,
                    describe_examples=p.describe_examples)


def scoring_examples(task: Task, config: RunConfig) -> tuple[Example, ...]:
    """The examples of D the search scores on: a seeded shuffle, cut to `search_examples`."""
    order = list(task.train)
    random.Random(f"scoring-{config.seed}").shuffle(order)
    n = config.likelihood.search_examples
    return tuple(order[:n] if n else order)


def scorer(likelihood: Likelihood, prior, examples, config: RunConfig) -> Scorer:
    return Scorer(likelihood, prior, examples, len(examples), config.prior.weight,
                  config.likelihood.calibrate)


def strategy(config: RunConfig, task: Task) -> Strategy:
    """The search strategy the config names, seeded with the task's initial hypothesis."""
    from igtext.search import STRATEGIES
    s = config.search
    seeds = tuple(([task.initial_hypothesis] if task.initial_hypothesis else []) + list(s.seeds))
    return STRATEGIES[s.strategy].from_config(s, seeds)


@dataclass
class Parts:
    """What one run searches with (the scorer's models may be swapped by a step-3 refresh)."""
    lm: MeteredLM
    templates: dict[str, Template]
    examples: tuple[Example, ...]
    scorer: Scorer
    proposer: Proposer
    strategy: Strategy


def assemble(config: RunConfig, task: Task, backend: LanguageModel, cache: DiskCache,
             budget: Budget, usage: Usage) -> Parts:
    """Every part of a run, on one metered LM."""
    templates = load_templates(config)
    lm = metered(backend, cache, budget, usage)
    examples = scoring_examples(task, config)
    lik = likelihood(lm, config, task, templates)
    return Parts(lm, templates, examples,
                 scorer(lik, prior(lm, config, task, templates), examples, config),
                 proposer(lm, config, task, templates), strategy(config, task))


# ---- what a run costs at least, and what its final evaluation reserves --------------------

def eval_sets(task: Task) -> list[list[Example]]:
    """What the final evaluation of z* scores: D and D', and for open-ended tasks only the
    examples with a gold answer (they get greedy answers, nothing else does)."""
    sets = [list(task.train), list(task.test)]
    if not task.labels:
        sets = [[e for e in s if e.label is not None] for s in sets]
    return [s for s in sets if s]


def per_question(lm: LanguageModel | None, n_options: int) -> int:
    """LM calls one question with `n_options` answers (0: open-ended) costs on `lm`
    (`choice.calls_per_question`); without a model, as on one read exactly."""
    from igtext.choice import calls_per_question
    return calls_per_question(lm, n_options) if lm is not None else max(1, n_options)


def calls_per_z(task: Task, config: RunConfig, n: int, seeds: tuple[str, ...] = (),
                lm: LanguageModel | None = None) -> int:
    """LM calls that judging `n` examples under one z takes on `lm`: one question per example
    (+1: the content-free calibration row), or, read rule by rule, one per rule and example
    (`rulewise.rules_reserved` rules); a question costs one call per answer read exactly,
    one on a chat server, `samples` when sampled (`per_question`)."""
    per = per_question(lm, len(answers(task, config)))
    if not task.labels:
        return n * per
    if config.likelihood.reading == "rules":
        from igtext.rulewise import rules_reserved
        return n * rules_reserved(task.labels, seeds) * per
    return (n + 1) * per


def eval_calls(task: Task, config: RunConfig, seeds: tuple[str, ...] = (),
               lm: LanguageModel | None = None) -> int:
    """LM calls of the final evaluation of z* on D and D'."""
    return sum(calls_per_z(task, config, len(s), seeds, lm) for s in eval_sets(task))


def min_calls_needed(task: Task, config: RunConfig, lm: LanguageModel | None = None) -> int:
    """LM calls that scoring one hypothesis and evaluating it on D and D' take."""
    search = calls_per_z(task, config, len(scoring_examples(task, config)), lm=lm)
    prior = per_question(lm, 2) if config.prior.judge_weight else 0
    prior += 1 if (config.prior.lm_weight or config.prior.token_cost) else 0
    return search + prior + eval_calls(task, config, lm=lm)


def check_budget(task: Task, config: RunConfig, lm: LanguageModel | None = None) -> None:
    """Refuse, before anything is written, a call cap too small to do anything useful (on
    `lm` once it is loaded: a sampling server costs more calls a question)."""
    cap = config.budget.max_calls
    need = min_calls_needed(task, config, lm)
    if cap is not None and cap < need:
        raise InputError(f"{cap} LM calls cannot score even one hypothesis and evaluate it on "
                         f"D and D' ({need} calls needed for this task)", field="budget.max_calls")


def answer_tokens(lm: LanguageModel, task: Task) -> int:
    """Greedy-answer length for open-ended tasks: the longest label in D plus a margin."""
    return max(lm.count_tokens([e.label for e in task.train if e.label] or [""])) + 8


@dataclass(frozen=True)
class Reserve:
    """What the final evaluation of z* on D and D' can cost at most."""
    calls: int
    tokens: int
    dollars: float

    def to_dict(self) -> dict:
        return {"calls": self.calls, "tokens": self.tokens, "dollars": self.dollars}


def eval_reserve(backend: LanguageModel, likelihood: Likelihood, task: Task, config: RunConfig,
                 seeds: tuple[str, ...]) -> Reserve:
    sets, labels = eval_sets(task), task.labels
    calls = eval_calls(task, config, seeds, backend)
    if config.budget.max_tokens is None and config.budget.max_dollars is None:
        return Reserve(calls, 0, dollars(backend, 0, calls))
    z_max = max([config.proposer.max_new_tokens] + backend.count_tokens(list(seeds))) + 16
    if isinstance(likelihood, RulewiseLikelihood):
        # each of the reserved rules is asked about each input, once per answer
        from igtext.rulewise import MAX_RULE_CHARS, rules_reserved
        reqs = [LogprobRequest(likelihood.prompt("", e.input), likelihood.continuation(o))
                for exs in sets for e in exs for o in likelihood.options]
        per_rule = min(z_max, MAX_RULE_CHARS // 2)         # (a token is at least 2 chars)
        tokens = rules_reserved(labels, seeds) * (sum(backend.count_tokens(reqs))
                                                  + len(reqs) * per_rule)
        tokens = _per_question_tokens(backend, tokens, len(likelihood.options), calls)
        return Reserve(calls, tokens, dollars(backend, tokens, calls))
    endings = [likelihood.continuation(y) for y in labels] if labels else [""]
    reqs = [LogprobRequest(likelihood.prompt("", e.input), y)
            for exs in sets for e in exs for y in endings]
    n_cf = len(labels or []) * len(sets)
    if not labels:
        z_max += answer_tokens(backend, task)
    tokens = sum(backend.count_tokens(reqs)) + (len(reqs) + n_cf) * (z_max + 8)
    tokens = _per_question_tokens(backend, tokens, len(labels or []), calls)
    return Reserve(calls, tokens, dollars(backend, tokens, calls))


def _per_question_tokens(backend: LanguageModel, tokens: int, n_options: int,
                         calls: int) -> int:
    """`tokens`, counted as one request per answer, rescaled to what `backend` sends: one
    chat call a question, or `samples` of them, each with the options and an answer."""
    if describe(backend).exact:
        return tokens
    from igtext.choice import ANSWER_TOKENS
    per = max(1, n_options)
    return -(-tokens * per_question(backend, n_options) // per) + calls * (ANSWER_TOKENS + 32)


def budget_less(full: Budget, reserve: Reserve) -> Budget:
    """The search's budget: the run's caps less what the final evaluation reserves."""
    return Budget(None if full.max_calls is None else max(0, full.max_calls - reserve.calls),
                  None if full.max_tokens is None else max(0, full.max_tokens - reserve.tokens),
                  None if full.max_dollars is None else
                  max(0.0, full.max_dollars - reserve.dollars))


# ---- before anything is written ----------------------------------------------------------

def preflight(task: Task, config: RunConfig, out: str | os.PathLike | None = None,
              backend_given: bool = False, cache_dir: str | os.PathLike | None = None
              ) -> RunDir | None:
    """Every check a new run passes before its model loads or its directory is made: the
    templates compile and render, the budget can do something, the model name and adapters
    are known, the LM cache opens, and the run directory (if named) is free. Bad input
    raises `InputError`."""
    load_templates(config)
    check_budget(task, config)
    if not backend_given:
        from igtext.lm.registry import check_model_name
        check_model_name(config.model)
    check_adapters(config)
    open_cache(cache_dir).close()
    return check_run_dir_free(out) if out is not None else None


def absolute(path: str | os.PathLike | None) -> str | None:
    """Adapter paths are saved absolute, so a run resumes from any directory."""
    return str(Path(path).resolve()) if path else None
