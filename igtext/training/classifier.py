"""The usual baseline: the local LM fine-tuned with LoRA as a classifier on D (x -> y, no z).
It learns whatever separates the labels in D, shortcuts included; comparing it with IG on
D' is the point of the out-of-distribution benchmark."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

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


def fit_classifier(examples: Sequence[Example], labels: Sequence[str], base_dir: str | Path,
                   settings: LoraSettings = LoraSettings(epochs=3, lr=1e-3),
                   progress: bool = False) -> LMClassifier:
    """LoRA (and the new head) trained with cross-entropy on D."""
    import torch
    from peft import get_peft_model

    labels = tuple(labels)
    train = [e for e in examples if e.label in labels]
    if len({e.label for e in train}) < 2:
        raise InputError("a classifier needs examples of at least two labels", field="labels")
    torch.manual_seed(settings.seed)
    model, tok = load_scoring_model(base_dir, num_labels=len(labels))
    model = get_peft_model(model, settings.peft_config("SEQ_CLS", model.config.num_hidden_layers,
                                                       ["score"]))
    clf = LMClassifier(model, tok, labels, settings.max_length)

    def loss(batch):
        target = torch.tensor([labels.index(e.label) for e in batch])
        return torch.nn.functional.cross_entropy(clf.logits([e.input for e in batch]), target)
    train_steps(model, train, settings, loss, "fit classifier", progress)
    return clf
