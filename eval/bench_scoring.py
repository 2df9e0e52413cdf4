"""Benchmark: M_L scoring speed on the embedded SmolLM2-135M, against this machine's ceiling.

Prints one JSON object. `ceiling_fraction` = scoring tokens/s over the ceiling
(fp32 matmul rate / (2 x params) tokens/s); `prefix_speedup` = examples/s for one z
(|z| ~ 300 tokens, |x| ~ 40 tokens, 4 labels) with the shared z prefix and batching,
over one full forward per example. Targets: ceiling_fraction >= 0.6, prefix_speedup >= 5.

    .venv/bin/python eval/bench_scoring.py [--examples 48] [--baseline-examples 8]
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from igtext.data import Example
from igtext.likelihood import Likelihood
from igtext.lm.hf import TransformersLM
from igtext.lm.registry import load_model
from igtext.prompts import load_template
from igtext.tasks.husky import husky_task

Z = ("To name the breed, look only at the dog itself and ignore where it is photographed: "
     "snow, grass, a fire station or a sofa say nothing about the breed. "
     "A husky has a thick double coat in grey and white, striking blue or icy eyes, "
     "upright triangular ears, a wolf-like face and a bushy tail that curls over its back. "
     "A labrador has a short, dense coat in yellow, black or chocolate, a broad head, "
     "kind brown or hazel eyes, ears that hang down, and a thick tapering otter tail. "
     "A dalmatian has a short white coat covered in round black or liver spots, a lean "
     "athletic build, spotted ears and a long thin tail. A poodle has dense tightly curled "
     "or corded fur, often clipped into puffs or pom-poms, a long elegant neck, a narrow "
     "muzzle and a light, springy, high-stepping walk. When traits of two breeds appear, "
     "weigh the coat first, then the eyes and ears, then the tail. If the description "
     "uses unusual words, think about what they mean: ringlets are curls, a pelt is a coat, "
     "pinnae are ears, irises are eyes, a brush or rudder is a tail, and ebony is black. "
     "Answer with the breed name only, in lower case, and do not explain your answer.")


def matmul_gflops(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9


def examples(n: int) -> list[Example]:
    task = husky_task(n_train=2 * n, n_test=0, seed=7)
    rows = task.train
    return [Example(f"x{i}", rows[2 * i].input + " " + rows[2 * i + 1].input, rows[2 * i].label)
            for i in range(n)]


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=48)
    ap.add_argument("--baseline-examples", type=int, default=8)
    args = ap.parse_args()

    gflops = matmul_gflops()
    fast: TransformersLM = load_model("smollm2-135m")
    params = sum(p.numel() for p in fast.model.parameters())
    ceiling = gflops * 1e9 / (2 * params)
    slow = TransformersLM(fast.model, fast.tok, fast.name, share_prefix=False)
    tpl = load_template("likelihood")
    labels = ("husky", "labrador", "dalmatian", "poodle")
    exs = examples(args.examples)
    lik_fast = Likelihood(fast, tpl, labels)
    lik_slow = lik_fast.with_lm(slow)

    z_tokens = len(fast._encode(Z, False))
    x_tokens = sum(len(fast._encode(e.input, False)) for e in exs) / len(exs)
    lik_fast.judge(Z, exs[:4])                                  # warm-up
    fast.tokens_processed = 0
    _, t_fast = timed(lambda: lik_fast.judge(Z, exs))
    processed = fast.tokens_processed
    tokens_per_s = processed / t_fast

    base = exs[:args.baseline_examples]
    _, t_slow = timed(lambda: [lik_slow.judge(Z, [e]) for e in base])   # one forward each

    same = lik_fast.judge(Z, base)
    ref = [lik_slow.judge(Z, [e])[0] for e in base]
    max_diff = max(abs(a.raw[y] - b.raw[y]) for a, b in zip(same, ref) for y in labels)

    fast_eps = len(exs) / t_fast
    slow_eps = len(base) / t_slow
    print(json.dumps({
        "machine": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads(),
        "matmul_gflops": round(gflops, 1), "params": params,
        "ceiling_tokens_per_s": round(ceiling, 1),
        "z_tokens": z_tokens, "x_tokens_mean": round(x_tokens, 1), "labels": len(labels),
        "examples": len(exs), "scoring_seconds": round(t_fast, 2),
        "scoring_tokens_processed": processed,
        "scoring_tokens_per_s": round(tokens_per_s, 1),
        "ceiling_fraction": round(tokens_per_s / ceiling, 3),
        "examples_per_s_shared_prefix": round(fast_eps, 2),
        "examples_per_s_full_forward": round(slow_eps, 2),
        "prefix_speedup": round(fast_eps / slow_eps, 2),
        "max_abs_logprob_diff": max_diff,
    }, indent=2))


if __name__ == "__main__":
    main()
