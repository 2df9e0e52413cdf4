"""The learned person: the follower, one M_L adapter that labels x as a person following z
would, on any task; and the world prior, one Bradley-Terry adapter that prefers the z's
people prefer.

It is fitted once, on the label judgments of the simulated people of the training worlds
(`igtext.worlds.splits.train_worlds`: z's of every kind, thing, context, wrong, partial,
paraphrased, long and short rules, per-label descriptions; inputs from D and from D' of
every shift), and used unchanged on tasks it never saw. It must follow *z*, not the truth:
under a context rule it labels by context. The held-out domains never reach its data.

    igtext fit-follower --out ADAPTER [--n 6000] [--reading rules|whole] [--seed 0]
                        [--config RECIPE.yaml]
    igtext fit-follower --calibrate ADAPTER [--n 300]
    igtext fit-follower --prior --out ADAPTER [--n 2000]

By default the follower reads z rule by rule (`igtext.rulewise`): it learns from each rule
of those z's on its own, with one input and what the person says under that rule alone (a
label, or "none": the rule does not apply). `--reading whole` learns from whole z's in the
one-prompt M_L instead (`igtext.likelihood`); a run must read z as its adapter learned to.

A follower then gets its `Calibration` (`igtext.rulewise`): how much each rule's "none"
weighs and how strongly applicable rules speak, chosen to minimise the cross-entropy between
M_L and the simulated people of the *validation* worlds (never the held-out ones); a fit
does it at its end, and `igtext fit-follower --calibrate ADAPTER` does it again on its own.

The prior learns from the training worlds' people's comparisons (each winner drawn from the
person's Bradley-Terry preference) and reports its pairwise accuracy on the held-out
domains against the person's preferred z. Each adapter's `igtext_adapter.json` carries its
provenance: the command, the commit, the training domains, the sha256 of the training
data, the settings and the fit's report.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from igtext.training.likelihood_ft import fit_likelihood
from igtext.training.lora import LoraSettings, read_meta


def commit() -> str | None:
    """The git commit of this checkout, with "-dirty" if igtext's files differ from it
    (None for an installed package)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=10).stdout.strip()
    try:
        head = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", str(Path(__file__).parents[1])))
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("-dirty" if dirty else "")) if head else None


def fit_follower(out: str | Path, settings: LoraSettings, base_dir: str | Path,
                 base_name: str, n: int = 6000, seed: int = 0, progress: bool = True,
                 reading: str = "rules", calibrate_n: int = 300,
                 init: str | Path | None = None, cross_share: float = 0.0) -> dict:
    """Fit the follower on `n` label judgments of the training worlds (of single rules
    with `reading="rules"`, of whole z's with "whole"); save it in `out`; calibrate one
    that reads rule by rule on `calibrate_n` judgments of the validation worlds (0: not
    calibrated, for a fit that another continues). With
    `init` (a fitted follower), training continues from it. `cross_share`: the share of z's
    whose inputs are all worded unlike z (`imitation.label_data`)."""
    from igtext.prompts import load_template
    from igtext.worlds import splits
    from igtext.worlds.imitation import label_data, rule_data
    made_at = commit()
    worlds = splits.train_worlds()
    if reading == "rules":
        data = rule_data(worlds, n, seed, cross_share=cross_share)
        template = load_template("likelihood_rule")
    else:
        data = label_data(worlds, n, seed, cross_share=cross_share)
        template = load_template("likelihood")
    report = fit_likelihood(data, None, base_dir, out, settings, template=template,
                            base_name=base_name, progress=progress, init=init)
    _provenance(out, worlds, n, seed, made_at, init,
                {"cross_share": cross_share} if cross_share else {}, reading=reading)
    calibrated = (calibrate_follower(out, base_name, calibrate_n, seed, progress=progress)
                  if reading == "rules" and calibrate_n else {})
    return {**report, "domains": len(worlds), "reading": reading, "adapter": str(out),
            **({"calibration": calibrated} if calibrated else {})}


NONE_BIASES = tuple(i / 4 for i in range(0, 33))          # 0 .. 8
STRENGTHS = tuple(i / 4 for i in range(2, 49))            # 0.5 .. 12


