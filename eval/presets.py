"""How long each search preset takes: `igtext run builtin:husky --preset P` (the demo's task
and default model) with an empty LM cache, one after another, on one thread.

    OMP_NUM_THREADS=1 .venv/bin/python eval/presets.py [--presets quick,default,thorough]

Writes eval/results/presets.{json,md}: per preset the wall time of the whole command
(model loading included), LM calls and tokens, and z*'s accuracy on D and D' beside the
baselines' (the README's table of times comes from here). A preset already in the JSON is
not run again (delete it to remeasure).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "eval" / "results"


def measure(preset: str, task: str, work: Path) -> dict:
    out = work / preset
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "igtext.cli", "run", task, "--preset", preset, "--out",
           str(out), "--cache-dir", str(work / f"cache-{preset}"), "--quiet"]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": os.environ.get(
                           "OMP_NUM_THREADS", "1")})
    wall = time.time() - t0
    if p.returncode != 0:
        raise SystemExit(f"{preset} failed:\n{p.stderr[-2000:]}")
    r = json.loads((out / "result.json").read_text())
    cfg = json.loads((out / "config.json").read_text())
    return {"wall_s": round(wall, 1), "search_wall_s": r["wall_s"], "lm_calls": r["lm_calls"],
            "lm_tokens": r["lm_tokens"], "train_accuracy": r["train_accuracy"],
            "test_accuracy": r["test_accuracy"], "z_star": r["best"]["text"],
            "baselines": {b["name"]: (b["accuracy"].get("test") or {}).get("calibrated")
                          for b in r.get("baselines", [])},
            "settings": {"generations": cfg["search"]["generations"],
                         "population": cfg["search"]["population"],
                         "offspring": cfg["search"]["offspring"],
                         "search_examples": cfg["likelihood"]["search_examples"]},
            "output_tail": p.stdout.strip().splitlines()[-4:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", default="quick,default,thorough")
    ap.add_argument("--task", default="builtin:husky")
    ap.add_argument("--out", default=str(RESULTS / "presets.json"))
    args = ap.parse_args()
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() else {"task": args.task, "runs": {}}
    work = Path(tempfile.mkdtemp(prefix="igtext-presets-"))
    for preset in args.presets.split(","):
        if preset in report["runs"]:
            continue
        report["runs"][preset] = measure(preset, args.task, work)
        report["command"] = " ".join(["eval/presets.py"] + sys.argv[1:])
        report["threads"] = os.environ.get("OMP_NUM_THREADS", "1")
        out.write_text(json.dumps(report, indent=2))
        out.with_suffix(".md").write_text(markdown(report))
        print(markdown(report))


def markdown(report: dict) -> str:
    lines = [f"# Search presets on {report['task']}", "",
             f"Command: `{report.get('command', '')}` (OMP_NUM_THREADS={report.get('threads')}, "
             "an empty LM cache per preset). Wall time of the whole `igtext run`.", "",
             "| preset | generations x population (+offspring) | z scored on | wall | LM calls "
             "| D | D' | best baseline on D' |", "|---|---|---|---|---|---|---|---|"]
    for name, r in report["runs"].items():
        s = r["settings"]
        base = max(((v, k) for k, v in r["baselines"].items() if v is not None), default=None)
        lines.append(f"| {name} | {s['generations']} x {s['population']} (+{s['offspring']}) | "
                     f"{s['search_examples']} inputs | {r['wall_s'] / 60:.1f} min | "
                     f"{r['lm_calls']} | {r['train_accuracy']:.3f} | {r['test_accuracy']:.3f} | "
                     + (f"{base[0]:.3f} ({base[1]})" if base else "-") + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
