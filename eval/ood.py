"""Benchmark: out-of-distribution accuracy of IG against the usual baselines.

For each benchmark (D, D') and seed, on the same local model:

  tfidf_lr         TF-IDF + logistic regression trained on D
  lora_clf         the LM fine-tuned with LoRA as a classifier on D (x -> y, no z)
  zero_shot        M_L under the task's generic instruction, no search
  likelihood_only  the search with prior weight 0 (APE-style), same LM budget as IG
  ig               the search with prior + likelihood (igtext's default)
  ig_distil        M_L_test (logistic regression on frozen LM features) distilled from IG's
                   z* labels on part of D' (scored on the rest)
  ig_distil_lora   the same with the LoRA-classifier M_L_test
  ig_distil_tfidf  the same with logistic regression on TF-IDF features (no LM: the fastest)
  ig_mixture       D' labelled by the posterior over IG's top MIXTURE_K z's (weights
                   exp(objective)), with its coverage and accuracy where it does not abstain
  ig_person        (with --person) `igtext run` as a new user runs it: the default model
                   preset (the learned person shipped in the package: the follower M_L read
                   rule by rule, the world prior, the describe proposer, on SmolLM2 whatever
                   --model says) and the default search preset, with its own budget (not
                   --calls: reading rule by rule costs more calls a z)

With --husky-judgments DIR (the adapters `eval/judgments.py --prior-adapter-out DIR/prior
--lik-adapter-out DIR/likelihood` fitted to the simulated person's judgments of the husky
world: comparisons of z's and labels of D-style inputs, never a D' label), husky gets two more
rows, both on that fitted M_L and starting from the same seed z's (a background rule, a
trait rule and a wrong rule, `husky_world.SEED_HYPOTHESES`), under the same call cap, each
z scored on --fitted-search-examples (16, as in eval/judgments.py's loop) examples of D:

  likelihood_only_fitted   prior weight 0
  ig_fitted                the fitted prior (Bradley-Terry) + the fitted M_L

and with --fitted-loop COMPARISONS,LABELS two more, the same searches with seed step 3 on
(igtext/refresh.py): after every generation the simulated person compares the current top z's
(ig_fitted_loop only: the prior is unused at weight 0) and labels inputs of D and D' under
them, and the fitted prior and M_L are refit on everything collected, continuing from the
adapters. No gold label of D' is used; the person's answers follow z. LM calls stay under
the same cap (the person is not an LM; refits are CPU time the cap does not count):

  likelihood_only_fitted_loop
  ig_fitted_loop
  ig_fitted_loop_distil{,_lora,_tfidf}   ig_fitted_loop's z* distilled as ig_distil*
                                         (the teacher: the M_L the loop ended with, and
                                         the person's labels under z* where there are any)
  ig_fitted_loop_mixture                 the posterior mixture of ig_fitted_loop's z's

The person labels inputs of D' too (never with their gold label), so the loop rows also
give accuracy on the inputs of D' the person never labelled in that run.

Open-ended Instruction Induction tasks have no label set: there the rows are zero_shot,
likelihood_only and ig (execution accuracy with APE's metric), the human instructions
(mean, and the best by the same objective on D) and APE's reported best-instruction number
with InstructGPT for reference. Writes eval/results/ood{,-quick}.{json,md}, and every row as
it is made to ood{,-quick}.rows.jsonl: a cut run started again with the same settings (and
the same --work directory) continues where it stopped.

    .venv/bin/python eval/ood.py --quick          # a few benchmarks, small budgets (~20 min)
    .venv/bin/python eval/ood.py [--seeds 3]      # everything (tens of hours on 2 cores; resumable)
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from fnmatch import fnmatchcase
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
STUDENTS = {"_distil": "logreg", "_distil_lora": "lora", "_distil_tfidf": "tfidf"}
DISTILLED = {arm + end: (student, arm) for arm in ("ig", "ig_fitted_loop")
             for end, student in STUDENTS.items()}      # method -> (student, search it distils)
MIXTURE = {"ig_mixture": "ig", "ig_fitted_loop_mixture": "ig_fitted_loop"}   # -> its search
MIXTURE_K, ABSTAIN_BELOW, MIN_WEIGHT = 5, 0.9, 1e-3      # fixed before any mixture row
CLASSIFICATION_METHODS = ("tfidf_lr", "lora_clf", "zero_shot", "likelihood_only", "ig",
                          *("ig" + end for end in STUDENTS), "ig_mixture", "ig_person")
PERSON_MODEL = "smollm2-135m-person"
FITTED_METHODS = ("likelihood_only_fitted", "ig_fitted")
LOOP_METHODS = ("likelihood_only_fitted_loop", "ig_fitted_loop",
                *("ig_fitted_loop" + end for end in STUDENTS), "ig_fitted_loop_mixture")
OPEN_METHODS = ("zero_shot", "likelihood_only", "ig", "human_mean", "human_best")
GENERIC = "Read the input and give the answer."


def benchmarks(quick: bool) -> dict:
    """name -> (task maker taking a seed, kind)."""
    from igtext.tasks.cad import cad_task
    from igtext.tasks.husky import husky_task
    from igtext.tasks.hypobench import hypobench_task
    from igtext.tasks.instruction_induction import ii_task, task_names
    n = 48 if quick else None
    out = {"husky": (lambda s: husky_task(n_train=n or 160, n_test=n or 160, seed=s),
                     "classification"),
           "hypobench:deceptive_reviews": (lambda s: hypobench_task(
               "deceptive_reviews", n_train=n or 200, n_test=n or 320, seed=s), "classification")}
    if quick:
        out["ii:antonyms"] = (lambda s: ii_task("antonyms", n_train=16, n_test=20, seed=s),
                              "open")
        return out
    out["hypobench:deceptive_reviews@ind"] = (lambda s: hypobench_task(
        "deceptive_reviews", shift="ind", n_train=200, n_test=320, seed=s), "classification")
    for name in ("headline_binary", "gptgc_detect", "llamagc_detect"):
        out[f"hypobench:{name}"] = (lambda s, name=name: hypobench_task(
            name, n_train=200, n_test=300, seed=s), "classification")
    out["cad:sentiment"] = (lambda s: cad_task(n_train=300, n_test=300, seed=s),
                            "classification")
    for name in task_names():
        out[f"ii:{name}"] = (lambda s, name=name: ii_task(name, n_train=20, n_test=50, seed=s),
                             "open")
    return out


def timer():
    t0 = time.perf_counter()
    return lambda: round(time.perf_counter() - t0, 1)


def accuracy(pred, gold) -> float:
    return sum(p == g for p, g in zip(pred, gold)) / len(gold) if gold else float("nan")


def split_accuracies(predict, task) -> dict:
    """Accuracy on D and on D' of a classifier `predict(texts) -> labels` (no LM calls)."""
    return {key: accuracy(list(predict([e.input for e in exs])), [e.label for e in exs])
            for key, exs in (("acc_D", task.train), ("acc_Dprime", task.test))} | {
        "lm_calls": 0, "lm_tokens": 0}


