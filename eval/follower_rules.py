"""Does a rule-by-rule M_L read single rules as the simulated person does? On rule
judgments of the validation domains (never in training data), the share where M_L's top
answer is the person's: where the rule applies (a label) and where it does not ("none").

    OMP_NUM_THREADS=2 .venv/bin/python eval/follower_rules.py ADAPTER [ADAPTER ...] [--n 120]

A quick check of a fit (about a minute per adapter); eval/follower.py measures whole z's.
Writes eval/results/follower-rules.json.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("adapters", nargs="+")
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "eval" / "results" / "follower-rules.json"))
    args = ap.parse_args()
    from igtext import components
    from igtext.config import RunConfig
    from igtext.data import Task
    from igtext.worlds import splits
    from igtext.worlds.imitation import rule_data
    data = rule_data(splits.validation_worlds(), args.n, seed=args.seed)
    cfg = RunConfig(model="smollm2-135m", likelihood={"reading": "rules"})
    lm = components.metered(components.load_backend(cfg), None)
    out = {"command": " ".join(["eval/follower_rules.py"] + sys.argv[1:]), "arms": {}}
    for adapter in args.adapters:
        lik = components.likelihood(lm, cfg, Task("-", (), (), ("a", "b")), adapter=adapter)
        hits, n = collections.Counter(), collections.Counter()
        for r in data:
            ans = lik.with_labels(r.labels[:-1]).rule_answers([r.z], [r.x])[0][0]
            key = "none" if r.answer == "none" else "applies"
            n[key] += 1
            hits[key] += max(ans, key=ans.get) == r.answer
        out["arms"][adapter] = {k: {"share": hits[k] / n[k], "n": n[k]} for k in n}
        print(adapter, out["arms"][adapter])
    Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
