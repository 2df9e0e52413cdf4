"""The plain classifier beside every run: TF-IDF features and logistic regression trained
on D, with no z. It shows what D alone teaches a classifier, and so what IG's z* adds on
D' (on a shift that moves D's shortcuts, it falls to chance or below)."""
from __future__ import annotations

from typing import Callable, Sequence

from igtext.data import Example, Task


def tfidf_classifier(train: Sequence[Example]) -> Callable[[list[str]], list[str]]:
    """`predict(texts) -> labels` of TF-IDF + logistic regression fitted on `train`."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    clf = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=2000))
    clf.fit([e.input for e in train], [e.label for e in train])
    return lambda texts: list(clf.predict(texts))


def tfidf_classifier_on(task: Task) -> tuple[dict[str, float], list[str]] | None:
    """The baseline fitted on `task`'s D: its accuracy on D ("train") and on a labelled D'
    ("test"), and its label for each input of D'. None for an open-ended task, D with fewer
    than two labels, or scikit-learn not installed."""
    train = [e for e in task.train if e.label is not None]
    if not task.labels or len({e.label for e in train}) < 2:
        return None
    try:
        predict = tfidf_classifier(train)
    except ImportError:
        return None
    preds = predict([e.input for e in task.test]) if task.test else []
    acc = {"train": sum(p == e.label for p, e in
                        zip(predict([e.input for e in train]), train)) / len(train)}
    scored = [(p, e.label) for p, e in zip(preds, task.test) if e.label is not None]
    if scored:
        acc["test"] = sum(p == g for p, g in scored) / len(scored)
    return acc, preds


def tfidf_test_accuracy(task: Task) -> float | None:
    """The baseline's accuracy on a labelled D' (None where there is none)."""
    got = tfidf_classifier_on(task)
    return got[0].get("test") if got else None
