"""M_L fine-tuned on label judgments: learn to answer as a person following z would.

Each judgment (z, x, answer) becomes the M_L prompt of z and x (`igtext/templates/likelihood.j2`).
For a closed label set the loss is the cross-entropy between the person's answer
distribution (or their one answer) and M_L's distribution over the label set, each label's
log-probability summed over all its tokens: exactly the quantity M_L is scored with in
search (`Likelihood.judge`, raw). Judgments under one z share the z part of the prompt, so
training runs that prefix once per group of GROUP inputs. Open-ended tasks train on the
answer tokens. To learn to *follow z* rather
than the task, the judgments should come from many different z's (right, wrong, partial and
background rules); the held-out report uses z's (and inputs) the fit never saw.
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from igtext.config import LoraRecipes
from igtext.errors import InputError
from igtext.likelihood import Likelihood
from igtext.prompts import Template, load_template
from igtext.training.lora import (LoraSettings, adapter_hash, data_hash, pad_answers, read_meta,
                                  save_meta)
from igtext.training.lora import train as train_steps

KIND = "likelihood"
GROUP = 4          # judgments under one z that share one run of the z prefix in training
#: The `likelihood` recipe of `igtext.config.LoraRecipes`, the default of `fit-likelihood`.
RECIPE = LoraRecipes().likelihood.settings()


def _target(j) -> str | None:
    if j.answer:
        return j.answer
    if j.distribution:
        return max(j.distribution, key=j.distribution.get)
    return None


def fit_likelihood(judgments: Sequence, labels: Sequence[str] | None, base_dir: str | Path,
                   out: str | Path, settings: LoraSettings = RECIPE,
                   heldout: Sequence | dict = (), template: Template | None = None,
                   base_name: str = "", progress: bool = True,
                   init: str | Path | None = None) -> dict:
    """Fit LoRA on (z, x -> answer) judgments; report held-out log-loss, accuracy and ECE
    for the fitted and the zero-shot M_L (`heldout`: one list, or several by name).
    `labels`: the task's label set; judgments of many tasks (the follower's) carry their own
    as `j.labels` instead. With `init` (a fitted M_L adapter), training continues from that
    adapter (its rank and modules) instead of a fresh one."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    template = template or load_template("likelihood")
    kept = [j for j in judgments if _target(j)]
    sets = [tuple(getattr(j, "labels", None) or labels or ()) or None for j in kept]
    items = [(j.z, j.x, _target(j)) for j in kept]
    dists = [_soft_target(j, ls) for j, ls in zip(kept, sets)]
    if len(items) < 4:
        raise InputError(f"{len(items)} label judgments are too few to fit (need 4)",
                         field="labels")
    torch.manual_seed(settings.seed)
    tok = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    lik = Likelihood(None, template, labels)          # only its prompt format is used here
    seqs = []
    for (z, x, y), ls in zip(items, sets):
        ctx = tok(lik.with_labels(ls).prompt(z, x), add_special_tokens=True).input_ids
        ans = tok(lik.continuation(y), add_special_tokens=False).input_ids
        ctx = ctx[-(settings.max_length - len(ans)):]
        seqs.append((ctx, ans))
    conts = {ls: [tok(lik.continuation(y), add_special_tokens=False).input_ids for y in ls]
             for ls in set(sets) if ls}
    label_set = (all(sets) and all(all(c) for c in conts.values())
                 and all(d is not None for d in dists))
    if init is not None:
        from peft import PeftModel
        read_meta(init, KIND)
        model = PeftModel.from_pretrained(model, str(init), is_trainable=True)
    else:
        model = get_peft_model(model, settings.peft_config("CAUSAL_LM",
                                                           model.config.num_hidden_layers))
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0

    if label_set:
        # Judgments under one z share the z part of the prompt: that prefix runs once per
        # group of up to GROUP inputs, and the batch counts judgments, not groups.
        units = _groups([(z, ls) for (z, _x, _y), ls in zip(items, sets)], GROUP)
        per_step = replace(settings, batch_size=max(1, math.ceil(settings.batch_size / GROUP)))

        def collate(chunk):
            return {"units": [([seqs[k][0] for k in units[u]],
                               torch.tensor([dists[k] for k in units[u]]),
                               conts[sets[units[u][0]]]) for u in chunk]}

        def loss_fn(model, batch):
            total, n = 0.0, 0
            for contexts, target, unit_conts in batch["units"]:
                scores = _group_label_logprobs(model, contexts, unit_conts, pad)
                total = total - (target * torch.log_softmax(scores, dim=-1)).sum()
                n += len(contexts)
            return total / n
        losses = train_steps(model, list(range(len(units))), per_step, collate,
                             "fit likelihood", progress, loss_fn)
    else:
        losses = train_steps(model, list(range(len(seqs))), settings,
                             lambda chunk: pad_answers([seqs[k] for k in chunk], pad),
                             "fit likelihood", progress)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    report = {"train_judgments": len(items), "final_loss": sum(losses[-5:]) / len(losses[-5:]),
              "loss": "label-set cross-entropy" if label_set else "answer tokens"}
    if init is not None:
        report["init_adapter"] = adapter_hash(init)
    if heldout and labels:
        from igtext.lm.hf import TransformersLM
        merged = model.merge_and_unload()
        tuned = TransformersLM(merged, tok, name="tuned")
        base = TransformersLM(AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32),
                              tok, name="base")
        sets = heldout if isinstance(heldout, dict) else {"heldout": heldout}
        for name, items_ in sets.items():
            report[name] = {"fitted": evaluate(tuned, items_, labels, template),
                            "zero_shot": evaluate(base, items_, labels, template)}
    records = [{"z": z, "x": x, "y": y} for z, x, y in items]
    save_meta(out, KIND, base_name or str(base_dir), settings, data_hash(records), report)
    return report


