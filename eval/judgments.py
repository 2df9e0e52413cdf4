"""Benchmark: learning from (simulated) human judgments on builtin:husky.

  prior       the Bradley-Terry LoRA prior from at most 500 comparisons; pairwise accuracy on
              comparisons between hypotheses it never saw (target >= 0.85)
  likelihood  the LoRA M_L from label judgments under many z's; log-loss on held-out z's and
              on D' wordings it never saw, against zero-shot M_L (target: >= 30% lower)
  loop        the same seeded search with and without the step-3 loop; D' accuracy

The annotator is the simulated person of `igtext.tasks.husky_world` (known prior, known way
of labelling under z). Prints one JSON object with CPU seconds for each part and adds it to
eval/results/judgments.json (`merge`: the parts not run are kept).

    .venv/bin/python eval/judgments.py [--comparisons 500] [--labels 600] [--parts prior,likelihood,loop]
"""
from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
from pathlib import Path

from igtext.judgments.store import LabelJudgment
from igtext.lm.registry import converted_dir
from igtext.tasks.husky import husky_task
from igtext.tasks.husky_world import SEED_HYPOTHESES, SimulatedPerson, hypothesis_pool
from igtext.training.likelihood_ft import fit_likelihood
from igtext.training.lora import LoraSettings
from igtext.training.reward import fit_prior

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_timer():
    t0, c0 = time.perf_counter(), time.process_time()
    return lambda: {"wall_s": round(time.perf_counter() - t0, 1),
                    "cpu_s": round(time.process_time() - c0, 1)}


def pairs_from(pool, n, rng, person):
    pairs = [tuple(rng.sample(pool, 2)) for _ in range(n)]
    return [(a, b, w) for (a, b), w in zip(pairs, person.compare(pairs))]


def part_prior(args, base, work) -> dict:
    pool = hypothesis_pool(400, seed=11)
    train_pool, test_pool = pool[:300], pool[300:]
    rng = random.Random(1)
    person = SimulatedPerson(seed=2)
    train = pairs_from(train_pool, args.comparisons, rng, person)
    test = pairs_from(test_pool, 300, rng, person)
    done = cpu_timer()
    out = Path(args.prior_adapter_out) if args.prior_adapter_out else work / "prior"
    report = fit_prior(train, base, out, LoraSettings(
        rank=8, alpha=16, lr=2e-3, epochs=args.prior_epochs, batch_size=8, max_length=128,
        top_layers=args.top_layers), heldout=test, base_name="smollm2-135m")
    return {**report, **done(), "comparisons": len(train), "heldout_hypotheses": len(test_pool)}


def label_items(pool, inputs, n, rng, person):
    items = [(rng.choice(pool), rng.choice(inputs)) for _ in range(n)]
    return [LabelJudgment(z, x, a, d, person.annotator, "simulated")
            for (z, x), (a, d) in zip(items, person.label(items))]


def grouped_label_items(zs, inputs, per_z, rng, person):
    """`per_z` judgments under each z, on inputs of different breeds where possible."""
    by_breed: dict[str, list[str]] = {}
    for e in inputs:
        by_breed.setdefault(e.label, []).append(e.input)
    items = []
    for z in zs:
        breeds = rng.sample(sorted(by_breed), min(per_z, len(by_breed)))
        breeds += [rng.choice(sorted(by_breed)) for _ in range(per_z - len(breeds))]
        items += [(z, rng.choice(by_breed[b])) for b in breeds]
    return [LabelJudgment(z, x, a, d, person.annotator, "simulated")
            for (z, x), (a, d) in zip(items, person.label(items))]


