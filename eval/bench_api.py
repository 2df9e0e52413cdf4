"""Benchmark: API throughput with concurrency N (1, 4, 16) against the local proxy adding
200 ms of latency to every request.

By default the proxy answers every request itself (a canned completion), so the figure
measures igtext's client: with 200 ms per request, N concurrent requests can reach at most
N x 5 requests/s; the target is 0.8 x N x 5. With `--upstream URL` the proxy forwards to a
real server instead (e.g. llama-cpp-python's), and the figures then include its own speed.
Prints one JSON object.

    .venv/bin/python eval/bench_api.py [--requests 64] [--upstream URL --model NAME --key K]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fault_proxy import FaultProxy  # noqa: E402

from igtext.lm.base import GenerationRequest  # noqa: E402
from igtext.lm.openai_api import OpenAILM  # noqa: E402


def measure(url: str, model: str, key: str, concurrency: int, n: int, tag: int) -> float:
    lm = OpenAILM(model, base_url=url, api_key=key, concurrency=concurrency, probe=False,
                  logprob_method="none")
    reqs = [GenerationRequest((("user", f"Say ok. ({tag}-{i})"),), max_new_tokens=1,
                              temperature=0.0) for i in range(n)]
    lm.generate(reqs[:concurrency])                       # warm-up: connections
    t = time.perf_counter()
    lm.generate(reqs)
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--upstream", help="forward to this server instead of answering")
    ap.add_argument("--model", default="m")
    ap.add_argument("--key", default="none")
    args = ap.parse_args()

    out = {"latency_s": args.latency, "requests": args.requests,
           "upstream": "real server" if args.upstream else "canned answers (client only)",
           "runs": []}
    with FaultProxy(args.upstream, latency_s=args.latency) as proxy:
        seq = measure(proxy.url, args.model, args.key, 1, max(8, args.requests // 4), 0)
        out["sequential_rps"] = round(seq, 2)
        for n in (1, 4, 16):
            rps = measure(proxy.url, args.model, args.key, n, args.requests, n)
            target = 0.8 * n / args.latency
            out["runs"].append({"concurrency": n, "rps": round(rps, 2),
                                "speedup_vs_sequential": round(rps / seq, 2),
                                "target_rps": round(target, 1), "meets_target": rps >= target})
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
