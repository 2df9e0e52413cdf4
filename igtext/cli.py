"""The `igtext` command line. Bad input: one line on stderr, exit status 2."""
from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="igtext", description="Imitative Generalization: search "
                                "for a human-readable hypothesis z that explains D, then label D'.")
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="search for z* on a task")
    r.add_argument("task", help="a task file (.jsonl/.yaml) or builtin:NAME")
    r.add_argument("--out", required=True, help="run directory (must be new or empty)")
    r.add_argument("--config", help="YAML/JSON run config")
    r.add_argument("--seed", type=int)
    r.add_argument("--search", choices=("evolution", "beam"))
    r.add_argument("--generations", type=int)
    r.add_argument("--max-calls", type=int, help="hard cap on LM calls")
    r.add_argument("--max-tokens", type=int, help="hard cap on LM tokens")
    r.add_argument("--model", help="smollm2-135m (default), gemma3-270m, hf:PATH or openai:NAME")
    r.add_argument("--base-url", help="OpenAI-compatible server for openai:NAME models")
    r.add_argument("--proposal-prompt", action="append", default=[], metavar="[OP=]FILE",
                   help="custom proposal template; OP is initial|refine|crossover|simplify "
                        "(default refine); may be repeated")
    r.add_argument("--cache-dir", help="LM call cache (default $IGTEXT_CACHE_DIR or ~/.cache/igtext)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("resume", help="continue a killed or unfinished run")
    s.add_argument("rundir")
    s.add_argument("--cache-dir")
    s.add_argument("--base-url", help="the server again, for openai:NAME runs (never saved)")
    s.add_argument("--quiet", action="store_true")

    lb = sub.add_parser("label", help="label a split with z*")
    lb.add_argument("rundir")
    lb.add_argument("--split", default="test", choices=("train", "test"))
    lb.add_argument("--out", required=True)
    lb.add_argument("--cache-dir")
    lb.add_argument("--base-url", help="the server again, for openai:NAME runs (never saved)")

    sh = sub.add_parser("show", help="summarise a run")
    sh.add_argument("rundir")
    sh.add_argument("--top", type=int, default=5)
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
    r = res.extra
    print(f"\nz* ({r['best']['id']}):\n{r['best']['text']}\n")
    print(f"objective {r['best']['objective']:.2f} = prior {r['best']['prior']:.2f} "
          f"+ log-likelihood {r['best']['loglik']:.2f}")
    for split in ("train", "test"):
        a = r["accuracy"].get(split) or {}
        fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
        name = "D " if split == "train" else "D'"
        print(f"accuracy on {name} ({split}): "
              f"calibrated {fmt(a.get('calibrated'))}, raw {fmt(a.get('raw'))}")
    dollars = f", ${r['lm_dollars']:.4f}" if r.get("lm_dollars") else ""
    print(f"LM calls {r['lm_calls']} ({r['lm_calls_cached']} cached), tokens {r['lm_tokens']}"
          f"{dollars}, "
          f"wall {r['wall_s']:.1f} s" + (f"; budget stopped the search: {r['budget_exhausted']}"
                                        if r["budget_exhausted"] else ""))


def _cmd_run(a) -> None:
    from igtext.config import load_config
    from igtext.lm.registry import check_model_name
    from igtext.run import check_budget, execute, load_templates, prepare_run_dir
    from igtext.tasks import load_task

    cfg = load_config(a.config)
    prompts = _proposal_templates(a.proposal_prompt)
    cfg = cfg.with_overrides(**{
        "seed": a.seed, "search.strategy": a.search, "search.generations": a.generations,
        "budget.max_calls": a.max_calls, "budget.max_tokens": a.max_tokens, "model": a.model,
        "api.base_url": a.base_url,
        "proposer.templates": {**cfg.proposer.templates, **prompts} if prompts else None})
    task = load_task(a.task)
    load_templates(cfg)
    check_budget(task, cfg)
    check_model_name(cfg.model)
    from igtext.run import RunDir
    rd0 = RunDir(__import__("pathlib").Path(a.out))
    if rd0.root.exists() and any(rd0.root.iterdir()):
        prepare_run_dir(a.out, task, cfg)   # raises the clear "not empty" error
    lm = _load(cfg)
    rd = prepare_run_dir(a.out, task, cfg)
    _print_result(execute(rd, task, cfg, lm, a.cache_dir, progress=not a.quiet))


def _load(cfg):
    """The run's model; any failure to load or reach it is bad input (exit 2)."""
    from igtext.errors import InputError, ModelError
    from igtext.lm.registry import load_model
    try:
        lm = load_model(cfg.model, cfg.api)
    except ModelError as e:
        raise InputError(str(e), field="model") from None
    if not lm.supports_logprobs:
        raise InputError(f"{lm.name} gives no log-probabilities, and the search scores "
                         f"M_L(y|x,z) by likelihood", field="model")
    return lm


def _cmd_resume(a) -> None:
    from igtext.run import execute, read_run_dir

    rd, task, cfg = read_run_dir(a.rundir)
    cfg = cfg.with_overrides(**{"api.base_url": a.base_url})
    _print_result(execute(rd, task, cfg, _load(cfg), a.cache_dir, progress=not a.quiet))


def _cmd_label(a) -> None:
    import json

    from igtext.label import label_split
    from igtext.run import read_run_dir
    _, _, cfg = read_run_dir(a.rundir)
    cfg = cfg.with_overrides(**{"api.base_url": a.base_url})
    print(json.dumps(label_split(a.rundir, a.split, a.out, model=_load(cfg),
                                 cache_dir=a.cache_dir)))


def _cmd_show(a) -> None:
    from igtext.show import render, summarize
    render(summarize(a.rundir, a.top))


def main(argv: list[str] | None = None) -> int:
    from igtext.errors import IgtextError, InputError

    a = _parser().parse_args(argv)
    try:
        {"run": _cmd_run, "resume": _cmd_resume, "label": _cmd_label, "show": _cmd_show}[a.cmd](a)
    except InputError as e:
        print(f"igtext: error: {e}", file=sys.stderr)
        return 2
    except IgtextError as e:
        print(f"igtext: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("igtext: interrupted; `igtext resume` continues from the last checkpoint",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
