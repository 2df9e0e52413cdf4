"""What IG's D' could reach with the describe operator's kind of z*: the simulated person of
each held-out domain writes z* as the describe traces do (per label, from `shown` of D's
inputs of it, naming up to `most` traits at least two of them share) and follows it on D'
(shift "both"). Their expected D' accuracy is the ceiling of a follower that agrees with
them, for z*'s written from that many inputs. No LM is run (seconds).

    .venv/bin/python eval/person_ceiling.py [--seeds 3]

Writes eval/results/person-ceiling.json.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SETTINGS = ((4, 3), (6, 4), (8, 5))          # (inputs shown, most traits named)


def ceiling(shown: int, most: int, seeds: int, n_train: int = 40, n_test: int = 80) -> float:
    from igtext.worlds import splits, writing
    from igtext.worlds.generate import world_task
    from igtext.worlds.person import label_distribution
    from igtext.worlds.reading import Reader
    accs = []
    for w in splits.held_out_worlds():
        reader = Reader(w)
        for seed in range(seeds):
            rng = random.Random(seed)
            task = world_task(w, seed, n_train, n_test, "both")
            lines = []
            for y in w.labels:
                mine = [e.input for e in task.train if e.label == y]
                said = writing.describe_target(reader, y, rng.sample(mine, min(shown, len(mine))),
                                               most=most)
                if said:
                    lines.append(f"{y}: {said}")
            z = "\n".join(lines)
            accs.append(statistics.mean(label_distribution(reader, z, e.input)[e.label]
                                        for e in task.test))
    return statistics.mean(accs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    rows = [{"shown": s, "most_traits": m, "person_D_prime": round(ceiling(s, m, args.seeds), 3)}
            for s, m in SETTINGS]
    report = {"command": " ".join(["eval/person_ceiling.py"] + sys.argv[1:]), "rows": rows}
    (ROOT / "eval" / "results" / "person-ceiling.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
