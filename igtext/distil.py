"""Step 4: distil M_L_test, a cheap model that labels D' as a person following z* would.

The teacher labels D' with z*: the soft labels M_L(.|x', z*), or the label judgments people
(or a proxy) gave under z* where the run's judgment store has them. Two students, both
reading x' alone (no z in the prompt):

  logreg  logistic regression on frozen features of the local LM (the mean of its last
          hidden states over x'), fitted to the soft labels (each example once per label,
          weighted by the teacher's probability); seconds to fit.
  lora    the local LM with a classification head, LoRA-fine-tuned with cross-entropy on the
          soft labels (`igtext.training.classifier`); minutes to fit on CPU.
  tfidf   logistic regression on TF-IDF word and bigram features, fitted the same way as
          logreg: no LM at all when labelling, so thousands of examples a second on a CPU
          (it can only use words z*'s labels correlate with on D').

Part of D' is held out to report the student's agreement with the teacher, its accuracy
against gold labels where D' has them, and its speed against running M_L with z*.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from igtext.errors import InputError, RunDirError
from igtext.training.lora import data_hash

META = "igtext_distilled.json"


def features(model, tok, texts: Sequence[str], max_length: int = 256, batch: int = 16):
    """Mean-pooled last hidden states (frozen LM), one row per text."""
    import numpy as np
    import torch
    rows = []
    with torch.no_grad():
        for i in range(0, len(texts), batch):
            enc = tok(list(texts[i:i + batch]), return_tensors="pt", padding=True,
                      truncation=True, max_length=max_length)
            hidden = model.get_decoder()(input_ids=enc.input_ids,
                                         attention_mask=enc.attention_mask).last_hidden_state
            mask = enc.attention_mask.unsqueeze(-1).float()
            rows.append(((hidden * mask).sum(1) / mask.sum(1)).numpy())
    return np.concatenate(rows) if rows else np.zeros((0, 0))


STUDENTS = ("logreg", "lora", "tfidf")


def _load_lm(base_dir):
    import torch
    from transformers import AutoModelForCausalLM

    from igtext.training.reward import padded_tokenizer
    return (AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32).eval(),
            padded_tokenizer(base_dir))


@dataclass(frozen=True)
class Student:
    """M_L_test: frozen LM features + logistic regression."""
    labels: tuple[str, ...]
    classifier: object
    base_dir: str
    max_length: int = 256
    lm: tuple | None = None           # (model, tokenizer), loaded on first use if None

    def predict_proba(self, texts: Sequence[str]) -> list[dict[str, float]]:
        model, tok = self.lm or _load_lm(self.base_dir)
        probs = self.classifier.predict_proba(features(model, tok, texts, self.max_length))
        return _distributions(self.labels, self.classifier.classes_, probs)


@dataclass(frozen=True)
class TfidfStudent:
    """M_L_test without an LM: TF-IDF features + logistic regression."""
    labels: tuple[str, ...]
    vectorizer: object
    classifier: object

    def predict_proba(self, texts: Sequence[str]) -> list[dict[str, float]]:
        probs = self.classifier.predict_proba(self.vectorizer.transform(list(texts)))
        return _distributions(self.labels, self.classifier.classes_, probs)


def _distributions(labels, classes, probs) -> list[dict[str, float]]:
    cols = [labels[int(c)] for c in classes]
    return [{y: float(row[cols.index(y)]) if y in cols else 0.0 for y in labels}
            for row in probs]


def _soft_logreg(x_feats, soft: Sequence[Sequence[float]], k: int, c: float):
    """Logistic regression fitted to soft labels (one weighted row per example and label)."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression
    rows = np.repeat(np.arange(len(soft)), k)
    x = x_feats[rows] if sp.issparse(x_feats) else np.repeat(x_feats, k, axis=0)
    y = np.tile(np.arange(k), len(soft))
    w = np.asarray(soft, dtype=float).reshape(-1)
    keep = w > 1e-6
    if len(set(y[keep])) < 2:
        raise InputError("the teacher gives every example the same label: nothing to distil",
                         field="labels")
    return LogisticRegression(C=c, max_iter=2000).fit(x[keep], y[keep], sample_weight=w[keep])


