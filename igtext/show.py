"""Terminal views of a run directory: `show` (with `--follow`), `diff` and `lineage`."""
from __future__ import annotations

import os
import time
from typing import Callable

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from igtext.runview import Draft, LineageNode, RunView, load_run
from igtext.terminal import safe
from igtext.textdiff import changed_words, word_diff


def _f(x, fmt: str = ".2f") -> str:
    return "" if x is None else format(x, fmt)


def _short(text: str, n: int = 100) -> str:
    """One line of untrusted text, made safe (`terminal.safe`), at most `n` characters."""
    text = safe(" ".join(text.split()))
    return text if len(text) <= n else text[: n - 1] + "…"


def _status(view: RunView) -> str:
    """Finished; running (a process holds the run's lock); killed (the lock names a process
    that died holding it); else stopped (interrupted, or failed: `igtext resume` goes on)."""
    if view.finished:
        return "[green]finished[/green]"
    from igtext.runlock import status
    gen = view.generations[-1].generation if view.generations else 0
    state, holder = status(view.root)
    if state == "working":
        return (f"[cyan]running[/cyan] (process {holder['pid'] if holder else '?'}, "
                f"generation {gen})")
    if state == "killed":
        return (f"[red]killed[/red] (process {holder.get('pid', '?')} died in generation "
                f"{gen}; `igtext resume` goes on from the last checkpoint)")
    return f"[yellow]stopped[/yellow] (last generation {gen}; `igtext resume` goes on)"


def _budget(view: RunView) -> Table:
    caps = (view.config or {}).get("budget", {})
    last = view.usage
    t = Table(title="budget used", show_header=True)
    for col in ("", "used", "cap"):
        t.add_column(col)
    t.add_row("LM calls", str(last.lm_calls), str(caps.get("max_calls") or "-"))
    t.add_row("of them from the cache", str(last.lm_calls_cached), "")
    t.add_row("tokens", str(last.lm_tokens), str(caps.get("max_tokens") or "-"))
    if view.result:
        t.add_row("dollars", str(view.result.lm_dollars), str(caps.get("max_dollars") or "-"))
    t.add_row("wall seconds" + ("" if view.finished else " so far"), str(view.elapsed()), "")
    return t


def _generations(view: RunView, compact: bool = False) -> Table:
    """One row per generation; `compact` (a narrow terminal) leaves out the population,
    calls and tokens (the budget table has the totals)."""
    t = Table(title="generations")
    cols = ("gen", "best", "objective", "prior", "loglik") + (
        () if compact else ("pop.", "scored", "calls", "tokens"))
    for col in cols:
        t.add_column(col, justify="right" if col != "best" else "left", no_wrap=True)
    for g in view.generations:
        row = [str(g.generation), safe(g.best or "", markup=True), _f(g.objective),
               _f(g.prior), _f(g.loglik)]
        if not compact:
            row += [str(len(g.population)), str(g.scored_so_far), str(g.lm_calls or ""),
                    str(g.lm_tokens or "")]
        t.add_row(*row)
    return t


def breakdown(d: Draft) -> str:
    parts = " ".join(f"{k} {v:+.2f}" for k, v in d.prior_parts.items())
    return (f"objective {_f(d.objective)} = prior {_f(d.prior)} ({parts}) "
            f"+ log-likelihood {_f(d.loglik)}" + _partial(d))


def _partial(d: Draft) -> str:
    return f" (partial: on {d.n_scored} examples only)" if d.partial else ""


COMPACT_BELOW = 110      # terminal columns under which tables leave out their side columns


def show_view(view: RunView, top: int = 5, width: int | None = None) -> Group:
    """What `igtext show` prints, as one renderable; `width` (the terminal's columns) under
    `COMPACT_BELOW` drops side columns so the hypotheses' text stays readable."""
    compact = width is not None and width < COMPACT_BELOW
    start = view.start
    parts: list = [Text.from_markup(
        f"[bold]{safe(view.root, markup=True)}[/bold]: {_status(view)}; task "
        f"{safe(start.task, markup=True)}, model {safe(start.model, markup=True)}, "
        f"{safe(start.strategy, markup=True)} search, seed {safe(start.seed, markup=True)}")]
    if start.adapters:
        from pathlib import Path
        parts.append(Text(safe("fitted parts: " + ", ".join(
            f"{kind} {Path(path).name} ({start.adapter_hashes.get(kind, '?')})"
            for kind, path in start.adapters.items())
            + (f"; M_L reads z {'rule by rule' if start.reading == 'rules' else 'whole'}"
               if start.reading else ""))))
    if start.scoring:
        parts.append(Text(safe(start.scoring)))
    for w in view.warnings:
        parts.append(Text(f"warning: {safe(w)}", style="yellow"))
    parts.append(_generations(view, compact))
    best = view.best()
    if best:
        head = "z*" if view.finished else "best so far"
        parts.append(Text.assemble((f"{head} ({safe(best.id)}, {safe(best.operator)}): ", "bold"),
                                   safe(best.text)))
        parts.append(Text(breakdown(best)))
    if view.result:
        r = view.result
        parts.append(Text(f"accuracy of z* ({r.accuracy_mode}): D {_f(r.train_accuracy, '.3f')}"
                          f", D' {_f(r.test_accuracy, '.3f')}"))
        for b in r.baselines:
            parts.append(Text("  " + safe(b.line(r.accuracy_mode))))
        if r.verdict():
            parts.append(Text(safe(r.verdict()), style="bold"))
    t = Table(title=f"top {top} hypotheses" + (" (scored under the last refit models)"
                                              if view.refreshes else ""),
              caption="acc: accuracy on the search's scoring subset of D (not all of D)")
    cols = ("id", "objective", "acc") if compact else (
        "id", "gen", "op", "objective", "prior", "loglik", "acc")
    for col in cols:
        t.add_column(col, no_wrap=True)
    t.add_column("text", min_width=20)
    for d in view.ranked(current=True)[:top]:
        row = ([safe(d.id, markup=True), _f(d.objective), _f(d.accuracy)] if compact else
               [safe(d.id, markup=True), str(d.generation), safe(d.operator, markup=True),
                _f(d.objective), _f(d.prior), _f(d.loglik), _f(d.accuracy)])
        t.add_row(*row, Text(_short(d.text, 80)))
    parts.append(t)
    if view.refreshes:
        parts.append(Text(f"step-3 refreshes: {len(view.refreshes)} (generations "
                          f"{', '.join(str(e.generation) for e in view.refreshes)})"))
    parts.append(_budget(view))
    return Group(*parts)


