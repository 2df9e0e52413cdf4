"""The local LM fine-tuned with LoRA as a classifier (x -> y, no z in the prompt).

Two uses: the usual baseline, trained on D's labels (it learns whatever separates the labels
in D, shortcuts included; comparing it with IG on D' is the point of the out-of-distribution
benchmark), and M_L_test, trained on soft labels that z* gives D' (step 4, `igtext.distil`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from igtext.config import LoraRecipes
from igtext.data import Example
from igtext.errors import InputError
from igtext.training.lora import LoraSettings
from igtext.training.lora import train as train_steps
from igtext.training.reward import load_scoring_model


@dataclass(frozen=True)
class LMClassifier:
    model: object
    tok: object
    labels: tuple[str, ...]
    max_length: int

    def logits(self, texts: Sequence[str], batch: int = 16):
        import torch
        out = []
        for i in range(0, len(texts), batch):
            enc = self.tok(list(texts[i:i + batch]), return_tensors="pt", padding=True,
                           truncation=True, max_length=self.max_length)
            out.append(self.model(**enc).logits)
        return torch.cat(out) if out else torch.zeros((0, len(self.labels)))

    def predict(self, texts: Sequence[str]) -> list[str]:
        import torch
        with torch.inference_mode():
            idx = self.logits(texts).argmax(-1).tolist()
        return [self.labels[i] for i in idx]

    def predict_proba(self, texts: Sequence[str]) -> list[dict[str, float]]:
        import torch
        with torch.inference_mode():
            probs = torch.softmax(self.logits(texts), -1).tolist()
        return [dict(zip(self.labels, row)) for row in probs]

    def save(self, path: str | Path) -> None:
        """The adapter and the head (peft's `modules_to_save`), and what loading needs."""
        self.model.save_pretrained(str(path))
        (Path(path) / CLASSIFIER_META).write_text(json.dumps(
            {"labels": list(self.labels), "max_length": self.max_length}))


CLASSIFIER_META = "igtext_classifier.json"
#: The settings of both uses unless the caller gives others: the `classifier` recipe of
#: `igtext.config.LoraRecipes` (rank 8 on the attention projections of every layer, 3 epochs
#: at lr 1e-3).
SETTINGS = LoraRecipes().classifier.settings()


def load_classifier(path: str | Path, base_dir: str | Path) -> LMClassifier:
    """A classifier saved with `LMClassifier.save`, on the base model in `base_dir`."""
    from peft import PeftModel
    meta_path = Path(path) / CLASSIFIER_META
    if not meta_path.exists():
        raise InputError(f"not a saved classifier ({CLASSIFIER_META} missing)", file=str(path))
    meta = json.loads(meta_path.read_text())
    model, tok = load_scoring_model(base_dir, num_labels=len(meta["labels"]))
    model = PeftModel.from_pretrained(model, str(path)).eval()
    return LMClassifier(model, tok, tuple(meta["labels"]), meta["max_length"])


def fit_classifier(examples: Sequence[Example], labels: Sequence[str], base_dir: str | Path,
                   settings: LoraSettings = SETTINGS,
                   progress: bool = False,
                   targets: Sequence[Sequence[float]] | None = None) -> LMClassifier:
    """LoRA (and the new head) trained with cross-entropy: on each example's label, or, with
    `targets` (one probability row over `labels` per example), on those soft labels."""
    import torch
    from peft import get_peft_model

    labels = tuple(labels)
    if targets is not None:
        if len(targets) != len(examples):
            raise InputError(f"{len(targets)} target rows for {len(examples)} examples",
                             field="targets")
        train = [(e, list(t)) for e, t in zip(examples, targets)]
        seen = {y for _, t in train for y, q in zip(labels, t) if q > 1e-6}
    else:
        train = [(e, [float(y == e.label) for y in labels]) for e in examples
                 if e.label in labels]
        seen = {e.label for e, _ in train}
    if len(seen) < 2:
        raise InputError("a classifier needs examples of at least two labels", field="labels")
    torch.manual_seed(settings.seed)
    model, tok = load_scoring_model(base_dir, num_labels=len(labels))
    model = get_peft_model(model, settings.peft_config("SEQ_CLS", model.config.num_hidden_layers,
                                                       ["score"]))
    clf = LMClassifier(model, tok, labels, settings.max_length)

    def collate(chunk):
        enc = tok([e.input for e, _ in chunk], return_tensors="pt", padding=True,
                  truncation=True, max_length=settings.max_length)
        return {**enc, "target": torch.tensor([t for _, t in chunk])}

    def loss(model, batch):
        batch = dict(batch)
        target = batch.pop("target")
        logp = torch.log_softmax(model(**batch).logits, -1)
        return -(target * logp).sum(-1).mean()
    train_steps(model, train, settings, collate, "fit classifier", progress, loss)
    model.eval()
    return clf