def run_tfidf(task) -> dict:
    from igtext.baseline import tfidf_classifier
    return split_accuracies(tfidf_classifier(task.train), task)


def run_lora_clf(task, seed: int, args, work: Path) -> dict:
    """The LoRA classifier on D; one fitted on the same D with the same settings (deceptive
    reviews' OOD and IND benchmarks share D) is loaded instead of fitted again."""
    from dataclasses import replace

    from igtext.lm.registry import base_model_dir
    from igtext.training.classifier import (CLASSIFIER_META, SETTINGS, fit_classifier,
                                            load_classifier)
    from igtext.training.lora import data_hash
    settings = replace(SETTINGS, epochs=args.clf_epochs, seed=seed)
    base = base_model_dir(args.model)
    saved = work / "lora-clf" / data_hash([{"x": e.input, "y": e.label} for e in task.train]
                                          + [{"labels": list(task.labels), "model": args.model,
                                              "settings": repr(settings)}])[:16]
    reused = (saved / CLASSIFIER_META).exists()       # written last
    if reused:
        clf = load_classifier(saved, base)
    else:
        clf = fit_classifier(task.train, task.labels, base, settings)
        clf.save(saved)
    return split_accuracies(clf.predict, task) | {"fit_reused": reused}


def _metered(lm, cache_dir):
    from igtext import components
    return components.metered(lm, components.open_cache(cache_dir))


def _likelihood(lm, task):
    from igtext import components
    from igtext.config import RunConfig
    return components.likelihood(lm, RunConfig(), task)


def run_zero_shot(task, lm, calibrate: bool) -> dict:
    lik = _likelihood(lm, task)
    z = task.initial_hypothesis or GENERIC
    out = {}
    for split, exs in (("acc_D", task.train), ("acc_Dprime", task.test)):
        js = lik.judge(z, exs)
        out[split] = accuracy([j.predicted(calibrate) for j in js], [e.label for e in exs])
    return {**out, "lm_calls": lm.usage.calls, "lm_tokens": lm.usage.tokens}


def search_config(args, seed: int, prior_weight: float, fitted: Path | None = None,
                  loop: bool = False):
    """The search of every LM arm; `fitted`: a directory with the judgment-fitted `prior`
    and `likelihood` adapters (M_L fitted, z's seeded with the husky world's seed rules);
    `loop`: with the step-3 loop of --fitted-loop."""
    from igtext.config import RunConfig
    from igtext.tasks.husky_world import SEED_HYPOTHESES
    cfg = {"seed": seed, "model": args.model, "budget": {"max_calls": args.calls},
           "prior": {"weight": prior_weight},
           "search": {"generations": args.generations, "population": args.population,
                      "offspring": args.population},
           "likelihood": {"search_examples": args.search_examples},
           "proposer": {"max_new_tokens": 96}}
    if fitted:
        cfg["likelihood"] |= {"adapter": str(fitted / "likelihood"), "calibrate": False,
                              "search_examples": args.fitted_search_examples}
        cfg["search"]["seeds"] = list(SEED_HYPOTHESES)
        if prior_weight:
            cfg["prior"]["adapter"] = str(fitted / "prior")
    if loop:
        comparisons, labels = loop_sizes(args)
        cfg["refresh"] = {"every": 1, "judge": "simulated", "top": 4, "labels": labels,
                          "comparisons": comparisons if prior_weight else 0}
    return RunConfig.model_validate(cfg)


