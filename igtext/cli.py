"""The `igtext` command line. Bad input: one line on stderr, exit status 2."""
from __future__ import annotations

import argparse
import contextlib
import json
import sys


class _Parser(argparse.ArgumentParser):
    """Argument errors quote what was typed: made safe for the terminal first."""

    def error(self, message: str):
        from igtext.terminal import safe
        super().error(safe(message))


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="igtext", description="Imitative Generalization: search for a "
                "human-readable hypothesis z that explains D, then label D'.")
    from igtext import __version__
    p.add_argument("--version", action="version", version=f"igtext {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="search for z* on a task")
    r.add_argument("task", help="a task file (.jsonl/.yaml), builtin:NAME or world:DOMAIN")
    r.add_argument("--out", required=True, help="run directory (must be new or empty)")
    r.add_argument("--config", help="YAML/JSON run config")
    r.add_argument("--seed", type=int)
    r.add_argument("--search", choices=("evolution", "beam"))
    r.add_argument("--generations", type=int)
    r.add_argument("--preset", choices=("quick", "default", "thorough"),
                   help="how much search: quick (about 5 min on the demo), default (7), "
                        "thorough (12; eval/results/presets.md); the config's and flags' "
                        "settings win")
    r.add_argument("--max-calls", type=int, help="hard cap on LM calls")
    r.add_argument("--max-tokens", type=int, help="hard cap on LM tokens")
    r.add_argument("--model", help="smollm2-135m-person (default: SmolLM2-135M with the "
                   "shipped learned person), smollm2-135m (the bare model), gemma3-270m, "
                   "hf:PATH or openai:NAME")
    r.add_argument("--base-url", help="OpenAI-compatible server for openai:NAME models")
    r.add_argument("--proposal-prompt", action="append", default=[], metavar="[OP=]FILE",
                   help="custom proposal template; OP is initial|refine|crossover|simplify "
                        "(default refine); may be repeated")
    r.add_argument("--cache-dir", help="LM call cache (default $IGTEXT_CACHE_DIR or ~/.cache/igtext)")
    r.add_argument("--prior-adapter", help="a fitted prior (igtext fit-prior)")
    r.add_argument("--likelihood-adapter", help="a fitted M_L (igtext fit-likelihood)")
    r.add_argument("--proposer-adapter", help="a LoRA proposal model (igtext train-proposer)")
    r.add_argument("--refresh-every", type=int, metavar="K",
                   help="step 3: every K generations ask about the current z's and refit")
    r.add_argument("--judge", choices=("simulated", "proxy", "terminal", "web"),
                   help="who answers in step 3 (default simulated)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")

    j = sub.add_parser("judge", help="collect judgments on a run's hypotheses")
    j.add_argument("rundir")
    j.add_argument("--kind", choices=("compare", "label"), default="compare")
    j.add_argument("--n", type=int, default=10, help="how many items")
    j.add_argument("--web", action="store_true", help="serve a page on 127.0.0.1 instead")
    j.add_argument("--port", type=int, default=0)
    j.add_argument("--annotator", default="person", help="your annotator id")
    j.add_argument("--store", help="judgment store (default RUNDIR/judgments.sqlite)")
    j.add_argument("--seed", type=int, default=0)

    js = sub.add_parser("judgments", help="import or export judgments (JSONL)")
    js.add_argument("action", choices=("import", "export"))
    js.add_argument("file")
    js.add_argument("--store", required=True)
    js.add_argument("--run", help="resolve hypothesis ids against this run")

    def fit_flags(f, epochs: str, out_required: bool = True) -> None:
        """What every LoRA fit command takes: where, a recipe file, and flags over it."""
        f.add_argument("--out", required=out_required, help="adapter directory")
        f.add_argument("--config", help="YAML/JSON LoRA recipe (the keys of one `lora:` entry "
                                        "of a run config); flags override it")
        f.add_argument("--model", default="smollm2-135m")
        f.add_argument("--epochs", type=int, help=f"default: the recipe's ({epochs})")
        f.add_argument("--lr", type=float)
        f.add_argument("--rank", type=int)
        f.add_argument("--max-length", type=int, help="tokens per training text (longer ones "
                       "are cut)")
        f.add_argument("--quiet", action="store_true")

    fp = sub.add_parser("fit-prior", help="fit a Bradley-Terry prior on comparisons (LoRA)")
    fl = sub.add_parser("fit-likelihood", help="fit M_L on label judgments (LoRA)")
    for f in (fp, fl):
        f.add_argument("--store", required=True, help="judgment store (SQLite)")
        fit_flags(f, "prior 2, M_L 1")
        f.add_argument("--heldout", type=float, default=0.2, help="share held out for the report")
        f.add_argument("--seed", type=int, help="default: the recipe's (0)")
    fl.add_argument("--task", required=True, help="the task (for its label set)")

    ff = sub.add_parser("fit-follower", help="fit the follower: one M_L for every task, "
                        "learned from the simulated people of the training worlds (LoRA)")
    fit_flags(ff, "prior 2, M_L 1", out_required=False)
    ff.add_argument("--calibrate", metavar="ADAPTER", help="only choose how a fitted "
                    "follower's rule answers combine, on the validation worlds' people "
                    "(--n judgments, default 300; a fit does it at its end)")
    ff.add_argument("--prior", action="store_true", help="fit the world prior instead: one "
                    "Bradley-Terry M_prior from the same people's comparisons")
    ff.add_argument("--n", type=int, help="judgments (default 6000) or comparisons "
                    "(with --prior, default 2000) to learn from")
    ff.add_argument("--reading", choices=("rules", "whole"), default="rules",
                    help="the follower reads z rule by rule (default) or whole")
    ff.add_argument("--seed", type=int, default=0)
    ff.add_argument("--init", metavar="ADAPTER", help="continue training this fitted "
                    "follower (or prior, with --prior) on --n fresh judgments of --seed "
                    "instead of starting a new adapter")
    ff.add_argument("--cross-share", type=float, default=0.0, metavar="SHARE",
                    help="share of the follower's z's whose inputs are all worded unlike z "
                    "(as a z* written from D reads D'); the rest draw from every input")
    ff.add_argument("--no-calibration", action="store_true", help="skip the calibration a "
                    "follower's fit ends with (for a fit that `--init` continues)")
    ff.add_argument("--votes", type=int, default=1, help="with --prior: people judging each "
                    "comparison (more than one: the share preferring each side is learned)")

    tr = sub.add_parser("traces", help="build hypothesis-writing traces (JSONL)")
    tr.add_argument("source", choices=("instruction-induction", "worlds"),
                    help="Instruction Induction's human instructions, or the describe "
                    "operator's traces of the training worlds' simulated people")
    tr.add_argument("--out", required=True, help="the JSONL file to write")
    tr.add_argument("--data-dir", help="an Instruction Induction copy (default $IGTEXT_II_DIR "
                                       "or shared/data/instruction_induction)")
    tr.add_argument("--tasks", help="comma-separated task names (default all)")
    tr.add_argument("--demos", type=int, default=5, help="demonstrations shown per trace")
    tr.add_argument("--per-instruction", type=int, default=3,
                    help="traces per human instruction, each with other demonstrations")
    tr.add_argument("--n", type=int, default=2000, help="worlds: how many traces")
    tr.add_argument("--seed", type=int, default=0)

    tp = sub.add_parser("train-proposer", help="LoRA fine-tune the proposal model on traces")
    tp.add_argument("--data", required=True, help="traces (JSONL, see igtext.traces)")
    fit_flags(tp, "3")
    tp.add_argument("--heldout-tasks", help="comma-separated tasks held out for the report "
                                            "(default: every 5th task)")
    tp.add_argument("--resume", action="store_true", help="continue from the last epoch saved")

    s = sub.add_parser("resume", help="continue a killed or unfinished run")
    s.add_argument("rundir")
    s.add_argument("--cache-dir")
    s.add_argument("--base-url", help="the server again, for openai:NAME runs (never saved)")
    s.add_argument("--timeout-s", type=float, help="API settings that do not change the "
                   "search may differ from the run's (recorded in its log)")
    s.add_argument("--concurrency", type=int)
    s.add_argument("--max-attempts", type=int)
    s.add_argument("--quiet", action="store_true")

    it = sub.add_parser("init", help="write a task-file skeleton to fill in")
    it.add_argument("path", nargs="?", default="task.yaml")

    lb = sub.add_parser("label", help="label a split, or any file of inputs, with z*")
    lb.add_argument("rundir")
    lb.add_argument("--split", default="test", choices=("train", "test"))
    lb.add_argument("--input", metavar="FILE", help="label this file instead of a split: "
                    "CSV/TSV with a header, JSONL objects with \"input\", or text, one input "
                    "a line (an id and a gold label are used where given)")
    lb.add_argument("--input-column", help="CSV/TSV/JSONL: the input's column (default input)")
    lb.add_argument("--label-column", help="CSV/TSV: a gold label's column (default label)")
    lb.add_argument("--id-column", help="CSV/TSV: the id's column (default id, else the line)")
    lb.add_argument("--out", required=True)
    lb.add_argument("--cache-dir")
    lb.add_argument("--base-url", help="the server again, for openai:NAME runs (never saved)")
    lb.add_argument("--mixture", type=int, metavar="K", default=0,
                    help="label by the posterior over the top K z's instead of z* alone")
    lb.add_argument("--abstain-below", type=float, default=0.0, metavar="A",
                    help="with --mixture: abstain where the z's agreeing carry less weight")
    lb.add_argument("--min-weight", type=float, default=0.0, metavar="W",
                    help="with --mixture: leave out z's with less posterior weight (fewer calls)")

    ds = sub.add_parser("distil", help="step 4: distil M_L_test from z*'s labels of D'")
    ds.add_argument("rundir")
    ds.add_argument("--out", required=True, help="directory for M_L_test")
    ds.add_argument("--heldout", type=float, default=0.3,
                    help="share of D' held out for the report")
    ds.add_argument("--seed", type=int, default=0)
    from igtext.distil import STUDENTS
    ds.add_argument("--student", choices=STUDENTS, default="logreg",
                    help="logistic regression on frozen LM features (seconds to fit), a LoRA "
                         "classifier on the LM (minutes on CPU), or logistic regression on "
                         "TF-IDF features (no LM when labelling: the fastest)")
    ds.add_argument("--epochs", type=int, help="with --student lora (default: the run's "
                                               "lora.classifier recipe's, 3)")
    ds.add_argument("--cache-dir")
    ds.add_argument("--base-url", help="the server again, for openai:NAME runs (never saved)")

    sh = sub.add_parser("show", help="summarise a run (generations, best z, budget)")
    sh.add_argument("rundir")
    sh.add_argument("--top", type=int, default=5)
    sh.add_argument("--follow", action="store_true", help="redraw until the run finishes")
    sh.add_argument("--interval", type=float, default=2.0, help="seconds between redraws")
    df = sub.add_parser("diff", help="word-level diff of two drafts, with the score change")
    df.add_argument("rundir")
    df.add_argument("id_a")
    df.add_argument("id_b")
    ln = sub.add_parser("lineage", help="the ancestry of a draft")
    ln.add_argument("rundir")
    ln.add_argument("id")
    rp = sub.add_parser("report", help="a self-contained HTML report of a run")
    rp.add_argument("rundir")
    rp.add_argument("-o", "--out", required=True, help="the HTML file to write")
    rp.add_argument("--top", type=int, default=8, help="drafts in the per-example heatmap")
    return p


def _proposal_templates(values: list[str]) -> dict[str, str]:
    from igtext.errors import InputError
    from igtext.prompts import OPERATORS

    out = {}
    for v in values:
        op, sep, path = v.partition("=")
        if not sep:
            op, path = "refine", v
        if op not in OPERATORS:
            raise InputError(f"unknown operator {op!r} in --proposal-prompt (known: "
                             f"{', '.join(OPERATORS)})", field="proposal-prompt")
        out[op] = path
    return out


def _print_result(res) -> None:
    from igtext.terminal import safe
    r = res.record
    print(f"\nz* ({r.best.id}):\n{safe(r.best.text)}\n")
    print(f"objective {r.best.objective:.2f} = prior {r.best.prior:.2f} "
          f"+ log-likelihood {r.best.loglik:.2f}")
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    for split in ("train", "test"):
        acc = r.accuracy.get(split)
        name = "D " if split == "train" else "D'"
        print(f"accuracy on {name} ({split}): calibrated "
              f"{fmt(acc and acc.calibrated)}, raw {fmt(acc and acc.raw)}")
    for b in r.baselines:
        print("  " + safe(b.line(r.accuracy_mode)))
    if r.verdict():
        print(r.verdict())
    dollars = f", ${r.lm_dollars:.4f}" if r.lm_dollars else ""
    print(f"LM calls {r.lm_calls} ({r.lm_calls_cached} cached), tokens {r.lm_tokens}"
          f"{dollars}, "
          f"wall {r.wall_s:.1f} s" + (f"; budget stopped the search: {r.budget_exhausted}"
                                     if r.budget_exhausted else ""))


def _cmd_run(a) -> None:
    from igtext import effort
    from igtext.components import absolute, check_scoring, load_backend, preflight
    from igtext.config import load_config
    from igtext.presets import resolve
    from igtext.run import execute
    from igtext.rundir import prepare_run_dir
    from igtext.tasks import load_task

    cfg = load_config(a.config)
    prompts = _proposal_templates(a.proposal_prompt)
    cfg = cfg.with_overrides("command line", **{
        "seed": a.seed, "search.strategy": a.search, "search.generations": a.generations,
        "budget.max_calls": a.max_calls, "budget.max_tokens": a.max_tokens, "model": a.model,
        "api.base_url": a.base_url, "prior.adapter": absolute(a.prior_adapter),
        "likelihood.adapter": absolute(a.likelihood_adapter), "refresh.every": a.refresh_every,
        "refresh.judge": a.judge, "proposer.adapter": absolute(a.proposer_adapter),
        "proposer.templates": {**cfg.proposer.templates, **prompts} if prompts else None})
    task = load_task(a.task)
    cfg = resolve(effort.apply(cfg, a.preset), task)
    preflight(task, cfg, a.out, cache_dir=a.cache_dir)      # before the model loads
    lm = load_backend(cfg)
    check_scoring(task, cfg, lm)
    with _session(_person(cfg, task)) as annotator:
        rd = prepare_run_dir(a.out, task, cfg)
        _print_result(execute(rd, task, cfg, lm, a.cache_dir, progress=not a.quiet,
                              annotator=annotator))


def _ask(prompt: str) -> str:
    """Questions go to stderr, so stdout carries only results."""
    print(prompt, end="", file=sys.stderr, flush=True)
    try:
        return input()
    except EOFError:          # input ran out: stop asking, keep what was answered
        return "q"


def _show(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _person(cfg, task):
    """A person answering step-3 questions at this terminal or in a browser, if asked for."""
    if not cfg.refresh.every or cfg.refresh.judge not in ("terminal", "web"):
        return None
    from igtext.judgments.annotators import TerminalAnnotator, task_context
    if cfg.refresh.judge == "terminal":
        return TerminalAnnotator(_ask, _show, task.labels)
    from igtext.judgments.web import WebAnnotator, WebCollector
    collector = WebCollector(cfg.refresh.web_port, context=task_context(task))
    print(f"step-3 judgments: open {collector.url}", file=sys.stderr)
    return WebAnnotator(collector, task.labels)


@contextlib.contextmanager
def _session(annotator):
    """Around a session with `annotator`: a web page's refused requests said at its end
    (Ctrl-C included)."""
    try:
        yield annotator
    finally:
        collector = getattr(annotator, "collector", None)
        if collector is not None:
            print(f"{collector.refused} request(s) refused", file=sys.stderr)


def _reopen(rundir: str, base_url: str | None, **api):
    """A run directory's task and config (with the server named again, and `api` settings
    that do not change the search), and its model."""
    from igtext.components import check_adapters, load_backend
    from igtext.rundir import read_run_dir
    from igtext.runlock import check_free
    rd, task, cfg = read_run_dir(rundir)
    check_free(rd.root)
    cfg = cfg.with_overrides("command line", **{"api.base_url": base_url,
                                **{f"api.{k}": v for k, v in api.items()}})
    check_adapters(cfg)
    return rd, task, cfg, load_backend(cfg)


def _cmd_resume(a) -> None:
    from igtext.run import execute
    changed = {k: v for k, v in (("timeout_s", a.timeout_s), ("concurrency", a.concurrency),
                                 ("max_attempts", a.max_attempts)) if v is not None}
    rd, task, cfg, lm = _reopen(a.rundir, a.base_url, **changed)
    with _session(_person(cfg, task)) as annotator:
        _print_result(execute(rd, task, cfg, lm, a.cache_dir, progress=not a.quiet,
                              annotator=annotator,
                              changed={f"api.{k}": v for k, v in changed.items()}))


def _cmd_init(a) -> None:
    from importlib.resources import files
    from pathlib import Path

    from igtext.errors import InputError
    out = Path(a.path)
    if out.exists():
        raise InputError("exists already; igtext init writes only a new file", file=str(out))
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise InputError("the skeleton is YAML: name the file .yaml", file=str(out))
    out.write_text(files("igtext").joinpath("skeletons/task.yaml").read_text())
    print(f"wrote {out}; fill it in, then: igtext run {out} --out runs/{out.stem}")


def _cmd_label(a) -> None:
    from igtext.errors import InputError
    from igtext.label import label_mixture, label_split
    if a.mixture < 0 or not 0 <= a.abstain_below <= 1 or not 0 <= a.min_weight < 1:
        raise InputError("--mixture must be >= 0, --abstain-below in [0, 1] and --min-weight "
                         "in [0, 1)", field="mixture")
    from igtext.runlock import locked
    split = a.split
    if a.input:
        from igtext.tasks.table import read_inputs
        split = read_inputs(a.input, {"input": a.input_column, "label": a.label_column,
                                      "id": a.id_column})
    lm = _reopen(a.rundir, a.base_url)[3]
    with locked(a.rundir, "igtext label"):
        if a.mixture:
            print(json.dumps(label_mixture(a.rundir, split, a.out, a.mixture,
                                           a.abstain_below, model=lm, cache_dir=a.cache_dir,
                                           min_weight=a.min_weight)))
        else:
            print(json.dumps(label_split(a.rundir, split, a.out, model=lm,
                                         cache_dir=a.cache_dir)))


def _cmd_distil(a) -> None:
    from igtext.distil import distil
    from igtext.errors import InputError
    if a.epochs is not None and a.epochs < 1:
        raise InputError("must be at least 1", field="epochs")
    _, _, cfg, lm = _reopen(a.rundir, a.base_url)
    from dataclasses import replace
    lora = replace(cfg.lora.classifier.settings(), epochs=a.epochs or cfg.lora.classifier.epochs,
                   seed=a.seed)
    print(json.dumps(distil(a.rundir, a.out, a.heldout, a.seed, model=lm,
                            cache_dir=a.cache_dir, student=a.student, lora_settings=lora,
                            progress=sys.stderr.isatty())))


def _cmd_show(a) -> None:
    from igtext.show import follow, show
    if a.follow:
        follow(a.rundir, a.top, a.interval)
    else:
        show(a.rundir, a.top)


def _cmd_diff(a) -> None:
    from rich.console import Console

    from igtext.runview import load_run
    from igtext.show import diff_view
    Console().print(diff_view(load_run(a.rundir), a.id_a, a.id_b))


def _cmd_lineage(a) -> None:
    from rich.console import Console

    from igtext.runview import load_run
    from igtext.show import lineage_tree
    Console().print(lineage_tree(load_run(a.rundir), a.id))


def _cmd_report(a) -> None:
    from igtext.report import write_report
    from igtext.terminal import safe
    info = write_report(a.rundir, a.out, top=a.top)
    for w in info["warnings"]:
        print(f"igtext: warning: {safe(w)}", file=sys.stderr)
    print(json.dumps(info))


def _cmd_judge(a) -> None:
    from igtext.rundir import read_run_dir
    from igtext.runlock import locked
    from igtext.runview import load_run

    rd, task, _ = read_run_dir(a.rundir)
    with locked(rd.root, "igtext judge"):
        _judge(a, rd, task, load_run(a.rundir))


def _judge(a, rd, task, run) -> None:
    """`igtext judge` on a run directory whose lock this process holds: each answer is
    stored as it is given, and questions this annotator answered before are not asked
    again (a later `judge` with the same seed asks the rest)."""
    from igtext.judgments.annotators import (TerminalAnnotator, ask, judgment, questions,
                                             task_context)
    from igtext.judgments.store import JudgmentStore
    hyps = [d.text for d in run.hypotheses()]
    items = questions(hyps, [e.input for e in task.train + task.test], a.kind, a.n, a.seed,
                      a.rundir)
    store = JudgmentStore(a.store or rd.judgments)
    answered = ({(c.z_a, c.z_b) for c in store.comparisons() if c.annotator == a.annotator}
                if a.kind == "compare" else
                {(j.z, j.x) for j in store.labels() if j.annotator == a.annotator})
    items = [it for it in items if tuple(it) not in answered]
    kept: dict[tuple, object] = {}

    def keep(kind: str, item: tuple, answer) -> None:
        j = judgment(ann, kind, item, answer)
        if j is not None:
            store.add([j])
            kept[(kind, tuple(item))] = j

    def take_back(kind: str, item: tuple) -> None:
        j = kept.pop((kind, tuple(item)), None)
        if j is not None:
            store.remove(j)
    if a.web:
        from igtext.judgments.web import WebAnnotator, WebCollector
        collector = WebCollector(a.port, context=task_context(task))
        print(f"open {collector.url} (Ctrl-C to stop; every answer is stored as it is given)",
              file=sys.stderr)
        ann = WebAnnotator(collector, task.labels, a.annotator, on_answer=keep,
                           on_undo=take_back)
    else:
        ann = TerminalAnnotator(_ask, _show, task.labels, a.annotator, on_answer=keep)
    with _session(ann):
        ask(ann, items if a.kind == "compare" else [], items if a.kind == "label" else [])
    print(json.dumps({"recorded": len(kept), "store": str(store.path), **store.counts()}))


def _cmd_judgments(a) -> None:
    from igtext.judgments.store import JudgmentStore
    store = JudgmentStore(a.store)
    if a.action == "export":
        n = store.export_jsonl(a.file)
    else:
        from igtext.runview import load_run
        known = {d.id: d.text for d in load_run(a.run).hypotheses()} if a.run else None
        n = store.import_jsonl(a.file, known)
    print(json.dumps({a.action + "ed": n, **store.counts()}))


def _cmd_traces(a) -> None:
    from igtext.errors import InputError
    from igtext.traces import traces_from_instruction_induction, write_traces
    for name in ("demos", "per_instruction", "n"):
        if getattr(a, name) < 1:
            raise InputError("must be at least 1", field=name.replace("_", "-"))
    if a.source == "worlds":
        from igtext.worlds import splits
        from igtext.worlds.writing import describe_traces
        traces = describe_traces(splits.train_worlds(), a.n, a.seed)
    else:
        tasks = [t.strip() for t in a.tasks.split(",")] if a.tasks else None
        traces = traces_from_instruction_induction(a.data_dir, tasks, a.demos,
                                                   a.per_instruction, a.seed)
    write_traces(traces, a.out)
    print(json.dumps({"traces": len(traces), "tasks": len({t.task for t in traces}),
                      "out": a.out}))


def _cmd_train_proposer(a) -> None:
    from igtext.config import load_recipe
    from igtext.training.fit import proposer_from_traces
    recipe = load_recipe("proposer", a.config, rank=a.rank, lr=a.lr, epochs=a.epochs,
                         max_length=a.max_length)
    held = [t.strip() for t in a.heldout_tasks.split(",")] if a.heldout_tasks else None
    print(json.dumps(proposer_from_traces(a.data, a.out, a.model, recipe.settings(), held,
                                          resume=a.resume, progress=not a.quiet)))


def _cmd_fit_prior(a) -> None:
    from igtext.config import load_recipe
    from igtext.training.fit import prior_from_store
    recipe = load_recipe("prior", a.config, epochs=a.epochs, lr=a.lr, rank=a.rank, seed=a.seed,
                         max_length=a.max_length)
    print(json.dumps(prior_from_store(a.store, a.out, a.model, recipe.settings(), a.heldout,
                                      progress=not a.quiet)))


def _cmd_fit_likelihood(a) -> None:
    from igtext.config import load_recipe
    from igtext.training.fit import likelihood_from_store
    recipe = load_recipe("likelihood", a.config, epochs=a.epochs, lr=a.lr, rank=a.rank,
                         seed=a.seed, max_length=a.max_length)
    print(json.dumps(likelihood_from_store(a.store, a.task, a.out, a.model, recipe.settings(),
                                           a.heldout, progress=not a.quiet)))


def _cmd_fit_follower(a) -> None:
    from igtext.config import load_recipe
    from igtext.errors import InputError
    from igtext.lm.registry import base_model_dir
    from igtext.training.follower import calibrate_follower, fit_follower, fit_world_prior
    if a.calibrate:
        from igtext import components
        from igtext.training.adapters import check_adapter
        check_adapter(a.calibrate, "likelihood", a.model, "--calibrate")
        print(json.dumps(calibrate_follower(a.calibrate, a.model, n=a.n or 300, seed=a.seed,
                                            cache=components.open_cache(),
                                            progress=not a.quiet)))
        return
    if not a.out:
        raise InputError("required (the adapter directory to write)", field="--out")
    n = a.n or (2000 if a.prior else 6000)
    if n < 4:
        raise InputError("must be at least 4", field="n")
    if a.votes < 1:
        raise InputError(f"must be at least 1, not {a.votes}", field="--votes")
    if not 0.0 <= a.cross_share <= 1.0:
        raise InputError(f"must be between 0 and 1, not {a.cross_share}", field="--cross-share")
    recipe = load_recipe("prior" if a.prior else "follower", a.config, epochs=a.epochs,
                         lr=a.lr, rank=a.rank, seed=a.seed, max_length=a.max_length)
    if a.init:
        from igtext.training.adapters import check_adapter
        check_adapter(a.init, "prior" if a.prior else "likelihood", a.model, "--init")
    args = (a.out, recipe.settings(), base_model_dir(a.model), a.model, n, a.seed)
    report = (fit_world_prior(*args, progress=not a.quiet, init=a.init, votes=a.votes)
              if a.prior
              else fit_follower(*args, progress=not a.quiet, reading=a.reading, init=a.init,
                                cross_share=a.cross_share,
                                calibrate_n=0 if a.no_calibration else 300))
    print(json.dumps(report))


def main(argv: list[str] | None = None) -> int:
    import os

    from igtext.errors import IgtextError, InputError
    from igtext.terminal import safe
    # transformers' and huggingface_hub's own bars ("Loading weights") on every command
    # say nothing a user needs; igtext's progress bars are rich's and unaffected
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

    parser = _parser()
    if not (sys.argv[1:] if argv is None else argv):        # bare `igtext`: what it can do
        parser.print_help()
        return 0
    a = parser.parse_args(argv)
    try:
        {"run": _cmd_run, "resume": _cmd_resume, "label": _cmd_label, "init": _cmd_init,
         "show": _cmd_show,
         "judge": _cmd_judge, "judgments": _cmd_judgments, "fit-prior": _cmd_fit_prior,
         "fit-likelihood": _cmd_fit_likelihood, "fit-follower": _cmd_fit_follower,
         "diff": _cmd_diff, "traces": _cmd_traces,
         "train-proposer": _cmd_train_proposer, "distil": _cmd_distil, "lineage": _cmd_lineage,
         "report": _cmd_report}[a.cmd](a)
    except InputError as e:
        print(f"igtext: error: {safe(e)}", file=sys.stderr)
        return 2
    except IgtextError as e:
        print(f"igtext: error: {safe(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("igtext: interrupted; " + (
            "every answer given is stored; `igtext judge` again asks the rest"
            if a.cmd == "judge" else "`igtext resume` continues from the last checkpoint"
            if a.cmd in ("run", "resume") else "nothing more was done"), file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
