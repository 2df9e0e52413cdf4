"""`igtext show RUNDIR`: a summary of a run, finished or not, from its files."""
from __future__ import annotations

import json
import os
from pathlib import Path

from igtext.errors import RunDirError
from igtext.run import RunDir
from igtext.runlog import read_events, scored_hypotheses


def summarize(run_dir: str | os.PathLike, top: int = 5) -> dict:
    rd = RunDir(Path(run_dir))
    if not rd.events.exists():
        raise RunDirError("not a run directory (no events.jsonl)", file=str(rd.root))
    events, bad = read_events(rd.events)
    ranked = scored_hypotheses(events)[:top]
    last = events[-1] if events else {}
    result = json.loads(rd.result.read_text()) if rd.result.exists() else None
    return {"finished": result is not None, "result": result, "unreadable_lines": bad,
            "generation": max((e.get("generation", 0) for e in events), default=0),
            "lm_calls": last.get("lm_calls"), "lm_tokens": last.get("lm_tokens"),
            "top": [{"id": e["id"], "objective": e["objective"], "prior": e["prior"],
                     "loglik": e["loglik"], "accuracy": e["accuracy"],
                     "text": e["text"]} for e in ranked]}


def render(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    r = summary["result"]
    status = "finished" if summary["finished"] else f"in progress (generation {summary['generation']})"
    con.print(f"[bold]run[/bold]: {status}; LM calls {summary['lm_calls']}, tokens {summary['lm_tokens']}")
    if summary["unreadable_lines"]:
        con.print(f"[yellow]{summary['unreadable_lines']} unreadable line(s) in events.jsonl skipped")
    if r:
        con.print(f"[bold]z*[/bold] ({r['best']['id']}): {r['best']['text']}", markup=False)
        con.print(f"objective {r['best']['objective']:.2f} = prior {r['best']['prior']:.2f} "
                  f"+ loglik {r['best']['loglik']:.2f}; train accuracy {r['train_accuracy']}, "
                  f"test accuracy {r['test_accuracy']}; {r['wall_s']} s")
    t = Table(title="top hypotheses")
    for col in ("id", "objective", "prior", "loglik", "acc", "text"):
        t.add_column(col)
    for h in summary["top"]:
        acc = "" if h["accuracy"] is None else f"{h['accuracy']:.2f}"
        t.add_row(h["id"], f"{h['objective']:.2f}", f"{h['prior']:.2f}", f"{h['loglik']:.2f}",
                  acc, h["text"][:120])
    con.print(t)