def search_dir(work: Path, task, seed: int, prior_weight: float,
               fitted_tag: str | None = None) -> Path:
    """A search's run directory (a fitted arm's names the adapters it was made with)."""
    return work / (f"{re.sub(r'[^a-z0-9]+', '_', task.name)}-{seed}-w{prior_weight}"
                   + (f"-fitted-{fitted_tag}" if fitted_tag else ""))


def run_search(task, seed, args, prior_weight, work: Path, lm,
               fitted: Path | None = None, loop: bool = False) -> tuple[dict, Path]:
    import igtext
    from igtext.rundir import RunDir, read_result
    out = search_dir(work, task, seed, prior_weight, fitted and fitted_key(args, loop))
    if RunDir(out).result.exists():             # finished: its result
        res = read_result(RunDir(out))
    else:
        if (out / "config.json").exists():      # a cut run of the same settings: continue it
            done = igtext.resume(out, model=lm, cache_dir=work / "cache")
        else:
            done = igtext.search(task, config=search_config(args, seed, prior_weight, fitted,
                                                            loop),
                                 model=lm, out_dir=out, cache_dir=work / "cache")
        res = done.record
    row = {"acc_D": res.train_accuracy, "acc_Dprime": res.test_accuracy,
           "lm_calls": res.lm_calls, "lm_tokens": res.lm_tokens, "z_star": res.best.text,
           "wall_s": res.wall_s}          # the search's own, summed over its resumed parts
    return row | (unjudged_accuracy(out, lm, work) if loop else {}), out


def run_person(task, seed: int, work: Path) -> dict:
    """The `ig_person` row: `igtext run TASK --seed S` on the default model and preset."""
    import igtext
    from igtext.config import RunConfig
    from igtext.rundir import RunDir, read_result
    out = work / f"{re.sub(r'[^a-z0-9]+', '_', task.name)}-{seed}-person"
    if RunDir(out).result.exists():
        res = read_result(RunDir(out))
    elif (out / "config.json").exists():
        res = igtext.resume(out, cache_dir=work / "cache").record
    else:
        res = igtext.search(task, config=RunConfig(seed=seed, model=PERSON_MODEL),
                            preset="default", out_dir=out, cache_dir=work / "cache").record
    return {"acc_D": res.train_accuracy, "acc_Dprime": res.test_accuracy,
            "lm_calls": res.lm_calls, "lm_tokens": res.lm_tokens, "z_star": res.best.text,
            "wall_s": res.wall_s}


def unjudged_accuracy(run_dir: Path, lm, work: Path) -> dict:
    """z*'s accuracy on the inputs of D' no one labelled during the run: a step-3 loop asks
    the simulated person to label inputs of D and D' (under the z's of the moment, never with
    the gold label), and refits M_L on them, so D' accuracy overall is partly transductive."""
    from igtext.distil import gold_accuracies, judged_inputs
    from igtext.label import finished_run
    run = finished_run(run_dir, "test", lm, work / "cache")
    pred = [j.predicted(run.config.likelihood.calibrate)        # cached by the search's end
            for j in run.likelihood.judge(run.z_star, run.examples)]
    acc = gold_accuracies({"z": pred}, run.examples, set(judged_inputs(run_dir)))
    return {"acc_Dprime_unjudged": acc["z_accuracy_gold_unjudged"],
            "n_unjudged": acc["heldout_unjudged"]}


def searched(bench: str, task, seed: int, args, arm: str, work: Path, lm, fitted,
             rows: list, tag: str | None) -> tuple[Path, dict]:
    """The run directory of the search `arm` (ig, ig_fitted_loop) that a student or a mixture
    reads. If the work directory was lost after the arm's row was made, the search is run
    again (`search_redone`); a row that reads a search whose z* is not the one of the arm's
    row says so (`z_star_as_in_row`: false)."""
    from igtext.rundir import RunDir, read_result
    out = search_dir(work, task, seed, 1.0, tag)
    redone = {}
    if not RunDir(out).result.exists():
        took = timer()
        _, out = run_search(task, seed, args, 1.0, work, lm, fitted if tag else None,
                            arm in LOOP_METHODS)
        redone = {"search_redone": True, "search_redone_s": took()}
    z_star = read_result(RunDir(out)).best.text
    made = [x["z_star"] for x in rows if (x["benchmark"], x["seed"], x["method"]) ==
            (bench, seed, arm)]
    if made and made[0] != z_star:
        print(f"warning: {bench} seed {seed}: the {arm} search in {out} found another z* "
              f"than its row; the {arm} row stands, this row follows that search",
              file=sys.stderr)
        return out, redone | {"z_star_as_in_row": False}
    return out, redone | ({"z_star_as_in_row": True} if redone else {})


