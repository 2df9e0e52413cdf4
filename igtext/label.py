"""Label a split, or any file of inputs (`igtext.tasks.table.read_inputs`), with z*:
M_L(y | x, z*) for every example, written as JSONL."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

from igtext import components
from igtext.config import RunConfig
from igtext.data import Example, Task
from igtext.errors import RunDirError
from igtext.likelihood import Likelihood, normalise_answer
from igtext.lm.base import LanguageModel
from igtext.lm.cache import MeteredLM
from igtext.records import RunResult
from igtext.rundir import read_result, read_run_dir


@dataclass(frozen=True)
class FinishedRun:
    """A finished run, ready to label a split: `likelihood` is the M_L the run ended with
    (its fitted adapter, the refreshed one if the run refitted M_L), metered and cached as
    `lm`; `backend` is the same model uncached (for timing it)."""
    task: Task
    config: RunConfig
    result: RunResult
    examples: tuple[Example, ...]
    backend: LanguageModel
    lm: MeteredLM
    likelihood: Likelihood

    @property
    def z_star(self) -> str:
        return self.result.best.text


Split = Union[str, Sequence[Example]]      # "train", "test", or examples of any source


def finished_run(run_dir, split: Split, model=None, cache_dir=None) -> FinishedRun:
    """The finished run's task, config, result, the split's examples (or the examples
    given) and its M_L."""
    rd, task, cfg = read_run_dir(run_dir)
    result = read_result(rd)
    examples = ({"train": task.train, "test": task.test}.get(split) if isinstance(split, str)
                else tuple(split))
    if examples is None:
        raise RunDirError(f"unknown split {split!r} (train or test)", field="split")
    if model is None:
        from igtext.lm.registry import load_model
        model = load_model(cfg.model, cfg.api)
    refitted = result.adapters.get("likelihood")
    lik = components.likelihood(
        components.metered(model, components.open_cache(cache_dir)), cfg, task,
        adapter=rd.resolve(refitted) if refitted else None)
    return FinishedRun(task, cfg, result, tuple(examples), lik.lm.inner, lik.lm, lik)


def label_split(run_dir: str | os.PathLike, split: Split, out: str | os.PathLike,
                model: LanguageModel | None = None,
                cache_dir: str | os.PathLike | None = None) -> dict:
    """Write one line per example: id, input, label, probs (classification), gold if known.

    For open-ended tasks the label is the model's greedy answer under z*, and the line
    also carries the log-likelihood of the gold answer."""
    run = finished_run(run_dir, split, model, cache_dir)
    task, result, examples, lm, lik = run.task, run.result, run.examples, run.lm, run.likelihood
    z = run.z_star
    calibrated = run.config.likelihood.calibrate
    judgments = lik.judge(z, examples)
    answers = (lik.answers(z, examples, components.answer_tokens(run.backend, task))
               if task.labels is None else None)
    n_correct = n_gold = 0
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for i, (e, j) in enumerate(zip(examples, judgments)):
            dist = j.calibrated if calibrated else j.raw
            row = {"id": e.id, "input": e.input, "hypothesis_id": result.best.id}
            if dist:
                row["label"] = j.predicted(calibrated)
                row["probs"] = {k: math.exp(v) for k, v in dist.items()}
            else:
                row["label"] = answers[i]
                row["gold_loglik"] = j.gold_loglik(calibrated)
            if e.label is not None:
                row["gold"] = e.label
                n_gold += 1
                n_correct += (row["label"] == e.label if dist else
                              normalise_answer(row["label"]) == normalise_answer(e.label))
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {"examples": len(examples), "accuracy": n_correct / n_gold if n_gold else None,
            "calibrated": calibrated, "lm_calls": lm.usage.calls,
            "lm_calls_cached": lm.usage.cached_calls}


def label_mixture(run_dir: str | os.PathLike, split: Split, out: str | os.PathLike, k: int,
                  abstain_below: float = 0.0, model: LanguageModel | None = None,
                  cache_dir: str | os.PathLike | None = None, min_weight: float = 0.0) -> dict:
    """Label a split by the posterior over the run's top `k` z's (weights exp(objective),
    scored under the models the run ended with: a step-3 refresh makes older scores stale);
    each line has the mixture's probabilities, its label (null where the z's agree less
    than `abstain_below`), the agreement and whether the z's disagree. z's with less than
    `min_weight` of the posterior are left out (fewer LM calls; see `Posterior`)."""
    from igtext.posterior import Posterior, coverage_accuracy
    from igtext.runview import load_run
    run = finished_run(run_dir, split, model, cache_dir)
    task, cfg, examples, lm, lik = run.task, run.config, run.examples, run.lm, run.likelihood
    if task.labels is None:
        raise RunDirError("a mixture of z's needs a classification task (a label set)",
                          field="mixture")
    post = Posterior.from_objectives([(d.id, d.text, d.objective)
                                      for d in load_run(run_dir).ranked(current=True)], k,
                                     min_weight=min_weight)
    preds = post.predict(lik, examples, cfg.likelihood.calibrate, abstain_below)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for e, p in zip(examples, preds):
            row = {"id": e.id, "input": e.input, "label": p.label, "probs": dict(p.probs),
                   "agreement": p.agreement, "flagged": p.disagree}
            if e.label is not None:
                row["gold"] = e.label
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    report = coverage_accuracy(preds, examples) if any(e.label for e in examples) else {}
    return {"examples": len(examples), "hypotheses": len(post.texts),
            "weights": dict(zip(post.ids, post.weights)), "entropy": post.entropy(),
            "abstain_below": abstain_below, **report, "lm_calls": lm.usage.calls,
            "lm_calls_cached": lm.usage.cached_calls}
