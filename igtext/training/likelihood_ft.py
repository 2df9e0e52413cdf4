"""M_L fine-tuned on label judgments: learn to answer as a person following z would.

Each judgment (z, x, answer) becomes the M_L prompt of z and x (`prompts/likelihood.j2`).
When the labels start with distinct tokens (as most label sets do), the loss is the
cross-entropy between the person's answer distribution (or their one answer) and M_L's
distribution over the label set at the answer position, the quantity M_L is scored on;
otherwise LoRA is trained on the answer tokens. To learn to *follow z* rather
than the task, the judgments should come from many different z's (right, wrong, partial and
background rules); the held-out report uses z's (and inputs) the fit never saw.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from igtext.errors import InputError
from igtext.likelihood import Likelihood
from igtext.prompts import Template, load_template
from igtext.training.lora import LoraSettings, adapter_hash, data_hash, read_meta, save_meta
from igtext.training.lora import train as train_steps

KIND = "likelihood"


def _target(j) -> str | None:
    if j.answer:
        return j.answer
    if j.distribution:
        return max(j.distribution, key=j.distribution.get)
    return None


def fit_likelihood(judgments: Sequence, labels: Sequence[str] | None, base_dir: str | Path,
                   out: str | Path, settings: LoraSettings = LoraSettings(),
                   heldout: Sequence | dict = (), template: Template | None = None,
                   base_name: str = "", progress: bool = True) -> dict:
    """Fit LoRA on (z, x -> answer) judgments; report held-out log-loss, accuracy and ECE
    for the fitted and the zero-shot M_L (`heldout`: one list, or several by name)."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    template = template or load_template("likelihood")
    items = [(j.z, j.x, _target(j)) for j in judgments if _target(j)]
    dists = [_soft_target(j, labels) for j in judgments if _target(j)]
    if len(items) < 4:
        raise InputError(f"{len(items)} label judgments are too few to fit (need 4)",
                         field="labels")
    torch.manual_seed(settings.seed)
    tok = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    lik = Likelihood(None, template, labels)          # only its prompt format is used here
    seqs = []
    for z, x, y in items:
        ctx = tok(lik.prompt(z, x), add_special_tokens=True).input_ids
        ans = tok(lik.continuation(y), add_special_tokens=False).input_ids
        ctx = ctx[-(settings.max_length - len(ans)):]
        seqs.append((ctx, ans))
    first = [tok(lik.continuation(y), add_special_tokens=False).input_ids[0]
             for y in labels] if labels else []
    label_set = bool(first) and len(set(first)) == len(first) and all(dists)
    n_layers = model.config.num_hidden_layers
    model = get_peft_model(model, settings.peft_config("CAUSAL_LM", n_layers))
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0

    def loss_fn(batch):
        chunk = [seqs[k] for k in batch]
        if label_set:
            target = torch.tensor([dists[k] for k in batch])
            return _label_set_loss(model, chunk, first, target, pad)
        return _answer_loss(model, chunk, pad)
    losses = train_steps(model, list(range(len(seqs))), settings, loss_fn, "fit likelihood",
                         progress)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    report = {"train_judgments": len(items), "final_loss": sum(losses[-5:]) / len(losses[-5:]),
              "loss": "label-set cross-entropy" if label_set else "answer tokens"}
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


def _label_set_loss(model, chunk, first_ids, target, pad):
    """Cross-entropy of M_L's label distribution (first tokens) against the person's."""
    import torch
    width = max(len(c) for c, _ in chunk)
    ids = torch.full((len(chunk), width), pad)
    att = torch.zeros((len(chunk), width), dtype=torch.long)
    for b, (c, _) in enumerate(chunk):
        ids[b, :len(c)] = torch.tensor(c)
        att[b, :len(c)] = 1
    base = model.get_base_model()
    hidden = base.get_decoder()(input_ids=ids, attention_mask=att).last_hidden_state
    last = hidden[torch.arange(len(chunk)), torch.tensor([len(c) - 1 for c, _ in chunk])]
    logits = base.get_output_embeddings()(last)[:, first_ids]
    return -(target * torch.log_softmax(logits, dim=-1)).sum(-1).mean()


def _answer_loss(model, chunk, pad):
    """Next-token loss on the answer tokens."""
    import torch
    width = max(len(c) + len(a) for c, a in chunk)
    ids = torch.full((len(chunk), width), pad)
    tgt = torch.full((len(chunk), width), -100)
    att = torch.zeros((len(chunk), width), dtype=torch.long)
    for b, (c, a) in enumerate(chunk):
        seq = c + a
        ids[b, :len(seq)] = torch.tensor(seq)
        att[b, :len(seq)] = 1
        tgt[b, len(c):len(seq)] = torch.tensor(a)
    return model(input_ids=ids, attention_mask=att, labels=tgt).loss


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
    """A `TransformersLM` with the adapter merged in; its name carries the adapter's hash."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from igtext.lm.hf import TransformersLM

    meta = read_meta(adapter, KIND)
    if meta["base_model"] != base_name:
        raise InputError(f"adapter was fitted on {meta['base_model']!r}, not {base_name!r}",
                         file=str(adapter))
    tok = AutoTokenizer.from_pretrained(base_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    return TransformersLM(model, tok, name=f"{base_name}+lora:{adapter_hash(adapter)}")