def calibrate_follower(adapter: str | Path, base_name: str, n: int = 300, seed: int = 0,
                       cache=None, progress: bool = False) -> dict:
    """Choose the follower's `Calibration` on `n` label judgments of the validation worlds
    (z's of every kind, inputs z speaks about and inputs it does not): the grid point of
    NONE_BIASES x STRENGTHS with the least cross-entropy between the person's label
    distribution and M_L's. Writes it into the adapter's `igtext_adapter.json`; returns it
    with its cross-entropy, the bare reading's, and the agreement of both with the person."""
    import math

    from rich.console import Console
    from rich.progress import track

    from igtext import components
    from igtext.config import RunConfig
    from igtext.data import Task
    from igtext.errors import InputError
    from igtext.rulewise import Calibration, split_rules
    from igtext.worlds import splits
    from igtext.worlds.imitation import label_data
    if components.fitted_reading(adapter) != "rules":
        raise InputError("only a follower that reads z rule by rule has a calibration; this "
                         "adapter reads z whole", file=str(adapter), field="--calibrate")
    worlds = splits.validation_worlds()
    data = label_data(worlds, n, seed)
    config = RunConfig(model=base_name, likelihood={"reading": "rules"})
    lm = components.metered(components.load_backend(config), cache)
    follower = components.likelihood(lm, config, Task("calibration", (), (), ("a", "b")),
                                     adapter=adapter)
    read = []                       # (rule answers, labels, none, the person's distribution)
    for r in track(data, description="calibrating on the validation worlds",
                   disable=not progress, console=Console(stderr=True)):
        one = follower.with_labels(r.labels)
        answers = [a[0] for a in one.rule_answers(split_rules(r.z, r.labels), [r.x])]
        read.append((answers, r.labels, one.none, r.distribution))

    def cross_entropy(c: Calibration) -> float:
        return sum(-sum(p * c.combine(a, labels, none)[y] for y, p in person.items() if p > 0)
                   for a, labels, none, person in read) / len(read)

    def agreement(c: Calibration) -> float:
        sure = [(c.combine(a, labels, none), person) for a, labels, none, person in read
                if len(set(person.values())) > 1]
        return sum(max(m, key=m.get) == max(person, key=person.get)
                   for m, person in sure) / max(1, len(sure))
    bare = Calibration()
    best = min((Calibration(b, s) for b in NONE_BIASES for s in STRENGTHS), key=cross_entropy)
    report = {"none_bias": best.none_bias, "strength": best.strength,
              "cross_entropy": round(cross_entropy(best), 4),
              "bare_cross_entropy": round(cross_entropy(bare), 4),
              "agreement": round(agreement(best), 4), "bare_agreement": round(agreement(bare), 4),
              "judgments": len(read), "domains": [w.domain for w in worlds], "seed": seed,
              "commit": commit(),
              "uniform_cross_entropy": round(sum(math.log(len(r.labels)) for r in data)
                                             / len(data), 4)}
    meta_path = Path(adapter) / "igtext_adapter.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()),
                                     "calibration": report}, indent=2))
    return report


def fit_world_prior(out: str | Path, settings: LoraSettings, base_dir: str | Path,
                    base_name: str, n: int = 2000, seed: int = 0, heldout: int = 400,
                    progress: bool = True, init: str | Path | None = None,
                    votes: int = 1) -> dict:
    """Fit the prior on `n` comparisons of the training worlds' people, each judged by
    `votes` people (more than one: the share of them preferring z_a is the soft target);
    report pairwise accuracy on `heldout` comparisons of the held-out domains (the person's
    preferred z as the truth). With `init` (a fitted prior), training continues from it."""
    import random

    from igtext.training.reward import fit_prior
    from igtext.worlds import splits
    from igtext.worlds.imitation import comparison_data
    made_at = commit()
    rng = random.Random(f"world-prior:{seed}")
    worlds = splits.train_worlds()

    def vote(p_a: float):              # one person's winner, or the share of `votes` for a
        if votes == 1:
            return "a" if rng.random() < p_a else "b"
        return sum(rng.random() < p_a for _ in range(votes)) / votes
    train = [(c.z_a, c.z_b, vote(c.p_a)) for c in comparison_data(worlds, n, seed)]
    held = [(c.z_a, c.z_b, "a" if c.p_a > 0.5 else "b")
            for c in comparison_data(splits.held_out_worlds(), heldout, seed + 1)
            if c.p_a != 0.5]
    report = fit_prior(train, base_dir, out, settings, heldout=held, base_name=base_name,
                       progress=progress, init=init)
    _provenance(out, worlds, n, seed, made_at, init, {"votes": votes} if votes > 1 else {})
    return {**report, "domains": len(worlds), "heldout_domains": len(splits.held_out_worlds()),
            "adapter": str(out)}


def _provenance(out: str | Path, worlds, n: int, seed: int, made_at: str | None,
                init: str | Path | None = None, drawn: dict | None = None, **extra) -> None:
    """Add how the adapter was made (`made_at`: the commit when the fit began; `init`: the
    adapter it continued, whose own provenance is kept as `continued`; `drawn`: settings
    of the data draw beside `n` and `seed`) to its `igtext_adapter.json`, and `extra` keys
    (the follower's `reading`) beside it."""
    meta_path = Path(out) / "igtext_adapter.json"
    meta = {**json.loads(meta_path.read_text()), **extra}
    meta["provenance"] = {"command": " ".join(["igtext"] + sys.argv[1:]), "commit": made_at,
                          "domains": [w.domain for w in worlds], "n": n, "seed": seed,
                          **(drawn or {})}
    if init is not None:
        before = read_meta(init, meta["kind"])
        meta["provenance"]["continued"] = {k: before.get(k) for k in
                                           ("provenance", "data_sha256", "settings", "report")}
    meta_path.write_text(json.dumps(meta, indent=2))
