"""Benchmark: learning from (simulated) human judgments on builtin:husky.

  prior       the Bradley-Terry LoRA prior from at most 500 comparisons; pairwise accuracy on
              comparisons between hypotheses it never saw (target >= 0.85)
  likelihood  the LoRA M_L from label judgments under many z's; log-loss on held-out z's and
              on D' wordings it never saw, against zero-shot M_L (target: >= 30% lower)
  loop        the same seeded search with and without the step-3 loop; D' accuracy

The annotator is the simulated person of `igtext.tasks.husky_world` (known prior, known way
of labelling under z). Prints one JSON object with CPU seconds for each part and writes it
to eval/results/judgments.json.

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
from igtext.tasks.husky_world import SimulatedPerson, hypothesis_pool
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
    report = fit_prior(train, base, work / "prior", LoraSettings(
        rank=8, alpha=16, lr=2e-3, epochs=args.prior_epochs, batch_size=8, max_length=128,
        top_layers=args.top_layers), heldout=test, base_name="smollm2-135m")
    return {**report, **done(), "comparisons": len(train), "heldout_hypotheses": len(test_pool)}


def label_items(pool, inputs, n, rng, person):
    items = [(rng.choice(pool), rng.choice(inputs)) for _ in range(n)]
    return [LabelJudgment(z, x, a, d, person.annotator, "simulated")
            for (z, x), (a, d) in zip(items, person.label(items))]


def part_likelihood(args, base, work) -> dict:
    task = husky_task()
    pool = hypothesis_pool(300, seed=21)
    train_pool, test_pool = pool[:240], pool[240:]
    rng = random.Random(3)
    person = SimulatedPerson(seed=4)
    train = label_items(train_pool, [e.input for e in task.train], args.labels, rng, person)
    fresh = husky_task(n_train=240, n_test=0, seed=99)          # new sentences, D's words
    heldout = {"new_z_new_inputs": label_items(test_pool, [e.input for e in fresh.train], 240,
                                               rng, person),
               "new_z_d_prime_wordings": label_items(test_pool, [e.input for e in task.test],
                                                     240, rng, person)}
    done = cpu_timer()
    report = fit_likelihood(train, task.labels, base, work / "likelihood", LoraSettings(
        rank=16, alpha=32, lr=args.lik_lr, epochs=args.lik_epochs, batch_size=8, max_length=320,
        top_layers=args.lik_layers, targets=("q_proj", "k_proj", "v_proj", "o_proj")),
        heldout=heldout, base_name="smollm2-135m")
    for name in heldout:
        h = report[name]
        h["log_loss_reduction"] = 1 - h["fitted"]["log_loss"] / h["zero_shot"]["log_loss"]
        h["oracle_log_loss"] = sum(-math.log(j.distribution[j.answer])
                                   for j in heldout[name]) / len(heldout[name])
    return {**report, **done(), "heldout_note": "z's never in training; inputs either new "
            "sentences in D's words, or D' sentences whose trait words never occur in D"}


LOOP_SEEDS = [
    "A dog in deep snow is a husky. A dog on green grass is a labrador. A dog inside a fire "
    "station is a dalmatian. A dog on a velvet sofa is a poodle.",
    "A husky has pale blue eyes and thick grey and white fur. A labrador has a short yellow "
    "coat and floppy ears. A dalmatian has a white coat covered in black spots. A poodle has "
    "tightly curled fur and a pom-pom haircut.",
    "A husky has a short yellow coat. A labrador has tightly curled fur. A dalmatian has pale "
    "blue eyes. A poodle has a white coat covered in black spots.",
]


def part_loop(args, work) -> dict:
    import igtext
    from igtext.config import RunConfig

    task = husky_task(n_train=80, n_test=80, seed=5)
    base = {"seed": 7, "budget": {"max_calls": args.loop_calls},
            "search": {"generations": args.loop_generations, "population": 4, "offspring": 2,
                       "elite": 2, "seeds": LOOP_SEEDS},
            "likelihood": {"search_examples": 16, "calibrate": False},
            "proposer": {"max_new_tokens": 64}}
    out = {}
    for name, refresh in (("without_loop", {"every": 0}),
                          ("with_loop", {"every": 1, "judge": "simulated", "comparisons": 30,
                                         "labels": 80, "top": 4})):
        cfg = RunConfig.model_validate({**base, "refresh": refresh})
        done = cpu_timer()
        res = igtext.search(task, config=cfg, out_dir=work / name, cache_dir=work / "cache")
        out[name] = {"test_accuracy": res.test_accuracy, "train_accuracy": res.train_accuracy,
                     "best": res.best.hypothesis.text, "lm_calls": res.extra["lm_calls"],
                     "adapters": res.extra["adapters"], **done()}
    out["same_seed_and_budget"] = {"seed": 7, "max_calls": args.loop_calls}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--comparisons", type=int, default=500)
    ap.add_argument("--labels", type=int, default=600)
    ap.add_argument("--prior-epochs", type=int, default=2)
    ap.add_argument("--lik-epochs", type=int, default=2)
    ap.add_argument("--lik-lr", type=float, default=1e-3)
    ap.add_argument("--lik-layers", type=int, default=16)
    ap.add_argument("--top-layers", type=int, default=8)
    ap.add_argument("--loop-calls", type=int, default=12000)
    ap.add_argument("--loop-generations", type=int, default=2)
    ap.add_argument("--parts", default="prior,likelihood,loop")
    ap.add_argument("--out", default=str(RESULTS / "judgments.json"))
    args = ap.parse_args()
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
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