def _soft_target(j, labels) -> list[float] | None:
    """The person's distribution over `labels` (one-hot for a single answer)."""
    if not labels:
        return None
    if j.distribution:
        total = sum(j.distribution.get(y, 0.0) for y in labels)
        return [j.distribution.get(y, 0.0) / total for y in labels] if total else None
    return [1.0 if y == j.answer else 0.0 for y in labels] if j.answer in labels else None


def _groups(keys: list, size: int) -> list[list[int]]:
    """Indices of `keys` grouped by key (a z and its label set; first seen first), in chunks
    of at most `size`."""
    by_z: dict = {}
    for k, key in enumerate(keys):
        by_z.setdefault(key, []).append(k)
    return [ks[i:i + size] for ks in by_z.values() for i in range(0, len(ks), size)]


def _group_label_logprobs(model, contexts: list[list[int]], conts: list[list[int]], pad):
    """log M_L(label | context) for every label (summed over the label's tokens, as M_L is
    scored in search) for contexts that share a prefix (one z), by the scoring backend's
    `packed_logprobs`: the shared prefix runs once with a cache, and each context's rest runs
    as one row after it with every label's tokens packed behind it. Equal to a plain forward
    per (context, label); `model` is the peft model being trained."""
    import torch

    from igtext.lm.hf import attention_limits, packed_logprobs, run_prefix, shared_prefix_length
    base = model.get_base_model()
    window, _ = attention_limits(base)
    shared = shared_prefix_length(contexts, 8, window) if len(contexts) > 1 else 0
    cache = run_prefix(base, contexts[0][:shared]) if shared else None
    rows = packed_logprobs(base, [(c[shared:], conts) for c in contexts], shared, cache, pad)
    return torch.stack([torch.stack([t.sum() for t in row]) for row in rows])


def evaluate(lm, judgments: Sequence, labels: Sequence[str], template: Template) -> dict:
    """Log-loss and accuracy of M_L against the answers people gave, and calibration (ECE)."""
    lik = Likelihood(lm, template, labels)
    by_z: dict[str, list] = {}
    for j in judgments:
        if _target(j) in labels:
            by_z.setdefault(j.z, []).append(j)
    losses, hits, conf = [], [], []
    from igtext.data import Example
    for z, js in by_z.items():
        exs = [Example(str(i), j.x, _target(j)) for i, j in enumerate(js)]
        for e, jd in zip(exs, lik.judge(z, exs)):
            losses.append(-jd.raw[e.label])
            pred = jd.predicted(False)
            hits.append(pred == e.label)
            conf.append(math.exp(jd.raw[pred]))
    return {"n": len(losses), "log_loss": sum(losses) / len(losses),
            "accuracy": sum(hits) / len(hits), "ece": _ece(conf, hits)}


def _ece(conf: list[float], hits: list[bool], bins: int = 10) -> float:
    total, n = 0.0, len(conf)
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(conf) if lo < c <= hi or (b == 0 and c == 0)]
        if idx:
            acc = sum(hits[i] for i in idx) / len(idx)
            avg = sum(conf[i] for i in idx) / len(idx)
            total += len(idx) / n * abs(acc - avg)
    return total


def load_tuned_lm(adapter: str | Path, base_dir: str | Path, base_name: str):
    """A `TransformersLM` with the fitted M_L merged in; its name carries the adapter's hash."""
    from igtext.training.adapters import load_adapter_lm
    return load_adapter_lm(adapter, KIND, base_dir, base_name)
