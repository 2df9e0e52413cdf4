"""`igtext report RUNDIR -o report.html`: one self-contained HTML file about a run.

Everything is in the file (figures as data URIs, CSS inline, no script); every text that
comes from data, hypotheses or models goes through jinja2's autoescaping, and a strict
Content-Security-Policy forbids scripts on top of that. A run that was killed or is still
going is reported from its readable part, and the report says so.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from igtext import plots
from igtext.runview import Draft, RunView, load_run
from igtext.textdiff import changed_words, word_diff

TEMPLATE_DIR = Path(__file__).resolve().parent
MAX_EXAMPLES = 80           # heatmap columns


def _colour(value: float, low: float) -> str:
    """Green at log-likelihood 0, red at `low` (the worst in the heatmap)."""
    t = 0.0 if low >= 0 else max(0.0, min(1.0, value / low))
    return f"hsl({round(120 * (1 - t))}, 70%, {round(80 - 25 * t)}%)"


def _heatmap(view: RunView, drafts: list[Draft]) -> dict:
    known = view.examples()
    scored = {k for d in drafts for k in d.example_loglik}
    order = [k for k in known if k in scored] + sorted(scored - set(known))
    ids = order[:MAX_EXAMPLES]
    if not ids:
        return {"examples": [], "rows": []}
    low = min(v for d in drafts for k, v in d.example_loglik.items() if k in ids)
    rows = []
    for d in drafts:
        wrong = set(d.wrong)
        cells = [None if k not in d.example_loglik else
                 {"value": d.example_loglik[k], "colour": _colour(d.example_loglik[k], low),
                  "wrong": k in wrong} for k in ids]
        rows.append({"draft": d, "cells": cells, "n_wrong": len(wrong & set(ids))})
    examples = [{"id": k, "input": known.get(k, {}).get("input", ""),
                 "label": known.get(k, {}).get("label", "")} for k in ids]
    return {"examples": examples, "rows": rows}


def _diffs(path: list[Draft]) -> list[dict]:
    out = []
    for a, b in zip(path, path[1:]):
        pieces = word_diff(a.text, b.text)
        removed, added = changed_words(pieces)
        full = a.complete and b.complete          # minibatch scores are not comparable
        out.append({"a": a, "b": b, "pieces": pieces, "removed": removed, "added": added,
                    "d_prior": _delta(a.prior, b.prior),
                    "d_loglik": _delta(a.loglik, b.loglik) if full else None,
                    "d_objective": _delta(a.objective, b.objective) if full else None})
    return out


def _test_section(view: RunView) -> dict | None:
    """D' example by example: each input with its gold label, z*'s label and each baseline's;
    z*'s confusion matrix (gold rows, predicted columns); the inputs z* gets wrong. None
    when the run recorded no labels for D' (unfinished, open-ended, or an older run)."""
    r = view.result
    if r is None or not r.test_predictions or not view.task:
        return None
    tests = list(view.task.get("test", []))
    if len(tests) != len(r.test_predictions):
        return None
    cols = [b for b in r.baselines if len(b.predictions) == len(tests)]
    rows = [{"id": e["id"], "input": e["input"], "gold": e.get("label"),
             "z": r.test_predictions[i], "others": [b.predictions[i] for b in cols]}
            for i, e in enumerate(tests)]
    labels = list((view.task or {}).get("labels") or [])
    golds = [row for row in rows if row["gold"] is not None]
    matrix = [[sum(1 for row in golds if row["gold"] == g and row["z"] == p) for p in labels]
              for g in labels]
    return {"rows": rows, "baselines": [b.name for b in cols], "labels": labels,
            "matrix": matrix, "wrong": [row for row in golds if row["z"] != row["gold"]],
            "labelled": len(golds), "verdict": r.verdict()}


def _templates(view: RunView) -> list[dict]:
    """Each prompt template the run used: its kind, file (a custom one from the config, else
    the shipped file's name) and hash."""
    from igtext.prompts import KINDS
    config = view.config or {}
    custom = {**((config.get("proposer") or {}).get("templates") or {}),
              **(config.get("templates") or {})}
    return [{"kind": kind, "hash": digest,
             "file": custom.get(kind) or (f"igtext/templates/{KINDS[kind][0]}"
                                          if kind in KINDS else "?")}
            for kind, digest in sorted((view.start.templates or {}).items())]


def _delta(x, y):
    return None if x is None or y is None else y - x


def context(view: RunView, top: int = 8) -> dict:
    """Everything the template shows, computed from the run directory."""
    best = view.best()
    ranked = view.ranked(current=True)     # objectives of one model (after any step-3 refit)
    heat = ranked[:top]
    if best and best not in heat:
        heat = [best] + heat[: top - 1]
    last = view.usage
    return {
        "view": view, "start": view.start, "result": view.result, "best": best,
        "warnings": list(view.warnings), "generations": view.generations,
        "ranked": ranked[:top], "n_drafts": len(view.drafts), "n_scored": len(view.ranked()),
        "trajectory": plots.trajectory(view.generations),
        "population": plots.population(list(view.drafts.values()), best.id if best else None),
        "lineage": view.lineage(best.id) if best else None,
        "diffs": _diffs(view.best_path()), "heatmap": _heatmap(view, heat),
        "usage": {"calls": last.lm_calls, "cached": last.lm_calls_cached,
                  "tokens": last.lm_tokens,
                  "dollars": view.result.lm_dollars if view.result else None,
                  "wall_s": view.elapsed()},
        "budget": (view.config or {}).get("budget", {}),
        "refreshes": view.refreshes, "made": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "test": _test_section(view), "dropped": view.dropped,
        "templates": _templates(view),
    }


def render(view: RunView, top: int = 8) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html", "j2"], default=True))
    env.filters["num"] = lambda x, fmt=".2f": "–" if x is None else format(x, fmt)
    env.filters["signed"] = lambda x: "–" if x is None else f"{x:+.2f}"
    return env.get_template("report.html.j2").render(**context(view, top))


def write_report(run_dir: str | os.PathLike, out: str | os.PathLike, top: int = 8) -> dict:
    """Write the report; returns where, how big, and the warnings it carries."""
    view = load_run(run_dir)
    html = render(view, top)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return {"report": str(out), "bytes": len(html.encode("utf-8")), "finished": view.finished,
            "drafts": len(view.drafts), "warnings": list(view.warnings)}