def show(run_dir: str | os.PathLike, top: int = 5, console: Console | None = None) -> RunView:
    view = load_run(run_dir)
    console = console or Console()
    console.print(show_view(view, top, console.width))
    return view


def follow(run_dir: str | os.PathLike, top: int = 5, interval: float = 2.0,
           console: Console | None = None, timeout: float | None = None,
           sleep: Callable[[float], None] = time.sleep) -> RunView:
    """Re-read and redraw the run every `interval` seconds until it finishes (or `timeout`).
    Not on a terminal (piped, logged), the view is printed again each time the run logs a
    new generation, and once at the end."""
    from rich.live import Live

    console = console or Console()
    view = load_run(run_dir)
    t0 = time.monotonic()

    def going() -> bool:
        return not view.finished and (timeout is None or time.monotonic() - t0 < timeout)
    try:
        if not console.is_terminal:
            console.print(show_view(view, top, console.width))
            seen = (len(view.generations), view.finished)
            while going():
                sleep(interval)
                view = load_run(run_dir)
                if (len(view.generations), view.finished) != seen:
                    seen = (len(view.generations), view.finished)
                    console.print(show_view(view, top, console.width))
            return view
        with Live(show_view(view, top, console.width), console=console,
                  auto_refresh=False) as live:
            while going():
                sleep(interval)
                view = load_run(run_dir)
                live.update(show_view(view, top, console.width), refresh=True)
    except KeyboardInterrupt:          # stops following; the run itself is not touched
        console.print("stopped following (the run, if still going, goes on)")
    return view


def diff_view(view: RunView, a: str, b: str) -> Group:
    da, db = view.draft(a), view.draft(b)
    pieces = word_diff(da.text, db.text)
    text = Text()
    for p in pieces:          # git's --word-diff=plain markers, readable without colour too
        if p.op == "delete":
            text.append(f"[-{safe(p.text)}-]", style="red")
        elif p.op == "insert":
            text.append(f"{{+{safe(p.text)}+}}", style="green")
        else:
            text.append(safe(p.text))
    removed, added = changed_words(pieces)
    ida, idb = safe(da.id, markup=True), safe(db.id, markup=True)
    t = Table(title=f"{ida} → {idb}")
    for col in ("", ida, idb, "change"):
        t.add_column(col, justify="right", no_wrap=True)
    comparable = da.complete and db.complete      # minibatch scores are not comparable
    for name in ("objective", "prior", "loglik", "accuracy"):
        x, y = getattr(da, name), getattr(db, name)
        same_basis = comparable or name == "prior"
        t.add_row(name, _f(x), _f(y),
                  "" if x is None or y is None or not same_basis else f"{y - x:+.2f}")
    fixed = sorted(set(da.wrong) - set(db.wrong)) if da.complete and db.complete else []
    broke = sorted(set(db.wrong) - set(da.wrong)) if da.complete and db.complete else []
    out = [Text(f"-{removed} words, +{added} words"), text, t]
    for d in (da, db):
        if d.partial:
            out.append(Text(f"{safe(d.id)} is scored on {d.n_scored} examples only (a minibatch): "
                            f"no change in log-likelihood or objective is shown"))
    if fixed or broke:
        out.append(Text(f"examples fixed: {safe(', '.join(fixed)) or '-'}; newly wrong: "
                        f"{safe(', '.join(broke)) or '-'}"))
    return Group(*out)


def lineage_tree(view: RunView, draft_id: str) -> Tree:
    def label(n: LineageNode) -> Text:
        d = n.draft
        if n.repeated:
            return Text.assemble((safe(d.id), "bold"), " (shown above)")
        return Text.assemble((safe(d.id), "bold"), f"  gen {d.generation}, {safe(d.operator)}",
                             f" (template {safe(d.template_hash[:10])})" if d.template_hash
                             else "",
                             f", objective {_f(d.objective)}{_partial(d)}" if d.scored
                             else ", not scored", "\n", _short(d.text, 160))

    def grow(tree: Tree, n: LineageNode) -> None:
        for p in n.parents:
            grow(tree.add(label(p)), p)
        for m in n.missing_parents:
            tree.add(Text(f"{safe(m)} (not in the log)", style="dim"))
    root = view.lineage(draft_id)
    tree = Tree(label(root))
    grow(tree, root)
    return tree
