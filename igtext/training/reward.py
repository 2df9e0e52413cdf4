"""M_prior learned from comparisons: a Bradley-Terry reward model (Ziegler et al. 2019).

r(z) is a scalar head on the local LM, adapted with LoRA; training maximises
log sigmoid(r(winner) - r(loser)) over the comparisons (ties are skipped). r is on the
log-odds scale of "a person prefers z", which is what the search adds as M_prior.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

from igtext.errors import InputError
from igtext.training.lora import LoraSettings, data_hash, read_meta, save_meta
from igtext.training.lora import train as train_steps

KIND = "prior"


def load_scoring_model(base_dir: str | Path, num_labels: int = 1):
    """The local LM with a linear head of `num_labels` outputs on its last token (a reward
    model, or a classifier), and its tokenizer set up for right-padded batches."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from transformers.utils import logging as hf_logging
    tok = padded_tokenizer(base_dir)
    # The head is new by design (fitted, or loaded from the adapter next): transformers'
    # report that it is "MISSING" from the base model would only alarm the reader.
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            base_dir, num_labels=num_labels, dtype=torch.float32)
    finally:
        hf_logging.set_verbosity(level)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tok.pad_token_id
    return model, tok


def padded_tokenizer(base_dir: str | Path):
    """The base model's tokenizer, set up for right-padded batches (eos as pad if it has
    none)."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(base_dir)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "right"
    return tok


def _rewards(model, tok, texts: Sequence[str], max_length: int, batch: int = 16):
    import torch
    out = []
    for i in range(0, len(texts), batch):
        enc = tok(list(texts[i:i + batch]), return_tensors="pt", padding=True, truncation=True,
                  max_length=max_length)
        out.append(model(**enc).logits[:, 0])
    return torch.cat(out) if out else torch.zeros(0)


TRAIN_ACCURACY_PAIRS = 200     # training pairs the report's train accuracy reads (a sample)


def fit_prior(pairs: Sequence[tuple[str, str, str]], base_dir: str | Path, out: str | Path,
              settings: LoraSettings = LoraSettings(), heldout: Sequence[tuple[str, str, str]] = (),
              base_name: str = "", progress: bool = True,
              init: str | Path | None = None) -> dict:
    """Fit r(z) on (z_a, z_b, winner) triples; report held-out pairwise accuracy. The winner
    is "a", "b" (anything else is a tie, skipped), or the share of several people's votes
    that went to z_a (a float in [0, 1]: the Bradley-Terry loss with that soft target). With
    `init` (a fitted prior adapter), training continues from that adapter."""
    import torch
    from peft import get_peft_model

    train = [(a, b, w) if isinstance(w, float) else (a, b, 1.0) if w == "a" else (b, a, 1.0)
             for a, b, w in pairs if isinstance(w, float) or w in ("a", "b")]
    if not train:
        raise InputError("no comparison with a winner (ties only, or none): nothing to fit",
                         field="comparisons")
    if len(train) < 4:
        raise InputError(f"{len(train)} comparisons with a winner are too few to fit (need 4)",
                         field="comparisons")
    torch.manual_seed(settings.seed)
    model, tok = load_scoring_model(base_dir)
    if init is not None:
        from peft import PeftModel
        read_meta(init, KIND)
        model = PeftModel.from_pretrained(model, str(init), is_trainable=True)
    else:
        model = get_peft_model(model, settings.peft_config("SEQ_CLS",
                                                           model.config.num_hidden_layers,
                                                           ["score"]))

    def collate(chunk):               # firsts (the winners), then seconds; P(first preferred)
        enc = tok([a for a, _, _ in chunk] + [b for _, b, _ in chunk], return_tensors="pt",
                  padding=True, truncation=True, max_length=settings.max_length)
        return {**enc, "share": torch.tensor([p for _, _, p in chunk])}

    def bt_loss(model, batch):
        p = batch.pop("share")
        r = model(**batch).logits[:, 0]
        d = r[:len(p)] - r[len(p):]
        logsig = torch.nn.functional.logsigmoid
        return -(p * logsig(d) + (1 - p) * logsig(-d)).mean()
    losses = train_steps(model, train, settings, collate, "fit prior", progress, bt_loss)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)                # before the (slow) accuracy passes
    seen = pairs if len(pairs) <= TRAIN_ACCURACY_PAIRS else \
        random.Random(settings.seed).sample(list(pairs), TRAIN_ACCURACY_PAIRS)
    report = {"train_pairs": len(train), "final_loss": sum(losses[-5:]) / len(losses[-5:]),
              "train_accuracy": pairwise_accuracy(model, tok, seen, settings.max_length),
              "train_accuracy_pairs": len(seen)}
    if heldout:
        report["heldout_pairs"] = sum(w in ("a", "b") for _, _, w in heldout)
        report["heldout_accuracy"] = pairwise_accuracy(model, tok, heldout, settings.max_length)
    records = [{"z_a": a, "z_b": b, "winner": w} for a, b, w in pairs]
    save_meta(out, KIND, base_name or str(base_dir), settings, data_hash(records), report)
    return report


def _decided(w) -> str | None:
    """A comparison's winner: "a", "b", or None for a tie (a share of votes for a: its side
    of one half)."""
    if isinstance(w, float):
        return "a" if w > 0.5 else "b" if w < 0.5 else None
    return w if w in ("a", "b") else None


def pairwise_accuracy(model, tok, pairs, max_length: int) -> float | None:
    import torch
    decided = [(a, b, d) for a, b, w in pairs if (d := _decided(w))]
    if not decided:
        return None
    with torch.inference_mode():
        ra = _rewards(model, tok, [a for a, _, _ in decided], max_length)
        rb = _rewards(model, tok, [b for _, b, _ in decided], max_length)
    hits = [(x > y) == (w == "a") for x, y, (_, _, w) in zip(ra.tolist(), rb.tolist(), decided)]
    return sum(hits) / len(hits)


class RewardPrior:
    """M_prior(z) = weight * r(z) from a fitted adapter; same `score` as `Prior`."""

    def __init__(self, adapter: str | Path, base_dir: str | Path, weight: float = 1.0,
                 max_length: int = 256):
        import torch
        from peft import PeftModel

        self.meta = read_meta(adapter, KIND)
        model, self.tok = load_scoring_model(base_dir)
        self.model = PeftModel.from_pretrained(model, str(adapter)).eval()
        self.weight, self.max_length, self.torch = weight, max_length, torch
        self.adapter = str(adapter)

    def score(self, zs: Sequence[str]) -> list[tuple[float, dict[str, float]]]:
        with self.torch.inference_mode():
            r = _rewards(self.model, self.tok, list(zs), self.max_length).tolist()
        return [(self.weight * v, {"reward": v}) for v in r]