def part_likelihood(args, base, work) -> dict:
    task = husky_task()
    test_pool = hypothesis_pool(300, seed=21)[240:]       # the held-out z's of every run
    person = SimulatedPerson(seed=4)
    # Training: many distinct z's (right, partial, wrong, background, generic rules), each
    # with `lik_per_z` inputs in D's words (D's sentences and more sentences like them).
    held = set(test_pool)
    zs = [z for z in hypothesis_pool(args.labels // args.lik_per_z + len(held), seed=31)
          if z not in held][:args.labels // args.lik_per_z]
    more = husky_task(n_train=400, n_test=0, seed=123)
    seen_x: set[str] = set()
    train_inputs = [e for e in task.train + more.train
                    if not (e.input in seen_x or seen_x.add(e.input))]
    train = grouped_label_items(zs, train_inputs, args.lik_per_z, random.Random(3), person)
    fresh = husky_task(n_train=240, n_test=0, seed=99)          # new sentences, D's words
    new_inputs = [e.input for e in fresh.train if e.input not in seen_x]
    rng = random.Random(5)
    held_person = SimulatedPerson(seed=6)
    heldout = {"new_z_new_inputs": label_items(test_pool, new_inputs, 240, rng, held_person),
               "new_z_d_prime_wordings": label_items(test_pool, [e.input for e in task.test],
                                                     240, rng, held_person)}
    done = cpu_timer()
    settings = LoraSettings(
        rank=args.lik_rank, alpha=2 * args.lik_rank, lr=args.lik_lr, epochs=args.lik_epochs,
        batch_size=8, max_length=320, top_layers=args.lik_layers or None,
        targets=tuple(args.lik_targets.split(",")), warmup=args.lik_warmup,
        schedule=args.lik_schedule, clip=args.lik_clip or None)
    out = Path(args.lik_adapter_out) if args.lik_adapter_out else work / "likelihood"
    report = fit_likelihood(train, task.labels, base, out, settings, heldout=heldout,
                            base_name="smollm2-135m")
    for name in heldout:
        h = report[name]
        h["log_loss_reduction"] = 1 - h["fitted"]["log_loss"] / h["zero_shot"]["log_loss"]
        h["oracle_log_loss"] = sum(-math.log(j.distribution[j.answer])
                                   for j in heldout[name]) / len(heldout[name])
    return {**report, **done(), "train_z": len(zs), "train_inputs": len(train_inputs),
            "settings": {k: v for k, v in vars(settings).items()},
            "heldout_note": "60 z's never in training (hypothesis_pool(300, seed=21)[240:]); "
            "inputs either new sentences in D's words (none in training), or D' sentences "
            "whose trait words never occur in D"}


def person_accuracy(z: str, examples) -> float:
    """Expected accuracy of the simulated person labelling `examples` while following z
    (a measure of z that does not depend on any M_L)."""
    from igtext.tasks.husky_world import label_distribution
    hits = 0.0
    for e in examples:
        dist = label_distribution(z, e.input)
        top = max(dist.values())
        winners = [y for y, p in dist.items() if p == top]
        hits += (e.label in winners) / len(winners)
    return hits / len(examples)


def part_loop(args, work) -> dict:
    import igtext
    from igtext.config import RunConfig

    task = husky_task(n_train=80, n_test=80, seed=5)
    out = {"runs": []}
    for seed in [int(s) for s in str(args.loop_seeds).split(",")]:
        base = {"seed": seed, "budget": {"max_calls": args.loop_calls},
                "search": {"generations": args.loop_generations, "population": 4,
                           "offspring": 2, "elite": 2, "seeds": list(SEED_HYPOTHESES)},
                "likelihood": {"search_examples": 16, "calibrate": False,
                               "adapter": args.loop_lik_adapter or None},
                "prior": {"adapter": args.loop_prior_adapter or None},
                "proposer": {"max_new_tokens": 64}}
        for name, refresh in (("without_loop", {"every": 0}),
                              ("with_loop", {"every": 1, "judge": "simulated",
                                             "comparisons": args.loop_comparisons,
                                             "labels": args.loop_labels, "top": 4})):
            cfg = RunConfig.model_validate({**base, "refresh": refresh})
            done = cpu_timer()
            res = igtext.search(task, config=cfg, out_dir=work / f"{name}-{seed}",
                                cache_dir=work / f"cache-{seed}-{name}")
            out["runs"].append({
                "arm": name, "seed": seed, "test_accuracy": res.test_accuracy,
                "train_accuracy": res.train_accuracy,
                "person_test_accuracy": person_accuracy(res.best.hypothesis.text, task.test),
                "best": res.best.hypothesis.text, "lm_calls": res.record.lm_calls,
                "likelihood_model": res.record.likelihood_model,
                "adapters": res.record.adapters, **done()})
            print(json.dumps(out["runs"][-1]), flush=True)
    out["same_seed_and_budget"] = {"max_calls": args.loop_calls,
                                   "generations": args.loop_generations}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--comparisons", type=int, default=500)
    ap.add_argument("--labels", type=int, default=4000)
    ap.add_argument("--prior-epochs", type=int, default=2)
    ap.add_argument("--lik-epochs", type=int, default=1)
    ap.add_argument("--lik-lr", type=float, default=2e-3)
    ap.add_argument("--lik-layers", type=int, default=0, help="top layers with LoRA (0: all)")
    ap.add_argument("--lik-rank", type=int, default=16)
    ap.add_argument("--lik-targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,"
                    "down_proj")
    ap.add_argument("--lik-per-z", type=int, default=4, help="label judgments per training z")
    ap.add_argument("--lik-warmup", type=float, default=0.05)
    ap.add_argument("--lik-schedule", default="cosine")
    ap.add_argument("--lik-clip", type=float, default=1.0)
    ap.add_argument("--lik-adapter-out", default="", help="keep the fitted M_L adapter here")
    ap.add_argument("--prior-adapter-out", default="", help="keep the fitted prior here")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    ap.add_argument("--top-layers", type=int, default=8)
    ap.add_argument("--loop-calls", type=int, default=12000)
    ap.add_argument("--loop-generations", type=int, default=2)
    ap.add_argument("--loop-seeds", default="7")
    ap.add_argument("--loop-comparisons", type=int, default=30)
    ap.add_argument("--loop-labels", type=int, default=80)
    ap.add_argument("--loop-lik-adapter", default="", help="both arms start from this M_L")
    ap.add_argument("--loop-prior-adapter", default="", help="both arms start from this prior")
    ap.add_argument("--parts", default="prior,likelihood,loop")
    ap.add_argument("--out", default=str(RESULTS / "judgments.json"))
    args = ap.parse_args()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    base = converted_dir("smollm2-135m")
    out = {"command": "eval/judgments.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out")}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "prior" in args.parts:
            out["prior"] = part_prior(args, base, work)
        if "likelihood" in args.parts:
            out["likelihood"] = part_likelihood(args, base, work)
        if "loop" in args.parts:
            out["loop"] = part_loop(args, work)
    print(json.dumps(out, indent=2))
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merge(json.loads(path.read_text()) if path.exists() else {},
                                     out), indent=2))


def merge(report: dict, out: dict) -> dict:
    """`report` (the results file) with this invocation's parts in it: the prior replaced,
    a likelihood or loop run appended to `likelihood_runs` / `loop_runs`, each with its
    command; what this invocation did not run is kept."""
    merged = dict(report)
    if "prior" in out:
        merged["prior"] = {"command": out["command"], **out["prior"]}
    for part in ("likelihood", "loop"):
        if part in out:
            merged[f"{part}_runs"] = list(report.get(f"{part}_runs", [])) + [
                {"command": out["command"], **out[part]}]
    return merged


if __name__ == "__main__":
    main()
