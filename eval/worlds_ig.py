"""IG with the learned person on domains it never saw: the held-out worlds (husky's dogs
among them), each run from D (contexts predict the class) to D' (contexts moved to other
classes, traits in wordings D never used), against the usual baselines.

    OMP_NUM_THREADS=1 .venv/bin/python eval/worlds_ig.py --follower F --prior P \
        --proposer Q [--seeds 3] [--domains dogs,mushrooms,...] [--arms ig,...]

Arms, on the same local model and, for the searches, the same search settings:
  ig               the follower M_L (read rule by rule), the world prior and the describe
                   proposer: igtext's learned person
  likelihood_only  the same with the prior's weight 0
  bare             the search on the bare model (whole-z M_L, LM-judge prior, the untuned
                   proposer's initial/refine/crossover/simplify)
  tfidf_lr         TF-IDF + logistic regression on D
  lora_clf         the LM fine-tuned with LoRA as a classifier on D

Each search row records z*, what the simulated person's parser reads in it (`kind`:
thing, context, wrong, mixed or none; `thing` means rules about the thing itself only), and
accuracy on D and D'. Rows go to eval/results/worlds-ig.rows.jsonl as they are made (a cut
run started again continues); the summary to eval/results/worlds-ig.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

RESULTS = ROOT / "eval" / "results"
ARMS = ("ig", "likelihood_only", "bare", "tfidf_lr", "lora_clf")


def search_config(args, arm: str, seed: int):
    from igtext.config import RunConfig
    search = {"population": args.population, "offspring": args.offspring,
              "generations": args.generations, "elite": 2}
    common = {"seed": seed, "model": args.model, "budget": {"max_calls": args.max_calls},
              "likelihood": {"search_examples": args.search_examples}, "search": search}
    if arm == "bare":
        return RunConfig.model_validate(common)
    return RunConfig.model_validate({
        **common,
        "likelihood": {**common["likelihood"], "reading": "rules",
                       "adapter": str(Path(args.follower).resolve())},
        "prior": {"adapter": str(Path(args.prior).resolve()),
                  "reward_weight": 0.0 if arm == "likelihood_only" else args.prior_weight},
        "proposer": {"adapter": str(Path(args.proposer).resolve())} if args.proposer else {},
        "search": {**search, "initial_describe": args.population, "p_describe": 0.5,
                   "p_refine": 0.2, "p_crossover": 0.2, "p_simplify": 0.1}})


def run_search(task, arm: str, seed: int, args, work: Path) -> dict:
    import igtext
    from igtext.worlds import load_world
    from igtext.worlds.person import rule_kind
    from igtext.worlds.reading import Reader
    out = work / f"{task.name}-{arm}-s{seed}"
    t0 = time.time()
    res = igtext.search(task, config=search_config(args, arm, seed), out_dir=out,
                        cache_dir=args.cache)
    rec = res.record
    z = rec.best.text
    return {"z": z, "kind": rule_kind(Reader(load_world(task.world)), z),
            "train_accuracy": rec.train_accuracy, "test_accuracy": rec.test_accuracy,
            "lm_calls": rec.lm_calls, "wall_s": round(time.time() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--follower", required=True)
    ap.add_argument("--prior", required=True)
    ap.add_argument("--proposer")
    ap.add_argument("--domains", help="default: every held-out domain")
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--n-train", type=int, default=40)
    ap.add_argument("--n-test", type=int, default=80)
    ap.add_argument("--population", type=int, default=4)
    ap.add_argument("--offspring", type=int, default=4)
    ap.add_argument("--generations", type=int, default=2)
    ap.add_argument("--search-examples", type=int, default=24)
    ap.add_argument("--max-calls", type=int, default=20000)
    ap.add_argument("--prior-weight", type=float, default=1.0)
    ap.add_argument("--clf-epochs", type=int, default=3)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--work", default="/tmp/worlds-ig")
    ap.add_argument("--cache", default=None, help="LM cache (default: igtext's)")
    ap.add_argument("--out", default=str(RESULTS / "worlds-ig"))
    args = ap.parse_args()
    import ood
    from igtext.worlds import load_world, splits
    from igtext.worlds.generate import world_task
    domains = (args.domains.split(",") if args.domains
               else [w.domain for w in splits.held_out_worlds()])
    arms = args.arms.split(",")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows_path = Path(args.out + ".rows.jsonl")
    rows = [json.loads(ln) for ln in rows_path.read_text().splitlines()] if rows_path.exists() else []
    done = {(r["domain"], r["arm"], r["seed"]) for r in rows}
    for seed in range(args.seeds):
        for domain in domains:
            task = world_task(load_world(domain), seed, args.n_train, args.n_test, "both")
            for arm in arms:
                if (domain, arm, seed) in done:
                    continue
                t0 = time.time()
                if arm == "tfidf_lr":
                    r = ood.run_tfidf(task)
                    r = {"train_accuracy": r["acc_D"], "test_accuracy": r["acc_Dprime"]}
                elif arm == "lora_clf":
                    r = ood.run_lora_clf(task, seed, args, work)
                    r = {"train_accuracy": r["acc_D"], "test_accuracy": r["acc_Dprime"]}
                else:
                    r = run_search(task, arm, seed, args, work)
                row = {"domain": domain, "arm": arm, "seed": seed, **r,
                       "wall_s": r.get("wall_s", round(time.time() - t0, 1))}
                rows.append(row)
                with rows_path.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
    present = [a for a in ARMS if any(r["arm"] == a for r in rows)]     # this run's and earlier
    summary = summarise(rows, domains, present, args)
    Path(args.out + ".json").write_text(json.dumps(summary, indent=2))
    Path(args.out + ".md").write_text(markdown(summary))


def summarise(rows, domains, arms, args) -> dict:
    out = {"command": " ".join(["eval/worlds_ig.py"] + sys.argv[1:]), "domains": domains,
           "arms": {}}
    for arm in arms:
        mine = [r for r in rows if r["arm"] == arm and r["domain"] in domains]
        if not mine:
            continue
        test = [r["test_accuracy"] for r in mine]
        cell = {"runs": len(mine), "test_mean": statistics.mean(test),
                "test_sd": statistics.pstdev(test),
                "train_mean": statistics.mean(r["train_accuracy"] for r in mine),
                "wall_s": round(sum(r["wall_s"] for r in mine), 1),
                "by_domain": {d: statistics.mean(r["test_accuracy"] for r in mine
                                                 if r["domain"] == d)
                              for d in domains if any(r["domain"] == d for r in mine)}}
        if "kind" in mine[0]:
            cell["thing_share"] = sum(r["kind"] == "thing" for r in mine) / len(mine)
        out["arms"][arm] = cell
    return out


def markdown(s: dict) -> str:
    lines = [f"# IG on held-out domains ({', '.join(s['domains'])})", "",
             f"Command: `{s['command']}`", "",
             "| arm | runs | D' accuracy (mean ± sd) | D accuracy | z* about the thing | "
             + " | ".join(s["domains"]) + " | wall s |",
             "|---|---|---|---|---|" + "---|" * len(s["domains"]) + "---|"]
    for arm, c in s["arms"].items():
        thing = f"{c['thing_share']:.2f}" if "thing_share" in c else "-"
        per = " | ".join(f"{c['by_domain'][d]:.2f}" if d in c["by_domain"] else "-"
                         for d in s["domains"])
        lines.append(f"| {arm} | {c['runs']} | {c['test_mean']:.3f} ± {c['test_sd']:.3f} | "
                     f"{c['train_mean']:.3f} | {thing} | {per} | {c['wall_s']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
