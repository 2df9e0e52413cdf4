"""Benchmark: does a proposer fine-tuned on human-written instructions propose better z's?

Leave-tasks-out over the 24 Instruction Induction tasks: the tasks are split into folds;
for each fold a LoRA proposer is trained (`fit_proposer`) on traces of the other folds'
tasks only, then, on every held-out task, three sources of z are compared with the same
scorer (M_prior + sum of log M_L(y|x,z) over a fixed scoring set drawn from `induce`) and
the same executor (greedy answers under z on the `execute` split, APE's metric):

  base    N proposals of the base proposal model from 5 demonstrations (`initial` prompt)
  lora    N proposals of the LoRA proposer from the same demonstrations
  human   the instructions people wrote for the task (the reference)

Per task and source: (a) the objective of the proposals, mean and best of N; (b) execution
accuracy of the best proposal (by objective); (c) similarity to the human instructions
(token F1 against the closest one). Seeds change the demonstrations shown and the samples
drawn; the adapters are trained once per fold. Writes eval/results/proposer.{json,md}.

    .venv/bin/python eval/proposer.py [--folds 4] [--seeds 2] [--n 3] [--tasks a,b,...]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from igtext import components
from igtext.config import RunConfig, load_recipe
from igtext.data import Example, Hypothesis, Task
from igtext.lm.cache import MeteredLM
from igtext.lm.registry import converted_dir, load_model
from igtext.objective import Scorer
from igtext.proposer import Job, Proposer
from igtext.tasks import instruction_induction as ii
from igtext.traces import traces_from_instruction_induction
from igtext.training.lora import read_meta
from igtext.training.proposer_ft import fit_proposer

RESULTS = Path(__file__).resolve().parent / "results"
MODEL = "smollm2-135m"
ARMS = ("base", "lora", "human")


def timer():
    t0, c0 = time.perf_counter(), time.process_time()
    return lambda: {"wall_s": round(time.perf_counter() - t0, 1),
                    "cpu_s": round(time.process_time() - c0, 1)}


def make_folds(tasks: list[str], k: int) -> list[list[str]]:
    order = sorted(tasks)
    random.Random(0).shuffle(order)
    return [sorted(order[i::k]) for i in range(k)]


def task_sets(name: str, seed: int, args):
    """(demonstrations for this seed, the fixed scoring set, the execution set)."""
    pool = ii.examples(name, "induce")
    n_score = min(args.score_examples, len(pool) - args.demos)
    scoring = random.Random(name).sample(pool, n_score)
    rest = [e for e in pool if e not in scoring]
    demos = random.Random(f"{name}-{seed}").sample(rest, args.demos)
    return demos, scoring, ii.examples(name, "execute")[:args.exec_examples]


def _examples(items, prefix: str) -> tuple[Example, ...]:
    return tuple(Example(f"{prefix}-{i}", e.input, e.output) for i, e in enumerate(items))


def train_fold(k: int, train_tasks: list[str], held: list[str], out: Path, args) -> dict:
    """The fold's adapter, trained on traces of `train_tasks` only (reused if already made
    with the same settings); its held-out loss is on traces of the `held` tasks."""
    if (out / "igtext_adapter.json").exists():
        meta = read_meta(out, "proposer")
        return {"adapter": str(out), **meta["report"], "reused": True}

    def traces(names):
        return traces_from_instruction_induction(None, names, demos=args.demos,
                                                 per_instruction=args.per_instruction, seed=k)
    cfg = load_recipe("proposer", lr=args.lr, epochs=args.epochs, rank=args.rank,
                      top_layers=args.top_layers)
    done = timer()
    rep = fit_proposer(traces(train_tasks), converted_dir(MODEL), out, cfg.settings(),
                       heldout=traces(held), base_name=MODEL,
                       source=f"instruction_induction fold {k}", progress=not args.quiet)
    return {"adapter": str(out), **rep, **done()}


def evaluate_task(name: str, seed: int, base: MeteredLM, tuned: MeteredLM, args) -> dict:
    demos, scoring, execute = task_sets(name, seed, args)
    task = Task(name, _examples(demos, "demo"), (), None)
    cfg = RunConfig()                  # the run's default M_L and prior
    templates = components.load_templates(cfg)
    lik = components.likelihood(base, cfg, task, templates["likelihood"])
    prior = components.prior(base, cfg, task, templates)
    scorer = Scorer(lik, prior, _examples(scoring, "score"), len(scoring), 1.0, False)
    humans = ii.annotations(name)
    exec_examples = _examples(execute, "exec")

    def execution(z: str) -> float:
        answers = lik.answers(z, exec_examples, args.answer_tokens)
        return statistics.mean(ii.score(name, a, e.answers) for a, e in zip(answers, execute))

    out = {}
    for arm in ARMS:
        if arm == "human":
            hyps = [Hypothesis(text=h) for h in humans]
            dropped = 0
        else:
            proposer = Proposer(tuned if arm == "lora" else base, task,
                                n_examples=args.demos, max_new_tokens=args.max_new_tokens,
                                temperature=0.8, top_p=0.95)
            jobs = [Job("initial", (), sample_index=1000 * seed + j, generation=0)
                    for j in range(args.n)]
            props = proposer.propose(jobs, random.Random(seed))
            hyps = list({p.hypothesis.id: p.hypothesis for p in props if p.hypothesis}.values())
            dropped = args.n - len([p for p in props if p.hypothesis])
        scored = scorer.score(hyps) if hyps else []
        if not scored:
            out[arm] = {"n": 0, "dropped": dropped}
            continue
        best = max(scored, key=lambda s: s.objective)
        sims = [similarity(s.hypothesis.text, humans) for s in scored]
        out[arm] = {"n": len(scored), "dropped": dropped,
                    "objective_mean": statistics.mean(s.objective for s in scored),
                    "objective_best": best.objective,
                    "exec_accuracy_best": execution(best.hypothesis.text),
                    "similarity_mean": statistics.mean(sims), "similarity_best": max(sims),
                    "best": best.hypothesis.text,
                    "texts": [s.hypothesis.text for s in scored]}
    return out


METRICS = ("objective_mean", "objective_best", "exec_accuracy_best", "similarity_mean")


def similarity(text: str, humans: list[str]) -> float:
    """Token F1 against the closest human instruction other than the text itself (a human
    instruction is compared with the other people's)."""
    others = [h for h in humans if h.strip() != text.strip()] or humans
    return max(ii.token_f1(text, h) for h in others)


def _mean(values) -> float | None:
    values = list(values)
    return statistics.mean(values) if values else None


def paired(rows: list[dict], m: str, resamples: int = 10000) -> dict | None:
    """lora − base on metric `m`: wins, ties and losses over (task, seed) pairs, the mean
    difference and a 95% interval from resampling held-out tasks (a task's seeds together)."""
    pairs = [(r["task"], r["lora"][m] - r["base"][m]) for r in rows
             if m in r["lora"] and m in r["base"]]
    if not pairs:
        return None
    per_task = {}
    for task, d in pairs:
        per_task.setdefault(task, []).append(d)
    means = [statistics.mean(v) for v in per_task.values()]
    rng = random.Random(0)
    boot = sorted(statistics.mean(rng.choices(means, k=len(means))) for _ in range(resamples))
    return {"wins": sum(d > 0 for _, d in pairs), "ties": sum(d == 0 for _, d in pairs),
            "losses": sum(d < 0 for _, d in pairs), "mean_diff": statistics.mean(means),
            "ci95": [boot[int(0.025 * resamples)], boot[int(0.975 * resamples) - 1]],
            "share_of_resamples_not_above_0": sum(b <= 0 for b in boot) / resamples}


def summarise(rows: list[dict], n_seeds: int) -> dict:
    """Per arm and metric: the mean over tasks for each seed, then mean and spread over seeds;
    also how lora compares with base pair by pair and per fold."""
    out = {}
    for arm in ARMS:
        out[arm] = {}
        for m in METRICS:
            per_seed = []
            for s in range(n_seeds):
                vals = [r[arm][m] for r in rows if r["seed"] == s and m in r[arm]]
                if vals:
                    per_seed.append(statistics.mean(vals))
            out[arm][m] = {"mean": statistics.mean(per_seed) if per_seed else None,
                           "spread": statistics.pstdev(per_seed) if len(per_seed) > 1 else 0.0,
                           "per_seed": per_seed}
    out["lora_vs_base"] = {m: paired(rows, m) for m in METRICS[:3]}
    out["no_valid_proposal"] = {arm: sum(1 for r in rows if not r[arm].get("n")) for arm in ARMS}
    out["dropped_proposals"] = {arm: sum(r[arm].get("dropped", 0) for r in rows) for arm in ARMS}
    out["lora_beats_base_per_fold"] = {}
    for fold in sorted({r["fold"] for r in rows}):
        sub = [r for r in rows if r["fold"] == fold]
        diffs = {}
        for m in METRICS[:3]:
            a = _mean(r["lora"][m] for r in sub if m in r["lora"])
            b = _mean(r["base"][m] for r in sub if m in r["base"])
            if a is not None and b is not None:
                diffs[m] = a - b
        out["lora_beats_base_per_fold"][fold] = diffs
    return out


def markdown(res: dict) -> str:
    s = res["summary"]
    lines = ["# LoRA proposer vs base proposer vs human instructions (Instruction Induction)", "",
             f"Command: `{res['command']}`  ", f"{res['machine']}  ",
             f"Leave-tasks-out: {res['folds']} folds over {res['n_tasks']} tasks; the adapter of a "
             f"fold never saw its held-out tasks. Held-out tasks evaluated "
             f"({len(res['evaluated_tasks'])}): {', '.join(res['evaluated_tasks'])}. "
             f"{res['seeds']} seeds (demonstrations and samples); "
             f"N = {res['n']} proposals per source; scoring set {res['score_examples']} induce "
             f"examples; execution on the first {res['exec_examples']} execute examples.", "",
             "| source | objective, mean of N | objective, best of N | exec. accuracy of the best "
             "| similarity to human (token F1) |", "|---|---|---|---|---|"]
    for arm in ARMS:
        cells = []
        for m in METRICS:
            v = s[arm][m]
            cells.append("–" if v["mean"] is None else f"{v['mean']:.3f} ± {v['spread']:.3f}")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    lines += ["", "human: every instruction people wrote for the task (4-10, not N); its best is "
              "the best of those by the same objective, and its similarity is to the other "
              "people's instructions.", "",
              "Mean over held-out tasks, then mean ± spread (population std) over seeds. "
              f"(task, seed) pairs with no valid proposal (left out of the means): "
              f"{s['no_valid_proposal']}; proposals dropped by the proposer's cleaning: "
              f"{s['dropped_proposals']}.", "",
              "lora − base over held-out (task, seed) pairs: wins / ties / losses, the mean "
              "difference (over tasks) and a 95% interval from resampling tasks (10,000 draws):",
              "", "| metric | wins / ties / losses | mean difference | 95% interval | "
              "share of draws ≤ 0 |", "|---|---|---|---|---|"]
    for m, v in s["lora_vs_base"].items():
        if v is not None:
            lines.append(f"| {m} | {v['wins']} / {v['ties']} / {v['losses']} | "
                         f"{v['mean_diff']:+.3f} | [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}] | "
                         f"{v['share_of_resamples_not_above_0']:.2f} |")
    lines += ["",
              "lora − base per fold (mean over its held-out tasks and seeds):", "",
              "| fold | held-out tasks | " + " | ".join(METRICS[:3]) + " |",
              "|---|---|" + "---|" * 3]
    for fold, d in s["lora_beats_base_per_fold"].items():
        lines.append(f"| {fold} | {', '.join(res['fold_tasks'][int(fold)])} | " +
                     " | ".join(f"{d.get(m, float('nan')):+.3f}" for m in METRICS[:3]) + " |")
    lines += ["", "Training (2 CPU cores, SmolLM2-135M-Instruct, fp32):", "",
              "| fold | traces | epochs | held-out answer loss, base → LoRA | wall s | CPU s |", "|---|---|---|---|---|---|"]
    for tr in res["training"]:
        loss = (f"{tr['heldout_loss_base']:.3f} → {tr['heldout_loss_tuned']:.3f}"
                if "heldout_loss_tuned" in tr else "–")
        lines.append(f"| {tr['fold']} | {tr.get('train_traces')} | {res['epochs']} | {loss} | "
                     f"{tr.get('wall_s', '–')} | {tr.get('cpu_s', '–')} |")
    lines += ["", f"This invocation: {res['wall_s']} s wall, {res['lm_calls']} LM calls; "
              f"{res.get('reused_rows', 0)} of {len(res['rows'])} rows were made by an earlier "
              "one with the same settings (the .rows.jsonl file beside this table).", ""]
    return "\n".join(lines)


def settings_key(args) -> str:
    """Everything that changes a row's numbers (the proposals, scores and executions)."""
    return (f"r{args.rank}-t{args.top_layers}-lr{args.lr}-e{args.epochs}-p{args.per_instruction}"
            f"-d{args.demos}-f{args.folds}-n{args.n}-s{args.score_examples}"
            f"-x{args.exec_examples}-a{args.answer_tokens}-m{args.max_new_tokens}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--n", type=int, default=3, help="proposals per source and task")
    ap.add_argument("--demos", type=int, default=4)
    ap.add_argument("--score-examples", type=int, default=10)
    ap.add_argument("--exec-examples", type=int, default=20)
    ap.add_argument("--per-instruction", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--top-layers", type=int, default=16, help="adapt only the last N layers")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--answer-tokens", type=int, default=24)
    ap.add_argument("--tasks", help="only these held-out tasks (comma-separated)")
    ap.add_argument("--per-fold", type=int, default=0,
                    help="only the first K held-out tasks of each fold (0: all)")
    ap.add_argument("--work", default=str(Path.home() / ".cache" / "igtext" / "eval-proposer"))
    ap.add_argument("--out", default=str(RESULTS / "proposer.json"))
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    done = timer()
    tasks = ii.task_names()
    folds = make_folds(tasks, args.folds)
    only = set(args.tasks.split(",")) if args.tasks else None
    base_lm = load_model(MODEL)
    base = components.metered(base_lm, components.open_cache())
    work = Path(args.work) / (f"r{args.rank}-t{args.top_layers}-lr{args.lr}-e{args.epochs}-"
                              f"p{args.per_instruction}-d{args.demos}-f{args.folds}")
    key = settings_key(args)
    rows_path = Path(args.out).with_suffix(".rows.jsonl")
    rows = [json.loads(line) for line in open(rows_path)] if rows_path.exists() else []
    rows = [r for r in rows if r.get("settings") == key]      # rows of other settings: stale
    done_keys = {(r["task"], r["seed"]) for r in rows}
    held = {k: [t for t in fold if not only or t in only][:args.per_fold or None]
            for k, fold in enumerate(folds)}
    training, tuned = [], {}
    for k, fold in enumerate(folds):          # every fold's adapter first
        if not held[k]:
            continue
        training.append({"fold": k, **train_fold(k, [t for t in tasks if t not in fold], fold,
                                                 work / f"fold-{k}", args)})
        tuned[k] = components.adapter_lm(base, "proposer", work / f"fold-{k}", MODEL)
    with open(rows_path, "a", encoding="utf-8") as log:
        for seed in range(args.seeds):        # then seed by seed, so a cut run stays balanced
            for k in tuned:
                for name in held[k]:
                    if (name, seed) in done_keys:
                        continue
                    r = {"fold": k, "task": name, "seed": seed, "settings": key,
                         **evaluate_task(name, seed, base, tuned[k], args)}
                    rows.append(r)
                    log.write(json.dumps(r) + "\n")
                    log.flush()
                    print(json.dumps({key: r[key] for key in ("fold", "task", "seed")} | {
                        a: {m: round(r[a][m], 3) for m in METRICS if m in r[a]}
                        for a in ARMS}), flush=True)
    rows = [r for r in rows if r["task"] in {t for k in tuned for t in held[k]}
            and r["seed"] < args.seeds]
    res = {"command": "eval/proposer.py " + " ".join(
               f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
               if k not in ("out", "work", "quiet") and v is not None),
           "machine": "2 CPU cores, SmolLM2-135M-Instruct (fp32) as proposer, scorer and executor",
           "folds": args.folds, "n_tasks": len(tasks),
           "evaluated_tasks": sorted({r["task"] for r in rows}), "seeds": args.seeds, "n": args.n,
           "score_examples": args.score_examples, "exec_examples": args.exec_examples,
           "epochs": args.epochs, "fold_tasks": folds, "training": training,
           "summary": summarise(rows, args.seeds), "rows": rows,
           "lm_calls": base.usage.calls,
           "reused_rows": sum((r["task"], r["seed"]) in done_keys for r in rows), **done()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    Path(args.out).with_suffix(".md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