def run_mixture(run_dir: Path, lm, work: Path) -> dict:
    """D' labelled by the posterior over the search's top MIXTURE_K z's (`igtext label
    --mixture`; z's under MIN_WEIGHT of the weight left out): accuracy of the posterior
    predictive on all of D', and, abstaining where less than ABSTAIN_BELOW of the weight
    agrees, its coverage and accuracy."""
    from igtext.label import label_mixture
    rep = label_mixture(run_dir, "test", run_dir / "mixture-test.jsonl", MIXTURE_K,
                        ABSTAIN_BELOW, lm, work / "cache", min_weight=MIN_WEIGHT)
    return {"acc_D": None, "acc_Dprime": rep["accuracy_predictive"],
            "coverage": rep["coverage"], "acc_answered": rep["accuracy_answered"],
            "flagged": rep["flagged"] / rep["n"], "weights": rep["weights"],
            "entropy": rep["entropy"], "lm_calls": rep["lm_calls"] - rep["lm_calls_cached"],
            "lm_tokens": None}


def run_distil(run_dir: Path, lm, work: Path, student: str, seed: int, args) -> dict:
    from dataclasses import replace

    from igtext.distil import distil
    from igtext.training.classifier import SETTINGS
    rep = distil(run_dir, run_dir / f"m_l_test-{student}", seed=seed, model=lm,
                 cache_dir=work / "cache", student=student,
                 lora_settings=replace(SETTINGS, epochs=args.clf_epochs, seed=seed))
    judged = rep.get("heldout_unjudged", rep["heldout"]) < rep["heldout"]
    return {"acc_D": None, "acc_Dprime": rep.get("student_accuracy_gold"),
            "z_star_acc_on_same": rep.get("M_L_accuracy_gold"),
            "teacher_acc_on_same": rep.get("teacher_accuracy_gold"), "teacher": rep["teacher"],
            "note": f"on the held-out {rep['heldout']} of D'", "lm_calls": 0, "lm_tokens": 0,
            "agreement_with_z_star": rep["agreement_with_z_star"],
            "speedup_vs_M_L": rep["speedup"], "fit_s": rep["fit_s"]} | ({
                "acc_Dprime_unjudged": rep.get("student_accuracy_gold_unjudged"),
                "z_star_acc_unjudged": rep.get("M_L_accuracy_gold_unjudged"),
                "n_unjudged": rep.get("heldout_unjudged")} if judged else {})


def execution(name: str, z: str, task, lik) -> float:
    """Execution accuracy of z on D' with APE's metric for the Instruction Induction task."""
    from igtext.tasks import instruction_induction as ii
    answers = lik.answers(z, task.test, 24)
    gold = {e.input: e.answers for e in ii.examples(name, "execute")}
    return statistics.mean(ii.score(name, a, gold.get(e.input, (e.label,)))
                           for a, e in zip(answers, task.test))


def run_open(bench: str, task, seed, args, lm, work: Path) -> dict:
    """Rows for an Instruction Induction task."""
    from igtext import components
    from igtext.config import RunConfig
    from igtext.data import Hypothesis
    from igtext.objective import Scorer
    from igtext.tasks import instruction_induction as ii
    name = bench.split(":", 1)[1]
    lik = _likelihood(lm, task)
    done = timer()
    rows = {"zero_shot": {"acc_Dprime": execution(name, GENERIC, task, lik), "wall_s": done()}}
    for method, w in (("likelihood_only", 0.0), ("ig", 1.0)):
        r, _ = run_search(task, seed, args, w, work, lm.inner)
        done = timer()                        # the search's own time, then the execution's
        acc = execution(name, r["z_star"], task, lik)
        rows[method] = {**r, "acc_Dprime": acc, "acc_D": None,
                        "wall_s": round(r["wall_s"] + done(), 1)}
    done = timer()
    humans = ii.annotations(name)
    cfg = RunConfig()
    prior = components.prior(lm, cfg, task, components.load_templates(cfg))
    scored = Scorer(lik, prior, task.train, len(task.train)).score([Hypothesis(h) for h in humans])
    accs = [execution(name, h, task, lik) for h in humans]
    best = max(range(len(humans)), key=lambda i: scored[i].objective)
    rows["human_mean"] = {"acc_Dprime": statistics.mean(accs), "wall_s": done()}
    rows["human_best"] = {"acc_Dprime": accs[best], "z_star": humans[best]}
    return rows


