"""Benchmark: API throughput with concurrency N (1, 4, 16) against the local proxy adding
200 ms of latency to every request.

By default the proxy answers every request itself (a canned completion), so the figure
measures igtext's client: with 200 ms per request, N concurrent requests can reach at most
N x 5 requests/s; the target is 0.8 x N x 5. With `--upstream URL` the proxy forwards to a
real server instead (e.g. llama-cpp-python's), and the figures then include its own speed.

Three paths: `generate` (plain chat completions), `chat` (M_L's questions scored from the
first answer token's top_logprobs, `igtext.choice`) and `sample` (the same questions answered
`--samples` times): requests/s at each concurrency. And HTTP calls per scored example when
M_L judges `--examples` examples over 4 labels (the content-free row included), for those
two and for completions `top_logprobs` (teacher forcing: a call per label and token; the
canned answer ends each label after one).
Prints one JSON object.

    .venv/bin/python eval/bench_api.py [--requests 64] [--samples 8]
                                       [--upstream URL --model NAME --key K]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fault_proxy import FaultProxy  # noqa: E402

from fault_proxy import CANNED  # noqa: E402

from igtext.choice import Chooser, Question  # noqa: E402
from igtext.likelihood import Likelihood  # noqa: E402
from igtext.lm.base import GenerationRequest  # noqa: E402
from igtext.lm.openai_api import OpenAILM  # noqa: E402
from igtext.prompts import load_template  # noqa: E402

PATHS = ("generate", "chat", "sample")
LABELS = ("husky", "labrador", "dalmatian", "poodle")


def canned() -> dict:
    """The proxy's canned answers, the chat one with first-token top_logprobs."""
    out = json.loads(json.dumps(CANNED))
    top = [{"token": t, "logprob": v, "bytes": None} for t, v in (("A", -0.2), ("B", -1.9))]
    out["chat"]["choices"][0]["message"]["content"] = "A"
    out["chat"]["choices"][0]["logprobs"] = {"content": [dict(top[0], top_logprobs=top)]}
    return out


def backend(url: str, model: str, key: str, path: str, concurrency: int,
            samples: int) -> OpenAILM:
    return OpenAILM(model, base_url=url, api_key=key, concurrency=concurrency, probe=False,
                    logprob_method="none" if path == "generate" else path, samples=samples)


def measure(proxy, model: str, key: str, path: str, concurrency: int, n: int, tag: int,
            samples: int) -> float:
    """HTTP requests per second for about `n` requests on `path`."""
    lm = backend(proxy.url, model, key, path, concurrency, samples)
    per = samples if path == "sample" else 1
    if path == "generate":
        reqs = [GenerationRequest((("user", f"Say ok. ({tag}-{i})"),), max_new_tokens=1,
                                  temperature=0.0) for i in range(n)]
        lm.generate(reqs[:concurrency])                   # warm-up: connections
        run = lambda: lm.generate(reqs)                   # noqa: E731
    else:
        qs = [Question(f"Input: item {tag}-{i}\nAnswer:", LABELS) for i in range(max(1, n // per))]
        Chooser(lm).ask([Question(f"warm-up {tag}-{i}\nAnswer:", LABELS)
                         for i in range(max(1, concurrency // per))])
        run = lambda: Chooser(lm).ask(qs)                 # noqa: E731
    before = sum(proxy.counts.values())
    t = time.perf_counter()
    run()
    return (sum(proxy.counts.values()) - before) / (time.perf_counter() - t)


def calls_per_example(proxy, model: str, key: str, path: str, examples: int,
                      samples: int) -> float:
    """HTTP calls per example when M_L judges `examples` examples under one z."""
    from igtext.data import Example
    lm = backend(proxy.url, model, key, path, 4, samples)
    lik = Likelihood(lm, load_template("likelihood"), LABELS)
    before = sum(proxy.counts.values())
    lik.judge("Name the breed.", [Example(f"e{i}", f"a dog {i}", "husky")
                                  for i in range(examples)])
    return round((sum(proxy.counts.values()) - before) / examples, 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--upstream", help="forward to this server instead of answering")
    ap.add_argument("--model", default="m")
    ap.add_argument("--key", default="none")
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--examples", type=int, default=16)
    args = ap.parse_args()

    out = {"latency_s": args.latency, "requests": args.requests, "samples": args.samples,
           "upstream": "real server" if args.upstream else "canned answers (client only)",
           "runs": [], "calls_per_example": {}}
    with FaultProxy(args.upstream, latency_s=args.latency, canned=canned()) as proxy:
        for path in PATHS:
            seq = measure(proxy, args.model, args.key, path, 1, max(8, args.requests // 4), 0,
                          args.samples)
            for n in (1, 4, 16):
                rps = measure(proxy, args.model, args.key, path, n, args.requests, n,
                              args.samples)
                target = 0.8 * n / args.latency
                out["runs"].append({"path": path, "concurrency": n, "rps": round(rps, 2),
                                    "speedup_vs_sequential": round(rps / seq, 2),
                                    "target_rps": round(target, 1),
                                    "meets_target": rps >= target})
        for path in ("top_logprobs", "chat", "sample"):
            out["calls_per_example"][path] = calls_per_example(
                proxy, args.model, args.key, path, args.examples, args.samples)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
