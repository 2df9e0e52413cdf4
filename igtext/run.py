"""A run: a search on a task, checkpointed to a run directory (`igtext.rundir`) and
resumable: restore -> search -> evaluate -> write.
"""
from __future__ import annotations

import contextlib
import os
import random
import sys
import time

from igtext import components
from igtext.config import RunConfig
from igtext.data import SearchResult, Task
from igtext.errors import BudgetExceeded, IgtextError, InputError
from igtext.likelihood import Likelihood, normalise_answer
from igtext.lm.base import LanguageModel, api_stats, describe
from igtext.lm.budget import Budget, Usage
from igtext.records import (FORMAT, Baseline, BestRecord, Checkpoint, CheckpointEvent,
                            Evaluate, Failed, Propose, Resume, RunEnd, RunResult, RunStart,
                            Score, SplitAccuracy, add_api_stats, read_record)
from igtext.rundir import RunDir, write_json_atomic
from igtext.runlock import locked
from igtext.runlog import RunLog
from igtext.search import SearchContext, SearchState, run_search


def _accuracy(judgments, examples, calibrated: bool) -> float | None:
    gold = {e.id: e.label for e in examples if e.label is not None}
    preds = [(j.predicted(calibrated), gold[j.example_id]) for j in judgments
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


def _refresher(rd: RunDir, task: Task, config: RunConfig, lm, annotator, progress):
    if not config.refresh.every:
        return None
    from igtext.judgments.annotators import ProxyAnnotator, simulated_for
    from igtext.judgments.store import JudgmentStore
    from igtext.refresh import Refresher
    if annotator is None:
        judge = config.refresh.judge
        if judge == "simulated":
            annotator = simulated_for(task, config.seed)
        elif judge == "proxy":
            annotator = ProxyAnnotator(lm, task.labels)
        else:
            raise InputError(f"refresh.judge {judge!r} needs a person: run it from the "
                             f"command line", field="refresh.judge")
    return Refresher(rd, task, config, annotator, JudgmentStore(rd.judgments), lm,
                     progress=progress)


def _restore(rd: RunDir) -> tuple[SearchState, Usage, int, float, dict | None]:
    """The search state, usage, log offset, wall seconds and API counts of the last
    checkpoint (of every earlier process of the run)."""
    if not rd.checkpoint.exists():
        return SearchState(), Usage(), 0, 0.0, None
    ck = read_record(Checkpoint, rd.checkpoint)
    return (SearchState.from_dict(ck.state), Usage.from_dict(ck.usage), ck.log_offset,
            ck.wall_s, ck.api)


def _evaluate(likelihood: Likelihood, z: str, task: Task, backend: LanguageModel,
              calibrated: bool) -> tuple[dict[str, SplitAccuracy], str | None, list]:
    """z's accuracy on D and D' (raw and calibrated); a note if the budget cut it short;
    and its label for each input of D' (classification; [] otherwise), in the run's mode."""
    acc: dict[str, SplitAccuracy] = {}
    preds: list = []
    try:
        for split, exs in (("train", task.train), ("test", task.test)):
            if task.labels:
                js = likelihood.judge(z, exs) if exs else []
                acc[split] = SplitAccuracy(raw=_accuracy(js, exs, False),
                                           calibrated=_accuracy(js, exs, True))
                if split == "test":
                    preds = [j.predicted(calibrated) for j in js]
            else:
                a = _open_accuracy(likelihood, z, exs, components.answer_tokens(backend, task))
                acc[split] = SplitAccuracy(raw=a, calibrated=a)
    except BudgetExceeded as e:
        return acc, str(e), preds
    return acc, None, preds


def _baselines(likelihood, task: Task, backend: LanguageModel, calibrated: bool,
               done: dict) -> list[Baseline]:
    """M_L with no z and with the task's initial z on D and D' (after z*, within what is
    left of the budget: a cut one says so), TF-IDF + LR on D, and chance. `done`: z's
    already evaluated (z* may be the initial z), as `_evaluate` gives them."""
    from igtext.baseline import tfidf_classifier_on
    from igtext.rulewise import RulewiseLikelihood
    out = []
    zs = [("no z", "")] + ([("initial z", task.initial_hypothesis)]
                           if task.initial_hypothesis else [])
    for name, z in zs:
        if name == "no z" and isinstance(likelihood, RulewiseLikelihood):
            out.append(Baseline(name=name, text="", note="M_L reads z rule by rule: with no "
                                "rule it only guesses (see chance)"))
            continue
        acc, note, preds = done[z] if z in done else _evaluate(likelihood, z, task, backend,
                                                                 calibrated)
        out.append(Baseline(name=name, text=z, accuracy=acc, note=note, predictions=preds))
    tfidf = tfidf_classifier_on(task)
    if tfidf is not None:
        acc, preds = tfidf
        out.append(Baseline(name="TF-IDF + LR on D", predictions=preds, accuracy={
            k: SplitAccuracy(raw=v, calibrated=v) for k, v in acc.items()}))
    if task.labels:
        c = 1 / len(task.labels)
        out.append(Baseline(name="chance", accuracy={
            k: SplitAccuracy(raw=c, calibrated=c) for k in ("train", "test")}))
    return out


def execute(rd: RunDir, task: Task, config: RunConfig, backend: LanguageModel,
            cache_dir: str | os.PathLike | None = None, progress: bool = True,
            annotator=None, changed: dict | None = None) -> SearchResult:
    """Run the search in `rd`, continuing from its checkpoint if there is one, holding the
    run directory's lock (`igtext.runlock`: a second process is refused).

    `annotator` answers the step-3 questions when `refresh.every` > 0 (by default the one
    `refresh.judge` names). `changed`: settings a resume runs with that differ from the
    run's config.json and do not change the search (API timeouts, say), for the log."""
    with locked(rd.root, "a search (igtext run or resume)"):
        return _execute(rd, task, config, backend, cache_dir, progress, annotator, changed)


def _execute(rd: RunDir, task: Task, config: RunConfig, backend: LanguageModel,
             cache_dir, progress: bool, annotator, changed: dict | None) -> SearchResult:
    t_start = time.time()
    state, usage, offset, elapsed, api_before = _restore(rd)
    cache = components.open_cache(cache_dir)
    full = Budget(config.budget.max_calls, config.budget.max_tokens, config.budget.max_dollars)
    parts = components.assemble(config, task, backend, cache, full, usage)
    lm, scorer = parts.lm, parts.scorer
    reserve = components.eval_reserve(backend, scorer.likelihood, task, config,
                                      parts.strategy.seeds)
    lm.budget = components.budget_less(full, reserve)
    templates = {k: t.hash for k, t in parts.templates.items()}
    log = RunLog(rd.events, usage, truncate_at=offset)
    if offset == 0:
        log.emit(RunStart(format=FORMAT, task=task.name, model=backend.name, seed=config.seed,
                          strategy=config.search.strategy, n_train=len(task.train),
                          n_test=len(task.test), n_search_examples=len(parts.examples),
                          templates=templates, logprob_method=describe(backend).logprob_method,
                          scoring=_scoring(backend, task, config, progress),
                          proposer_model=parts.proposer.lm.name,
                          eval_reserve=reserve.to_dict(), **components.adapters_used(config)))
    if offset or changed:       # (a run killed before its first checkpoint starts afresh)
        log.emit(Resume(generation=state.generation, changed=changed or {}))
    ctx = SearchContext(scorer, parts.proposer, log, state, random.Random(config.seed))
    refresher = _refresher(rd, task, config, lm, annotator, progress)
    if refresher is not None and state.adapters:
        refresher.install(ctx, state.adapters)        # resuming after a refresh

    def api() -> dict | None:
        return add_api_stats(api_before, api_stats(backend))

    last = {"checkpoint": read_record(Checkpoint, rd.checkpoint) if offset else None}

    def checkpoint() -> None:
        log.emit(CheckpointEvent(generation=state.generation, api=api()))
        last["checkpoint"] = Checkpoint(
            state=state.to_dict(), usage=usage.to_dict(), log_offset=log.offset(),
            wall_s=elapsed + time.time() - t_start, api=api())
        write_json_atomic(rd.checkpoint, last["checkpoint"].to_dict())

    def failed() -> None:
        """Keep this process's API counts: the last checkpoint again, with them added."""
        if last["checkpoint"] is not None:
            write_json_atomic(rd.checkpoint,
                              last["checkpoint"].model_copy(update={"api": api()}).to_dict())

    with _logged_failure(log, state, failed), \
            _progress(progress, config.search) as on_event:
        log.listeners.append(on_event)
        run_search(ctx, parts.strategy, config.search.generations, checkpoint, refresher)
        log.listeners.remove(on_event)

    best = state.best()
    if best is None:
        log.close()
        if state.exhausted is None:
            raise InputError("no hypothesis was scored: the proposal model's drafts were all "
                             "dropped (each `propose` event in events.jsonl says why) and the "
                             "task gives no initial hypothesis; give one, or use another model",
                             field="model")
        raise InputError(f"the budget ran out before any hypothesis was scored in full "
                         f"({state.exhausted}); raise budget.max_calls or budget.max_tokens",
                         field="budget")
    likelihood = scorer.likelihood          # a refresh may have swapped in a fitted M_L
    lm.budget = likelihood.lm.budget = full
    with _logged_failure(log, state, failed):
        calibrated = config.likelihood.calibrate
        evaluated = _evaluate(likelihood, best.hypothesis.text, task, backend, calibrated)
        acc, eval_note, test_predictions = evaluated
        baselines = (_baselines(likelihood, task, backend, calibrated,
                                {best.hypothesis.text: evaluated})
                     if config.evaluation.baselines else [])
    mode = "calibrated" if config.likelihood.calibrate else "raw"
    log.emit(Evaluate(id=best.id, accuracy=acc, note=eval_note))
    wall = round(elapsed + time.time() - t_start, 2)
    info = describe(backend)
    result = RunResult(
        task=task.name, model=backend.name, strategy=config.search.strategy, seed=config.seed,
        best=BestRecord(id=best.id, text=best.hypothesis.text, prior=best.prior,
                        prior_parts=dict(best.prior_parts), loglik=best.loglik,
                        objective=best.objective, operator=best.hypothesis.operator,
                        parents=list(best.hypothesis.parents), search_accuracy=best.accuracy),
        train_accuracy=getattr(acc.get("train"), mode, None),
        test_accuracy=getattr(acc.get("test"), mode, None),
        accuracy=acc, accuracy_mode=mode, lm_calls=usage.calls,
        lm_calls_cached=usage.cached_calls, lm_tokens=usage.tokens,
        lm_dollars=round(usage.dollars, 6), logprob_method=info.logprob_method,
        token_count=info.token_counting, api=api(),
        budget=config.budget.model_dump(), budget_exhausted=state.exhausted,
        evaluation_note=eval_note, adapters=dict(state.adapters),
        likelihood_model=likelihood.lm.name, proposer_model=parts.proposer.lm.name,
        generations=state.generation, hypotheses_scored=len(state.scored),
        proposals_dropped=dict(state.dropped), n_search_examples=len(parts.examples),
        templates=templates, baselines=baselines, test_predictions=test_predictions,
        wall_s=wall)
    log.emit(RunEnd(best=best.id, objective=best.objective, wall_s=wall))
    log.close()
    write_json_atomic(rd.result, result.to_dict())
    cache.close()
    ranked = sorted(state.scored.values(), key=lambda s: (-s.objective, s.id))
    return SearchResult(best=best, candidates=tuple(ranked), record=result)


@contextlib.contextmanager
def _logged_failure(log: RunLog, state: SearchState, then):
    """An error the run cannot go on from is written to the log, and `then()` called, before
    it propagates."""
    try:
        yield
    except (IgtextError, OSError) as e:
        log.emit(Failed(generation=state.generation, error=type(e).__name__, message=str(e)))
        then()
        raise


def _scoring(backend: LanguageModel, task: Task, config: RunConfig, progress: bool) -> str:
    """How M_L's answers are read and what a question costs; said on the terminal too
    before the search starts where it is not the exact reading."""
    from igtext.choice import method_line
    line = method_line(backend, len(components.answers(task, config)))
    if progress and not describe(backend).exact:
        print(line, file=sys.stderr, flush=True)
    return line


class _progress:
    """A rich progress bar over generations, fed by run-log events (silent when disabled).
    It moves inside a generation too (drafts proposed and scored against the number a
    generation makes), with the time elapsed and an estimate of the time left."""

    def __init__(self, enabled: bool, search):
        self.enabled, self.total = enabled, search.generations + 1
        per_gen = (search.beam_width * search.expansions if search.strategy == "beam"
                   else search.offspring)
        self.expected = lambda gen: max(1, search.population if gen == 0 else per_gen)

    def __enter__(self):
        if not self.enabled:
            return lambda event: None
        from rich.progress import (BarColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        self.p = Progress(TextColumn("[bold]search"), BarColumn(),
                          TextColumn("{task.description}"), TimeElapsedColumn(),
                          TextColumn("left"), TimeRemainingColumn(), transient=False)
        self.p.start()
        self.t = self.p.add_task("proposing the initial population", total=self.total)
        seen = {"best": None, "gen": 0, "proposed": 0, "scored": 0, "done": 0}

        def on_event(e) -> None:
            if isinstance(e, (Propose, Score)) and e.generation != seen["gen"]:
                seen.update(gen=e.generation, proposed=0, scored=0)
            if isinstance(e, Propose):
                seen["proposed"] += 1
            elif isinstance(e, Score):
                seen["scored"] += e.complete
                if e.complete and (seen["best"] is None or e.objective > seen["best"]):
                    seen["best"] = e.objective
            elif isinstance(e, CheckpointEvent):
                seen["done"] = e.generation + 1
            else:
                return
            gen = seen["gen"]
            inside = min(0.95, seen["scored"] / self.expected(gen))
            done = seen["done"] if seen["done"] > gen else gen + inside
            best = "" if seen["best"] is None else f", best objective {seen['best']:.2f}"
            self.p.update(self.t, completed=done,
                          description=f"generation {gen}/{self.total - 1}: "
                                      f"{seen['proposed']} proposed, {seen['scored']} scored"
                                      f"{best}, {e.lm_calls} LM calls")
        return on_event

    def __exit__(self, *exc):
        if self.enabled:
            self.p.stop()
        return False
