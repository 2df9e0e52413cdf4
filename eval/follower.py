"""Does M_L follow z? Agreement of M_L's label with the simulated person's under z, on the
held-out domains (no world of them, and none of their wordings, is in any training data),
separately for each kind of z: thing rules, context rules, wrong rules (and the rest).

A pair counts where the person has one label (where no rule of z applies they only guess,
and nothing can agree with a guess). Inputs come from D and from D' of every shift, so that
under a context rule half the inputs' contexts have moved away from their true class: to
agree there, M_L must follow z, not the truth.

    OMP_NUM_THREADS=1 .venv/bin/python eval/follower.py [--adapter DIR ...] [--n 20] [--seeds 3]

Arms: the bare model reading z whole (raw and calibrated, as a run reads it) and rule by
rule (`igtext.rulewise`), and each `--adapter` (a fitted M_L: the follower, or the
husky-only one), read as it was fitted to read. Each seed draws other z's and inputs; a
figure is the mean over seeds (± their sd). Writes eval/results/follower.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "eval" / "results"
KINDS = ("thing", "context", "wrong", "paraphrased", "per_label", "partial", "mixed")
WORDED = (("z worded as x", False), ("z worded unlike x", True))


def pairs(worlds, n: int, seed: int):
    """Per world and kind, `n` (z, x) pairs where the person gives one label."""
    from igtext.worlds.imitation import label_data
    out = []
    for w in worlds:
        for kind in KINDS:
            got = [r for r in label_data([w], 8 * n, seed, kinds=(kind,), x_per_z=4)
                   if r.answer is not None]
            out += got[:n]
    return out


def agreement(lik, seeded: dict[int, list], calibrate: bool) -> dict:
    """Share of records where M_L's argmax is the person's label, by kind (the mean over
    seeds, and its sd), by seed, by domain and kind (over all seeds), and, over z's about
    traits (every kind but context rules), by whether z and x word traits alike (the case a
    z* written from D meets on D' is "unlike")."""
    from igtext.data import Example
    hits: dict[tuple[int, str, str], list[bool]] = defaultdict(list)
    worded: dict[tuple[int, bool], list[bool]] = defaultdict(list)
    for seed, records in seeded.items():
        by_z: dict[tuple, list] = defaultdict(list)
        for r in records:
            by_z[(r.labels, r.z)].append(r)
        for (labels, z), rs in by_z.items():
            one = lik.with_labels(labels)
            for r, j in zip(rs, one.judge(z, [Example(str(i), r.x) for i, r in enumerate(rs)])):
                hit = j.predicted(calibrate) == r.answer
                hits[(seed, r.domain, r.kind)].append(hit)
                if r.kind != "context":
                    worded[(seed, r.cross_worded)].append(hit)
    kinds = sorted({k for _, _, k in hits}, key=lambda k: KINDS.index(k))

    def share(keep) -> float:
        got = [h for key, hs in hits.items() if keep(*key) for h in hs]
        return statistics.mean(got) if got else float("nan")
    per_seed = {s: {k: share(lambda ss, d, kk: ss == s and kk == k) for k in kinds}
                for s in seeded}
    return {"by_kind": {k: statistics.mean(per_seed[s][k] for s in seeded) for k in kinds},
            "sd_by_kind": {k: statistics.pstdev([per_seed[s][k] for s in seeded])
                           for k in kinds},
            "by_seed": per_seed,
            "by_domain_kind": {f"{d}/{k}": share(lambda ss, dd, kk: dd == d and kk == k)
                               for _, d, k in hits},
            "by_wording": {name: statistics.mean(statistics.mean(worded[(s, cross)])
                                                 for s in seeded if worded[(s, cross)])
                           for name, cross in WORDED if any(worded[(s, cross)] for s in seeded)},
            "n": sum(len(h) for h in hits.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--adapter", action="append", default=[], metavar="[NAME=]DIR")
    ap.add_argument("--n", type=int, default=20, help="pairs per held-out domain and kind")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1, each its own sample")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--split", default="held_out", choices=("held_out", "validation"))
    ap.add_argument("--out", default=str(RESULTS / "follower.json"))
    ap.add_argument("--keep-bare", action="store_true", help="take the bare model's rows, and "
                    "every row of an arm not scored again here, from --out as they are (the "
                    "same pairs: same --n, --seeds, --split) instead of scoring them again")
    args = ap.parse_args()
    from igtext import components
    from igtext.config import RunConfig
    from igtext.data import Task
    from igtext.rulewise import Calibration
    from igtext.worlds import splits

    worlds = {"held_out": splits.held_out_worlds, "validation": splits.validation_worlds}[
        args.split]()
    seeded = {s: pairs(worlds, args.n, s) for s in range(args.seeds)}
    cfg = RunConfig(model=args.model)
    lm = components.metered(components.load_backend(cfg), components.open_cache())
    templates = components.load_templates(cfg)
    rows = {}
    kept = {}
    if args.keep_bare:
        old = json.loads(Path(args.out).read_text())
        if (old.get("split"), old.get("seeds"), old.get("pairs")) != (
                args.split, args.seeds, sum(len(r) for r in seeded.values())):
            raise SystemExit(f"{args.out} was made on other pairs: score the bare model again")
        kept = {k: {**v, "from": v.get("from", old["command"])}
                for k, v in old["arms"].items()}
    arms = ([] if args.keep_bare else [("bare", None, "whole"), ("bare", None, "rules")]) + [
        (name, path, components.fitted_reading(path))
        for name, path in (tuple(a.split("=", 1)) if "=" in a else (Path(a).name, a)
                           for a in args.adapter)]
    rescored = {name for name, _, _ in arms}
    rows.update({k: v for k, v in kept.items() if k.split(" (")[0] not in rescored})
    for name, adapter, reading in arms:
        arm_cfg = cfg.model_copy(update={"likelihood": cfg.likelihood.model_copy(
            update={"reading": reading})})
        lik = components.likelihood(lm, arm_cfg, Task("-", (), (), ("a", "b")), templates,
                                    adapter=adapter)
        if reading == "rules":
            # read rule by rule, a fitted follower combines its rules' answers with its own
            # calibration (`igtext fit-follower --calibrate`); the bare combination beside it
            # reads the same answers (from the LM cache)
            variants = [("rule by rule", lik)]
            if lik.calibration != Calibration():
                variants = [("rule by rule, uncalibrated", lik.with_calibration(Calibration())),
                            ("rule by rule, calibrated", lik)]
            for label, one in variants:
                t0 = time.time()
                rows[f"{name} ({label})"] = {**agreement(one, seeded, False),
                                             "wall_s": round(time.time() - t0, 1)}
            continue
        for calibrate in (False, True):
            t0 = time.time()
            rows[f"{name} ({'calibrated' if calibrate else 'raw'})"] = {
                **agreement(lik, seeded, calibrate), "wall_s": round(time.time() - t0, 1)}
    report = {"command": " ".join(["eval/follower.py"] + sys.argv[1:]),
              "split": args.split, "domains": [w.domain for w in worlds],
              "seeds": args.seeds, "pairs": sum(len(r) for r in seeded.values()), "arms": rows}
    Path(args.out).write_text(json.dumps(report, indent=2))
    Path(args.out).with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict) -> str:
    kinds = [k for k in KINDS if any(k in r["by_kind"] for r in report["arms"].values())]
    lines = [f"# Does M_L follow z? ({report['split']} domains: {', '.join(report['domains'])})",
             "", f"Command: `{report['command']}`; {report['pairs']} (z, x) pairs where the "
             "simulated person gives one label. Agreement of M_L's label with the person's "
             f"(mean ± sd over {report.get('seeds', 1)} seeds). \"raw\"/\"calibrated\": "
             "the one-prompt M_L without and with contextual calibration; \"rule by rule, "
             "calibrated\": a follower combining its rules' answers with the calibration it "
             "was fitted with on the validation worlds (`igtext fit-follower --calibrate`). "
             "A wall time of seconds means the answers came from the LM cache.",
             *[f"Rows of {', '.join(n for n, r in report['arms'].items() if r.get('from') == c)}"
               f" kept from `{c}`." for c in dict.fromkeys(
                   r["from"] for r in report["arms"].values() if r.get("from"))],
             "The last two columns pool the z's about traits (every kind but context rules) "
             "by whether z words traits as x does or from the other set of wordings (D's "
             "against the held-out ones, as a z* written from D reads D').",
             "", "| arm | " + " | ".join(kinds + [n for n, _ in WORDED]) + " | wall s |",
             "|---|" + "---|" * (len(kinds) + len(WORDED) + 1)]
    for name, r in report["arms"].items():
        lines.append(f"| {name} | " + " | ".join(
            [f"{r['by_kind'][k]:.2f} ± {r['sd_by_kind'][k]:.2f}" if k in r["by_kind"] else "-"
             for k in kinds]
            + [f"{r['by_wording'][n]:.2f}" if n in r.get("by_wording", {}) else "-"
               for n, _ in WORDED]) + f" | {r['wall_s']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