def fit_student(x_feats, soft: Sequence[Sequence[float]], labels: Sequence[str],
                base_dir: str, c: float = 1.0) -> Student:
    """The logreg student: logistic regression on frozen LM features, fitted to soft labels."""
    return Student(tuple(labels), _soft_logreg(x_feats, soft, len(labels), c), str(base_dir))


def fit_tfidf_student(texts: Sequence[str], soft: Sequence[Sequence[float]],
                      labels: Sequence[str], c: float = 1.0) -> TfidfStudent:
    """The tfidf student: logistic regression on TF-IDF unigrams and bigrams."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(list(texts))
    return TfidfStudent(tuple(labels), vec,
                        _soft_logreg(vec.transform(list(texts)), soft, len(labels), c))


def judged_inputs(run_dir, z: str | None = None) -> dict[str, list[dict[str, float]]]:
    """Inputs with label judgments in the run's store (people's or a proxy's, collected by a
    step-3 loop or `igtext judge`), each with its answers as distributions over the labels
    (an answer alone counts as certain); `z`: only judgments under that z."""
    from igtext.judgments.store import JudgmentStore
    from igtext.rundir import RunDir
    path = RunDir(Path(run_dir)).judgments
    out: dict[str, list[dict[str, float]]] = {}
    if path.exists():
        for j in JudgmentStore(path).labels():
            if z is None or j.z == z:
                d = j.distribution or ({j.answer: 1.0} if j.answer else {})
                out.setdefault(j.x, []).append(dict(d))
    return out


def teacher(run_dir, examples, z: str, lik, calibrated: bool) -> tuple[list[list[float]], dict]:
    """Soft labels under z* for `examples`: stored judgments under z* where there are any
    for an input (their mean distribution), else M_L(.|x, z*)."""
    labels = list(lik.labels)
    stored: dict[str, list[list[float]]] = {}
    off = 0                                  # answers outside the label set: not used
    for x, ds in judged_inputs(run_dir, z).items():
        for d in ds:
            mass = sum(d.get(y, 0.0) for y in labels)
            if mass > 0:
                stored.setdefault(x, []).append([d.get(y, 0.0) / mass for y in labels])
            else:
                off += 1
    need = [e for e in examples if e.input not in stored]
    judged = dict(zip([e.id for e in need], lik.judge(z, need))) if need else {}
    out = []
    for e in examples:
        if e.input in stored:
            rows = stored[e.input]
            row = [sum(r[k] for r in rows) / len(rows) for k in range(len(labels))]
        else:
            j = judged[e.id]
            dist = j.calibrated if calibrated else j.raw
            row = [math.exp(dist[y]) for y in labels]
        total = sum(row)
        out.append([v / total for v in row])
    return out, {"from_judgments": len(examples) - len(need), "from_M_L": len(need),
                 "judgments_off_the_labels": off}


def fit_lora_student(examples, soft, labels, base_dir: str, settings=None, progress=False):
    """The LoRA classifier fitted to the soft labels (`STUDENTS`' lora)."""
    from igtext.training.classifier import SETTINGS, fit_classifier
    return fit_classifier(examples, labels, base_dir, settings or SETTINGS, progress,
                          targets=soft)


def distil(run_dir: str | os.PathLike, out: str | os.PathLike, heldout: float = 0.3,
           seed: int = 0, model=None, cache_dir=None, c: float = 1.0, student: str = "logreg",
           lora_settings=None, progress: bool = False) -> dict:
    """Label D' with z*, fit M_L_test (`student`: one of `STUDENTS`) on part of it, report on
    the rest; save to `out`."""
    import numpy as np

    from igtext.label import finished_run
    from igtext.lm.registry import base_model_dir
    if not 0 < heldout < 1:
        raise InputError(f"the held-out share must be between 0 and 1, not {heldout}",
                         field="heldout")
    run = finished_run(run_dir, "test", model, cache_dir)
    task, cfg, result, examples, lik = (run.task, run.config, run.result, run.examples,
                                        run.likelihood)
    if task.labels is None:
        raise RunDirError("distillation needs a classification task (a label set)",
                          field="labels")
    if student not in STUDENTS:
        raise InputError(f"unknown student {student!r} (one of {', '.join(STUDENTS)})",
                         field="student")
    if len(examples) < 4:
        raise RunDirError(f"D' has {len(examples)} examples; at least 4 are needed",
                          field="test")
    z = run.z_star
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_held = max(1, int(len(order) * heldout))
    held, train = sorted(order[:n_held]), sorted(order[n_held:])
    soft, source = teacher(run_dir, examples, z, lik, cfg.likelihood.calibrate)
    base_dir = str(base_model_dir(cfg.model))
    texts = [e.input for e in examples]
    t0 = time.perf_counter()
    if student == "logreg":
        lm_pair = _load_lm(base_dir)
        feats = features(*lm_pair, [texts[i] for i in train])
        fitted = replace(fit_student(feats, [soft[i] for i in train], task.labels, base_dir, c),
                         lm=lm_pair)
    elif student == "tfidf":
        fitted = fit_tfidf_student([texts[i] for i in train], [soft[i] for i in train],
                                   task.labels, c)
    else:
        fitted = fit_lora_student([examples[i] for i in train], [soft[i] for i in train],
                                  task.labels, base_dir, lora_settings, progress)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    probs = fitted.predict_proba([texts[i] for i in held])
    student_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fresh = lik.with_lm(run.backend)           # no cache: M_L's own speed
    alone = fresh.judge(z, [examples[i] for i in held])
    teacher_s = time.perf_counter() - t0
    labels = list(task.labels)
    pred = [max(p, key=p.get) for p in probs]
    teach = [labels[int(np.argmax(soft[i]))] for i in held]
    m_l = [j.predicted(cfg.likelihood.calibrate) for j in alone]
    report = {"run": str(run_dir), "z_star": result.best.id, "teacher": source,
              "student": student, "fit_s": round(fit_s, 1),
              "train": len(train), "heldout": len(held),
              "heldout_ids": [examples[i].id for i in held],
              "agreement_with_z_star": sum(p == t for p, t in zip(pred, teach)) / len(held),
              "teacher_soft_log_loss": -sum(
                  sum(q * math.log(max(p[y], 1e-12)) for q, y in zip(soft[i], labels))
                  for p, i in zip(probs, held)) / len(held),
              "student_examples_per_s": len(held) / student_s,
              "M_L_with_z_star_examples_per_s": len(held) / teacher_s,
              "speedup": teacher_s / student_s}
    if all(examples[i].label is not None for i in held):
        report |= gold_accuracies(
            {"student": pred, "teacher": teach, "M_L": m_l}, [examples[i] for i in held],
            set(judged_inputs(run_dir)))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if student in ("logreg", "tfidf"):
        with open(out / "student.pkl", "wb") as f:        # the LM is loaded again on use
            pickle.dump(replace(fitted, lm=None) if student == "logreg" else fitted, f)
    else:
        fitted.save(out / "lora")
    records = [{"x": e.input, "soft": s} for e, s in zip(examples, soft)]
    (out / META).write_text(json.dumps({"kind": "distilled", "student": student,
                                        "base_model": cfg.model, "base_dir": base_dir,
                                        "labels": labels, "data_sha256": data_hash(records),
                                        "report": report}, indent=2))
    return report


def gold_accuracies(predictions: dict[str, Sequence[str]], examples: Sequence,
                    judged: set[str]) -> dict:
    """`NAME_accuracy_gold` for each list of predictions, and `NAME_accuracy_gold_unjudged`
    on the examples whose input no one judged during the run (a step-3 loop has people label
    inputs of D', the held-out part included; there the teacher's labels are theirs)."""
    fresh = [n for n, e in enumerate(examples) if e.input not in judged]
    out: dict = {"heldout_unjudged": len(fresh)}
    for name, pred in predictions.items():
        out[f"{name}_accuracy_gold"] = (sum(p == e.label for p, e in zip(pred, examples))
                                        / len(examples))
        out[f"{name}_accuracy_gold_unjudged"] = (
            sum(pred[n] == examples[n].label for n in fresh) / len(fresh) if fresh else None)
    return out


def load_student(path: str | os.PathLike):
    """A saved M_L_test: anything with `predict_proba(texts) -> [{label: p}]`."""
    p = Path(path)
    if not (p / META).exists():
        raise InputError(f"not a distilled M_L_test ({META} missing)", file=str(p))
    meta = json.loads((p / META).read_text())
    if meta.get("student", "logreg") == "lora":
        from igtext.training.classifier import load_classifier
        return load_classifier(p / "lora", meta["base_dir"])
    with open(p / "student.pkl", "rb") as f:
        return pickle.load(f)