#: Figures some rows have besides accuracy, shown in brackets after accuracy on D'.
EXTRA = ("z_star_acc_on_same", "teacher_acc_on_same", "acc_Dprime_unjudged",
         "z_star_acc_unjudged", "n_unjudged", "coverage", "acc_answered", "flagged")


def brackets(cell: dict) -> str:
    """The EXTRA figures of a table cell, as ' (...)' (a teacher equal to z*, when no
    judgments replaced M_L's labels, is not repeated)."""
    m = {k: cell[k]["mean"] for k in EXTRA if k in cell}
    parts = []
    if "z_star_acc_on_same" in m:
        same = f"z* {m['z_star_acc_on_same']:.3f}"
        teacher = m.get("teacher_acc_on_same", m["z_star_acc_on_same"])
        parts.append(same + (f", teacher {teacher:.3f}"
                             if abs(teacher - m["z_star_acc_on_same"]) > 1e-9 else ""))
    if "acc_Dprime_unjudged" in m:
        there = (f", z* {m['z_star_acc_unjudged']:.3f}" if "z_star_acc_unjudged" in m else "")
        parts.append(f"never labelled by the person, n = {m.get('n_unjudged', 0):.0f}: "
                     f"{m['acc_Dprime_unjudged']:.3f}{there}")
    if "coverage" in m:
        answered = m.get("acc_answered")
        parts.append(f"answers {m['coverage']:.3f} of D' at agreement ≥ {ABSTAIN_BELOW}"
                     + (f", accuracy {answered:.3f}" if answered is not None else "")
                     + f"; flagged {m['flagged']:.3f}")
    if cell.get("other_z_star_seeds"):
        parts.append("seed " + ", ".join(map(str, cell["other_z_star_seeds"])) +
                     ": of a search run again, whose z* is not its row's")
    return f" ({'; '.join(parts)})" if parts else ""


def value(row: dict, key: str):
    """A row's figure; distillation rows made before the teacher's accuracy was reported on
    its own had no judgments (the loop's were made again): their teacher was z*."""
    if key == "teacher_acc_on_same" and "teacher" not in row:
        return row.get("z_star_acc_on_same")
    return row.get(key)


def summarise(rows: list[dict]) -> dict:
    order: dict[str, int] = {}
    for m in CLASSIFICATION_METHODS + FITTED_METHODS + LOOP_METHODS + OPEN_METHODS:
        order.setdefault(m, len(order))
    out: dict = {}
    for r in sorted(rows, key=lambda r: order.get(r["method"], len(order))):
        out.setdefault(r["benchmark"], {}).setdefault(r["method"], []).append(r)
    summary = {}
    for bench, methods in out.items():
        summary[bench] = {}
        for method, rs in methods.items():
            cell = {}
            for key in ("acc_D", "acc_Dprime", *EXTRA, "lm_calls", "lm_tokens", "wall_s"):
                vals = [value(r, key) for r in rs if value(r, key) is not None]
                if vals:
                    cell[key] = {"mean": statistics.mean(vals),
                                 "spread": statistics.pstdev(vals) if len(vals) > 1 else 0.0}
            cell["seeds"] = sorted({r["seed"] for r in rs})
            other = sorted(r["seed"] for r in rs if r.get("z_star_as_in_row") is False)
            if other:                 # a student/mixture of a search run again: another z*
                cell["other_z_star_seeds"] = other
            summary[bench][method] = cell
    return summary


def ape_reference() -> dict[str, float]:
    from igtext.tasks.datadir import data_dir
    path = data_dir("instruction_induction") / "APE_REPORTED_RESULTS.md"
    if not path.exists():
        return {}
    rows = re.findall(r"^\|\s*([a-z_\-]+)\s*\|[^|]*\|\s*([0-9.]+)", path.read_text(), re.M)
    return {k: float(v) for k, v in rows}


