"""The fit commands' work: read the judgments or traces, hold some out, fit with a recipe.

`igtext fit-prior`, `fit-likelihood` and `train-proposer` parse their flags into LoRA
settings (`igtext.config.load_recipe`), call one of these and print what it returns.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

from igtext.errors import InputError
from igtext.training.lora import LoraSettings


def heldout_split(items: Sequence, share: float, seed: int) -> tuple[list, list]:
    """(kept, held out): a seeded shuffle of `items`, the first `share` of it held out."""
    items = list(items)
    random.Random(seed).shuffle(items)
    k = int(len(items) * share)
    return items[k:], items[:k]


def prior_from_store(store: str | Path, out: str | Path, model: str, settings: LoraSettings,
                     heldout: float = 0.2, progress: bool = True) -> dict:
    """Fit the Bradley-Terry prior on a judgment store's comparisons, holding out `heldout`
    of them (seeded by `settings.seed`) for the report."""
    from igtext.judgments.store import JudgmentStore
    from igtext.lm.registry import base_model_dir
    from igtext.training.reward import fit_prior
    comps = [(c.z_a, c.z_b, c.winner) for c in JudgmentStore(store).comparisons()]
    train, held = heldout_split(comps, heldout, settings.seed)
    return fit_prior(train, base_model_dir(model), out, settings, heldout=held, base_name=model,
                     progress=progress)


def likelihood_from_store(store: str | Path, task: str, out: str | Path, model: str,
                          settings: LoraSettings, heldout: float = 0.2,
                          progress: bool = True) -> dict:
    """Fit M_L on a judgment store's label judgments for `task` (a task name or file, for
    its label set); `heldout` of the z's (seeded by `settings.seed`) are held out, with all
    their judgments, so the report is on instructions the fit never saw."""
    from igtext.judgments.store import JudgmentStore
    from igtext.lm.registry import base_model_dir
    from igtext.tasks import load_task
    from igtext.training.likelihood_ft import fit_likelihood
    labels = load_task(task).labels
    if not labels:
        raise InputError("fit-likelihood needs a task with a closed label set", field="task")
    judgments = JudgmentStore(store).labels()
    train_z, held_z = heldout_split(sorted({j.z for j in judgments}), heldout, settings.seed)
    train_z, held_z = set(train_z), set(held_z)
    return fit_likelihood([j for j in judgments if j.z in train_z], labels,
                          base_model_dir(model), out, settings,
                          heldout=[j for j in judgments if j.z in held_z], base_name=model,
                          progress=progress)


def proposer_from_traces(data: str | Path, out: str | Path, model: str, settings: LoraSettings,
                         heldout_tasks: Sequence[str] | None = None, resume: bool = False,
                         progress: bool = True) -> dict:
    """Fine-tune the proposal model on a trace file, holding out the traces of
    `heldout_tasks` (None: every fifth task, if there are five or more); the report adds the
    held-out tasks and the adapter's path."""
    from igtext.lm.registry import base_model_dir
    from igtext.traces import read_traces
    from igtext.training.proposer_ft import fit_proposer
    traces = read_traces(data)
    tasks = sorted({t.task for t in traces})
    held = (set(heldout_tasks) if heldout_tasks is not None
            else set(tasks[::5]) if len(tasks) >= 5 else set())
    unknown = held - set(tasks)
    if unknown:
        raise InputError(f"held-out task(s) not in the traces: {', '.join(sorted(unknown))}",
                         field="heldout-tasks")
    train = [t for t in traces if t.task not in held]
    if not train:
        raise InputError("every task is held out; nothing left to train on", file=str(data))
    rep = fit_proposer(train, base_model_dir(model), out, settings,
                       heldout=[t for t in traces if t.task in held], base_name=model,
                       source=str(data), resume=resume, progress=progress)
    return {**rep, "heldout_tasks": sorted(held), "adapter": str(out)}