def markdown(res: dict) -> str:
    ape = ape_reference()
    lines = [f"# Out-of-distribution benchmark{' (quick)' if res['quick'] else ''}", "",
             f"Command: `{res['command']}`  ", f"{res['machine']}  ",
             f"Seeds: {res['seeds']}; search budget per run: {res['calls']} LM calls, "
             f"{res['generations']} generations of {res['population']}. Wall time of all rows: "
             f"{res['rows_wall_s']:.0f} s (without model loading)."]
    if res.get("husky_adapters"):
        lines[-1] += "  "
        lines.append("Husky's fitted rows: the adapters (prior, likelihood) of hash "
                     f"{', '.join(res['husky_adapters'])} (`--husky-judgments`, made by "
                     "`eval/judgments.py --parts prior,likelihood`).")
    lines += ["", "| benchmark | method | seeds | accuracy on D | accuracy on D' | LM calls "
              "| LM tokens | wall s |", "|---|---|---|---|---|---|---|---|"]

    def fmt(cell, key, digits=3):
        v = cell.get(key)
        return "–" if v is None else f"{v['mean']:.{digits}f} ± {v['spread']:.{digits}f}"
    for bench, methods in res["summary"].items():
        for method, cell in methods.items():
            lines.append(f"| {bench} | {method} | {len(cell.get('seeds', ()))} "
                         f"| {fmt(cell, 'acc_D')} | {fmt(cell, 'acc_Dprime')}{brackets(cell)} "
                         f"| {fmt(cell, 'lm_calls', 0)} | {fmt(cell, 'lm_tokens', 0)} "
                         f"| {fmt(cell, 'wall_s', 1)} |")
        name = bench.split(":", 1)[1] if bench.startswith("ii:") else None
        if name in ape:
            lines.append(f"| {bench} | APE, InstructGPT (reported best) | – | – "
                         f"| {ape[name]:.2f} | – | – | – |")
    lines += ii_means(res["summary"], ape)
    lines += ["", "Mean ± spread (population std) over the seeds in the seeds column (a row "
              "with fewer seeds than the run's is a run not yet finished). For ii:* rows, "
              "accuracy on D' is execution accuracy on the execute split with APE's metric; "
              "ig_distil* rows are scored on the part of D' they were not fitted on, with z*'s "
              "own accuracy on that part in brackets (M_L(·|x', z*) alone; and the teacher's, "
              "where people's labels under z* replaced M_L's on some inputs); ig_distil: "
              "logistic regression on frozen LM features; ig_distil_lora: the LoRA classifier; "
              "ig_distil_tfidf: logistic regression on TF-IDF features, no LM; labelling with "
              "them takes no LM call (the teacher's labels reuse the search's evaluation of "
              "D'), and their "
              "speedup over M_L with z* is in the JSON rows. *_mixture rows label D' by the "
              f"posterior over the search's top {MIXTURE_K} z's (weights exp(objective), "
              f"those under {MIN_WEIGHT} left out; igtext label --mixture): accuracy of the "
              "posterior predictive on all of D', then "
              f"in brackets the share of D' where at least {ABSTAIN_BELOW} of the weight agrees "
              "(coverage), the accuracy there, and the share where some z disagrees (flagged). "
              "A student or mixture whose search's run directory was lost runs the search again; "
              "where that found another z* than the search's row, its brackets say so. "
              "wall s: seconds the row took, model loading excluded. LM calls are cached "
              "on disk and counted whether or not the cache answered them, so a row that "
              "repeats prompts an earlier row made (ig scoring the seed z's that "
              "likelihood_only already scored, say) takes less time than it would alone; "
              "*_mixture rows count only the calls the cache did not answer (z*'s labels of D' "
              "are its search's), so a mixture stopped and run again counts its last part."]
    if any(m in FITTED_METHODS for methods in res["summary"].values() for m in methods):
        lines += ["*_fitted rows: M_L (and for ig_fitted M_prior, a Bradley-Terry reward model) "
                  "fitted to the simulated person's judgments of the husky world "
                  "(eval/judgments.py: 500 comparisons of z's, 3000 labels of D-style inputs, "
                  "no D' label); both arms start from the same seed z's "
                  "(husky_world.SEED_HYPOTHESES) and score each z on "
                  f"{res.get('fitted_search_examples', 16)} examples of D."]
    if any(m in LOOP_METHODS for methods in res["summary"].values() for m in methods):
        lines += ["*_fitted_loop rows: the same searches with seed step 3 after every "
                  f"generation ({res.get('fitted_loop')} comparisons, labels per refresh; "
                  "likelihood_only_fitted_loop asks for labels only): the simulated person "
                  "compares the current top z's and labels inputs of D and D' under them, and "
                  "the prior and M_L are refit on them, continuing from the fitted adapters. "
                  "Refits are CPU time the LM-call cap does not count. ig_fitted_loop_distil* "
                  "rows distil that arm's z* like ig_distil*; their teacher is the M_L the loop "
                  "ended with, and the person's labels under z* where the loop asked for them. "
                  "The person labelled inputs of D', so these rows also give accuracy on the "
                  "inputs of D' never labelled by the person during the run (n of them), and "
                  "z*'s there."]
    lines.append("")
    return "\n".join(lines)


def ii_means(summary: dict, ape: dict[str, float]) -> list[str]:
    """Instruction Induction over tasks: each method's mean execution accuracy on the tasks
    where every method has a row, with APE's reported numbers on the same tasks."""
    tasks = [b for b, methods in summary.items() if b.startswith("ii:")
             and all("acc_Dprime" in methods.get(m, {}) for m in OPEN_METHODS)]
    if not tasks:
        return []
    lines = ["", f"Instruction Induction, mean over the {len(tasks)} tasks with every method:", "",
             "| method | execution accuracy on D' | tasks |", "|---|---|---|"]
    for m in OPEN_METHODS:
        vals = [summary[b][m]["acc_Dprime"]["mean"] for b in tasks]
        lines.append(f"| {m} | {statistics.mean(vals):.3f} | {len(vals)} |")
    reported = [ape[b.split(":", 1)[1]] for b in tasks if b.split(":", 1)[1] in ape]
    if reported:
        lines.append(f"| APE, InstructGPT (reported best) | {statistics.mean(reported):.3f} "
                     f"| {len(reported)} |")
    return lines


def adapter_hash(judgments_dir: str) -> str:
    from igtext.training.lora import adapter_hash as one
    return "".join(one(Path(judgments_dir) / part)[:6] for part in ("prior", "likelihood"))


def settings_key(args) -> str:
    """What a row depends on: rows made with other settings are not reused."""
    return (f"{args.model}-c{args.calls}-g{args.generations}-p{args.population}"
            f"-e{args.search_examples}-k{args.clf_epochs}").replace("/", "_").replace(":", "_")


def loop_sizes(args) -> tuple[int, int]:
    """--fitted-loop COMPARISONS,LABELS: the judgments asked for at each refresh."""
    try:
        comparisons, labels = (int(v) for v in args.fitted_loop.split(","))
    except ValueError:
        raise SystemExit(f"--fitted-loop: expected COMPARISONS,LABELS (e.g. 120,80), "
                         f"got {args.fitted_loop!r}") from None
    return comparisons, labels


def fitted_key(args, loop: bool = False) -> str | None:
    """What a fitted row depends on beyond `settings_key`: the adapters, its own search size
    and, for a loop arm, the judgments asked for at each refresh (None: the arm is off)."""
    if not args.husky_judgments or (loop and not args.fitted_loop):
        return None
    key = f"{adapter_hash(args.husky_judgments)}-e{args.fitted_search_examples}"
    return key + ("-loop-c{}-l{}".format(*loop_sizes(args)) if loop else "")


def recorded_judgments(rows: list, key: str) -> dict:
    """--report-only without --husky-judgments: the adapters each fitted arm's rows were made
    with (so the table needs no adapter on disk), one set per arm or the caller must choose."""
    out = {}
    for m in FITTED_METHODS + LOOP_METHODS:
        seen = {r.get("judgments") for r in rows if r["method"] == m and r.get("settings") == key}
        if len(seen) > 1:
            raise SystemExit(f"rows of {m} were made with different adapters "
                             f"({', '.join(sorted(map(str, seen)))}): name the ones to report "
                             f"with --husky-judgments DIR")
        out[m] = seen.pop() if seen else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int)
    ap.add_argument("--seed-from", type=int, default=0,
                    help="run seeds SEED_FROM..SEEDS-1 only (to run seeds in parallel processes; "
                         "the table keeps every row already made)")
    ap.add_argument("--calls", type=int)
    ap.add_argument("--generations", type=int)
    ap.add_argument("--population", type=int)
    ap.add_argument("--search-examples", type=int)
    ap.add_argument("--clf-epochs", type=int, default=3)
    ap.add_argument("--benchmarks", help="comma-separated subset")
    ap.add_argument("--methods", help="comma-separated subset (the table keeps every row "
                                      "already made with the same settings)")
    ap.add_argument("--work", help="run directories (default: ~/.cache/igtext/eval-ood/SETTINGS)")
    ap.add_argument("--model", default="smollm2-135m", help="the local model of every method")
    ap.add_argument("--husky-judgments", metavar="DIR",
                    help="prior/ and likelihood/ adapters fitted to the husky world's judgments")
    ap.add_argument("--fitted-search-examples", type=int, default=16,
                    help="D examples scored per z in the two fitted arms (the issue-4 loop's)")
    ap.add_argument("--fitted-loop", metavar="COMPARISONS,LABELS",
                    help="also the two fitted arms with the step-3 loop (needs --husky-judgments)")
    ap.add_argument("--person", action="store_true",
                    help="also the ig_person row: the default model and search presets")
    ap.add_argument("--out-dir", default=str(RESULTS))
    ap.add_argument("--report-only", action="store_true",
                    help="write the table from the rows already made; run nothing")
    args = ap.parse_args()
    q = args.quick
    defaults = {"seeds": 1 if q else 3, "calls": 1500 if q else 12000,
                "generations": 1 if q else 3, "population": 3 if q else 6,
                "search_examples": 12 if q else 48}
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.husky_judgments:           # refuse bad adapters now, not hours into the run
        from igtext.training.adapters import check_adapter
        for kind in ("prior", "likelihood"):
            check_adapter(Path(args.husky_judgments) / kind, kind, args.model)
    if args.fitted_loop:
        if not args.husky_judgments and not args.report_only:
            raise SystemExit("--fitted-loop needs --husky-judgments")
        loop_sizes(args)
    stem = Path(args.out_dir) / ("ood-quick" if q else "ood")
    key = settings_key(args)
    work = Path(args.work or Path.home() / ".cache" / "igtext" / "eval-ood" / key)
    benches = benchmarks(q)
    if args.benchmarks:                    # names or patterns: ii:*,hypobench:*
        pats = args.benchmarks.split(",")
        benches = {k: v for k, v in benches.items() if any(fnmatchcase(k, p) for p in pats)}
    rows_path = stem.with_suffix(".rows.jsonl")
    old = [json.loads(line) for line in open(rows_path)] if rows_path.exists() else []
    judged = {m: fitted_key(args, m in LOOP_METHODS) for m in FITTED_METHODS + LOOP_METHODS}
    if args.report_only and not args.husky_judgments:
        judged = recorded_judgments(old, key)
    rows = [r for r in old if r.get("settings") == key and r["benchmark"] in benches
            and r["seed"] < args.seeds                  # rows of other settings: stale
            and (r["method"] not in judged or r.get("judgments") == judged[r["method"]])]
    done_keys = {(r["benchmark"], r["seed"], r["method"]) for r in rows}
    total = timer()
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        run_all(args, benches, key, work, rows, done_keys, judged, rows_path)
    res = {"command": "eval/ood.py " + " ".join(
               f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
               for k, v in vars(args).items()
               if v not in (None, False) and k not in ("work", "out_dir", "report_only"))
           + (" --husky-judgments DIR" if any(judged.values()) and not args.husky_judgments
              else ""),
           "machine": f"2 CPU cores; {args.model} (fp32) for every LM method",
           "quick": q, "seeds": args.seeds, "calls": args.calls,
           "fitted_search_examples": args.fitted_search_examples,
           "fitted_loop": args.fitted_loop,
           "husky_adapters": sorted({v.split("-e")[0] for v in judged.values() if v}),
           "generations": args.generations, "population": args.population,
           "summary": summarise(rows), "rows": rows,
           "rows_wall_s": round(sum(r.get("wall_s") or 0 for r in rows), 1),
           "this_invocation_wall_s": total()}
    stem.with_suffix(".json").write_text(json.dumps(res, indent=2))
    stem.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))


def run_all(args, benches: dict, key: str, work: Path, rows: list, done_keys: set,
            judged: dict, rows_path: Path) -> None:
    """Make the rows not yet made, appending each to `rows` and to the rows file."""
    from igtext.lm.cache import default_cache_dir
    from igtext.lm.registry import load_model
    base = load_model(args.model)
    wanted = set(args.methods.split(",")) if args.methods else None
    fitted = Path(args.husky_judgments) if args.husky_judgments else None
    log = open(rows_path, "a", encoding="utf-8")

    def keep(bench, method, seed, r):
        rows.append({"benchmark": bench, "method": method, "seed": seed, "settings": key, **r}
                    | ({"judgments": judged[method]} if method in judged else {}))
        log.write(json.dumps(rows[-1]) + "\n")
        log.flush()
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "z_star"}), flush=True)
    for seed in range(args.seed_from, args.seeds):   # seed by seed: a cut run stays balanced
        for bench, (make, kind) in benches.items():
            if kind == "open":
                if all((bench, seed, m) in done_keys for m in OPEN_METHODS) or (
                        wanted is not None and not wanted & set(OPEN_METHODS)):
                    continue
                task = make(seed)
                for method, r in run_open(bench, task, seed, args, _metered(
                        base, default_cache_dir(None)), work).items():
                    keep(bench, method, seed, r)
                continue
            task = None
            methods = CLASSIFICATION_METHODS + (
                (FITTED_METHODS + (LOOP_METHODS if args.fitted_loop else ()))
                if bench == "husky" and fitted else ())
            for method in methods:
                if (bench, seed, method) in done_keys or (
                        wanted is not None and method not in wanted) or (
                        method == "ig_person" and not args.person):
                    continue
                task = task or make(seed)
                done = timer()
                lm = _metered(base, default_cache_dir(None))
                if method == "tfidf_lr":
                    r = run_tfidf(task)
                elif method == "lora_clf":
                    r = run_lora_clf(task, seed, args, work)
                elif method == "zero_shot":
                    r = run_zero_shot(task, lm, calibrate=True)
                elif method == "ig_person":
                    r = run_person(task, seed, work)
                elif method in ("likelihood_only", "ig"):
                    r, _ = run_search(task, seed, args, 0.0 if method != "ig" else 1.0,
                                      work, base)
                elif method in DISTILLED or method in MIXTURE:
                    student, arm = DISTILLED.get(method) or (None, MIXTURE[method])
                    run_dir, redone = searched(bench, task, seed, args, arm, work, base,
                                               fitted, rows, judged.get(arm))
                    r = (run_distil(run_dir, base, work, student, seed, args) if student
                         else run_mixture(run_dir, base, work)) | redone
                    if "search_redone_s" in redone:     # its own time, not the search's
                        r["wall_s"] = round(done() - redone["search_redone_s"], 1)
                elif method in judged:
                    r, _ = run_search(task, seed, args, 1.0 if method.startswith("ig") else 0.0,
                                      work, base, fitted, method in LOOP_METHODS)
                else:
                    raise AssertionError(method)
                keep(bench, method, seed, {"wall_s": done(), **r})  # a search gives its own
    log.close()


if __name__ == "__main__":
    main()
